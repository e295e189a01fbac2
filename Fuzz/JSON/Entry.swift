import JSONCore

/// libFuzzer entry: any bytes through the strict JSON parser (with and without locations) and, for what
/// parses, the writer; a parsed value must survive a write and parse round trip unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    _ = try? JSONParser.parseWithLocations(bytes)
    let written = value.serializedBytes()
    guard let again = try? JSONParser.parse(written) else { fatalError("the writer's output does not parse") }
    guard again == value else { fatalError("a write and parse round trip changed the value") }
    _ = value.serializedBytes(sortedKeys: true)
    return 0
}
