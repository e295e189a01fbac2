import JSONCore

@testable import MCP

/// libFuzzer entry: each input line through the JSON-RPC message decoder, as the server reads it. A
/// decoded request or an error answer must encode back to one line of valid JSON.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
        let encoded: [UInt8]
        switch MessageDecoding.decode(Array(line)) {
        case .failure(let failure):
            encoded = MessageEncoding.error(id: failure.id, error: failure.error)
        case .success(.request(let id, let method, let params)):
            encoded = MessageEncoding.request(id: id, method: method, params: params)
        case .success(.notification(let method, let params)):
            encoded = MessageEncoding.notification(method: method, params: params)
        case .success(.response(let id, let result)):
            switch result {
            case .success(let value): encoded = MessageEncoding.response(id: id, result: value)
            case .failure(let error): encoded = MessageEncoding.error(id: id, error: error)
            }
        }
        guard !encoded.contains(0x0A), (try? JSONParser.parse(encoded)) != nil else {
            fatalError("an encoded message is not one line of JSON")
        }
    }
    return 0
}
