import Ledger

/// libFuzzer entry: a `limits.json` through the strict parser; every problem must name a place.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        _ = try LimitsConfiguration.parse(bytes, file: "limits.json")
    } catch {
        if error.problems.isEmpty { fatalError("a refusal without a problem") }
    }
    return 0
}
