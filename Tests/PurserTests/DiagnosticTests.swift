import Foundation
import JSONCore
import Purser
import Testing

@Suite("Diagnostics from admin files (issue 16)")
struct DiagnosticTests {
    @Test("control characters in the message or file name never split a diagnostic into lines")
    func escapesControls() {
        let forged = "bad\r\npolicies/p.cedar:1:1: error: forged\u{2028}x\u{7}"
        let diagnostic = Diagnostic(
            file: "tools/a\nb.json", location: SourceLocation(line: 3, column: 4), message: forged)
        let text = diagnostic.description
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x2028 })
        #expect(text == #"tools/a\nb.json:3:4: error: bad\r\npolicies/p.cedar:1:1: error: forged\u{2028}x\u{7}"#)
        #expect(Diagnostic.escaped("plain text: ünïcode") == "plain text: ünïcode")
    }

    @Test("a tool manifest key with CR/LF is reported on one line")
    func manifestKey() {
        let text =
            "{\"name\": \"t\", \"description\": \"d\", \"inputSchema\": {\"type\": \"object\"},\n"
            + " \"upstream\": {\"url\": \"http://a.test/x\"}, \"evil\\r\\nx.json:1:1: error: forged\": 1}"
        let (_, problems) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "t.json")
        let printed = problems.map(\.description)
        #expect(!printed.isEmpty)
        for line in printed { #expect(!line.contains("\n") && !line.contains("\r")) }
    }

    private func entitiesProblem(_ json: String) throws -> Diagnostic {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-ent-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "permit (principal, action, resource);".write(
            to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        try json.write(to: directory.appendingPathComponent("entities.json"), atomically: true, encoding: .utf8)
        do {
            _ = try PolicyFiles.load(directory: directory.path)
        } catch {
            return error.diagnostic
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    @Test("an entities.json problem is reported where it is, not at 1:1")
    func entitiesLocation() throws {
        let badParent = """
            [
              {"uid": {"type": "User", "id": "a"}, "attrs": {}, "parents": []},
              {"uid": {"type": "User", "id": "b"}, "attrs": {},
               "parents": [{"type": "not a type!", "id": "g"}]}
            ]
            """
        let parent = try entitiesProblem(badParent)
        #expect(parent.location == SourceLocation(line: 4, column: 16))
        let duplicate = """
            [
              {"uid": {"type": "User", "id": "a"}, "attrs": {}, "parents": []},

                {"uid": {"type": "User", "id": "a"}, "attrs": {}, "parents": []}
            ]
            """
        let repeated = try entitiesProblem(duplicate)
        #expect(repeated.message.contains("duplicate"))
        #expect(repeated.location == SourceLocation(line: 4, column: 5))
        let attribute = """
            [{"uid": {"type": "User", "id": "a"}, "parents": [],
              "attrs": {"ok": 1, "bad": null}}]
            """
        #expect(try entitiesProblem(attribute).location == SourceLocation(line: 2, column: 29))
        let syntax = "[\n  {\"uid\": }\n]"
        #expect(try entitiesProblem(syntax).location.line == 2)
    }
}
