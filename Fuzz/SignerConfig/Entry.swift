import X402

/// libFuzzer entry: a `signer.json` through the strict parser; what parses must round-trip.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let configuration = try? SignerConfiguration.parse(bytes) else { return 0 }
    guard (try? SignerConfiguration.parse(configuration.fileContent)) == configuration else {
        fatalError("signer.json does not round-trip")
    }
    return 0
}
