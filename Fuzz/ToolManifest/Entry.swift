import JSONCore
import Purser

/// libFuzzer entry: a `tools/<name>.json` file through the manifest loader (which compiles the schema
/// subset and the URL template). For a manifest that loads, its input schema validates the file itself
/// and each of its members, and its output schema (if any) validates the file: no crash, no hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let (manifest, problems) = ToolManifestLoader.load(bytes: bytes, file: "fuzz.json")
    for problem in problems where problem.description.contains("\n") {
        fatalError("a diagnostic spans lines")
    }
    guard let manifest, let document = try? JSONParser.parse(bytes) else { return 0 }
    _ = manifest.inputSchema.validate(document)
    for (_, member) in document.objectValue ?? JSONObject() { _ = manifest.inputSchema.validate(member) }
    _ = manifest.outputSchema?.validate(document)
    _ = manifest.toolDescription
    return 0
}
