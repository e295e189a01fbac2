import Foundation
import JSONCore
import Purser

/// libFuzzer entry: the first line is a URL template, the rest a JSON object of arguments. A template that
/// parses must never expand to another origin, or to a path with an empty or dot segment where an argument
/// was placed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let newline = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
    let templateText = String(decoding: bytes[..<newline], as: UTF8.self)
    guard case .success(let template) = URLTemplate.parse(templateText) else { return 0 }
    let rest = newline < bytes.endIndex ? Array(bytes[(newline + 1)...]) : []
    var arguments = JSONObject()
    if let object = (try? JSONParser.parse(rest))?.objectValue {
        arguments = object
    } else {
        // Not JSON: every placeholder gets the raw text, so the fuzzer can try any value.
        for name in template.placeholders { arguments[name] = .string(String(decoding: rest, as: UTF8.self)) }
    }
    let query = arguments.keys.prefix(3).map { (parameter: $0, argument: $0) }
    guard case .success(let url) = template.expand(arguments: arguments, query: query) else { return 0 }
    guard template.isSameOrigin(url) else { fatalError("an argument changed the origin: \(url)") }
    if url.absoluteString.contains("#") { fatalError("an argument added a fragment") }
    return 0
}
