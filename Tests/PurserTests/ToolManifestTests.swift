import Foundation
import JSONCore
import Purser
import Testing

@Suite("JSON Schema subset")
struct JSONSchemaTests {
    private func schema(_ text: String) throws -> JSONSchema {
        try JSONSchema.compile(try JSONParser.parse(text)).get()
    }

    @Test(
        "violations are found, with the path",
        arguments: [
            (#"{"a": "x"}"#, "/a", "must be of type integer"),
            (#"{"a": 0}"#, "/a", "at least 1"),
            (#"{"a": 11}"#, "/a", "at most 10"),
            (#"{"a": 5, "b": "toolong"}"#, "/b", "at most 3 character(s)"),
            (#"{"a": 5, "c": "z"}"#, "/c", "must be one of"),
            (#"{"a": 5, "d": [1, "x"]}"#, "/d/1", "must be of type integer"),
            (#"{"a": 5, "e": 1}"#, "/e", "not a known argument"),
            (#"{"b": "ab"}"#, "/a", "is required"),
            (#"{"a": 5, "p": "AB1"}"#, "/p", "must match the pattern"),
            (#"{"a": 1.5}"#, "/a", "must be of type integer"),
        ])
    func violations(instance: String, pointer: String, fragment: String) throws {
        let compiled = try schema(
            #"""
            {"type":"object","properties":{"a":{"type":"integer","minimum":1,"maximum":10},
             "b":{"type":"string","maxLength":3},"c":{"enum":["x","y"]},"d":{"type":"array","items":{"type":"integer"}},
             "p":{"type":"string","pattern":"^[a-z]+$"}},
             "required":["a"],"additionalProperties":false}
            """#)
        let problems = compiled.validate(try JSONParser.parse(instance))
        #expect(problems.count == 1)
        #expect(problems.first?.pointer == pointer)
        #expect(problems.first?.message.contains(fragment) == true)
    }

    @Test("exact bounds: 2 == 2.0, and integers beyond Double precision compare exactly")
    func exactBounds() throws {
        let compiled = try schema(#"{"type":"object","properties":{"n":{"type":"number","maximum":9007199254740993}}}"#)
        #expect(compiled.validate(try JSONParser.parse(#"{"n": 9007199254740993}"#)).isEmpty)
        #expect(compiled.validate(try JSONParser.parse(#"{"n": 9007199254740994}"#)).count == 1)
        let integer = try schema(#"{"type":"object","properties":{"n":{"type":"integer"}}}"#)
        #expect(integer.validate(try JSONParser.parse(#"{"n": 2.0}"#)).isEmpty)
    }

    @Test("keywords Purser cannot enforce are refused at load time")
    func unsupportedKeywords() throws {
        for keyword in ["oneOf", "anyOf", "$ref", "patternProperties", "if"] {
            let result = JSONSchema.compile(try JSONParser.parse(#"{"type":"object","\#(keyword)":[]}"#))
            guard case .failure(let problems) = result else {
                Issue.record("\(keyword) was accepted")
                continue
            }
            #expect(problems.items.first?.message.contains(keyword) == true)
        }
    }
}

@Suite("URL templates")
struct URLTemplateTests {
    @Test("an argument cannot change scheme, host, port, path or query")
    func encoding() throws {
        let template = try URLTemplate.parse("https://api.example.com:8443/v1/items/{id}").get()
        let url = try template.expand(arguments: ["id": "../../x?y=1#z@evil.com:80/"], query: []).get()
        #expect(
            url.absoluteString == "https://api.example.com:8443/v1/items/..%2F..%2Fx%3Fy%3D1%23z%40evil.com%3A80%2F")
        #expect(url.host == "api.example.com" && url.port == 8443)
        // A dot segment is refused: "%2E%2E" is ".." to a server that normalizes the path.
        for dots in [".", ".."] {
            #expect(throws: TemplateError.self) {
                try template.expand(arguments: ["id": .string(dots)], query: []).get()
            }
        }
    }

    @Test(
        "a segment that expands to empty, . or .. is refused, so the path structure never changes (issue 16)",
        arguments: [
            ("", ""), ("", "."), (".", ""),
        ] as [(String, String)])
    func dotSegments(a: String, b: String) throws {
        let template = try URLTemplate.parse("https://api.example.com/x/{a}.{b}/end").get()
        let expanded = template.expand(arguments: ["a": .string(a), "b": .string(b)], query: [])
        #expect(throws: TemplateError.self) { try expanded.get() }
    }

    @Test("segments that keep their place are expanded as before")
    func ordinarySegments() throws {
        let template = try URLTemplate.parse("https://api.example.com/x/{a}.{b}/end/{c}").get()
        let url = try template.expand(arguments: ["a": "v1", "b": "json", "c": "..."], query: []).get()
        #expect(url.absoluteString == "https://api.example.com/x/v1.json/end/...")
        let empty = try URLTemplate.parse("https://api.example.com/x/{a}").get()
        #expect(throws: TemplateError.self) { try empty.expand(arguments: ["a": ""], query: []).get() }
    }

    @Test("query mapping encodes values and repeats arrays")
    func query() throws {
        let template = try URLTemplate.parse("http://127.0.0.1:9/s?fixed=1").get()
        let url = try template.expand(
            arguments: ["q": "a b&c=d", "tags": ["x", "y"], "n": 3], query: [("q", "q"), ("t", "tags"), ("n", "n")]
        ).get()
        #expect(url.absoluteString == "http://127.0.0.1:9/s?fixed=1&q=a%20b%26c%3Dd&t=x&t=y&n=3")
    }

    @Test(
        "templates that could move the request elsewhere are refused",
        arguments: [
            "http://{host}/x", "http://a.com:{port}/x", "ftp://a.com/x", "http://user:pw@a.com/x", "http://a.com/x#f",
            "http://a.com/x?q={q}", "a.com/x", "http://a.com/x/../{id}", "http://a.com/./{id}",
            // A combining mark glues itself to "#", "?", "/" or "{" as one Character; the template is read as
            // URI text (ASCII), so it can never hide a fragment or a placeholder (found by the URLTemplate fuzzer).
            "http://a.com/x#\u{301}f", "http://a.com/x?q=1#\u{20E3}", "http://a.com/x?q={\u{301}q}",
            "http://a.com/\u{301}@evil.com/x", "http://a.com/caf\u{E9}/{id}", "http://a.com/x y/{id}",
            "http://a.com/x\t/{id}",
        ])
    func refused(template: String) {
        guard case .failure = URLTemplate.parse(template) else {
            Issue.record("accepted \(template)")
            return
        }
    }

    @Test("same-origin check compares scheme, host and effective port")
    func sameOrigin() throws {
        let template = try URLTemplate.parse("http://api.example.com/x").get()
        #expect(template.isSameOrigin(URL(string: "http://API.example.com:80/y")!))
        #expect(!template.isSameOrigin(URL(string: "https://api.example.com/y")!))
        #expect(!template.isSameOrigin(URL(string: "http://api.example.com.evil.com/y")!))
        #expect(!template.isSameOrigin(URL(string: "http://api.example.com:8080/y")!))
    }
}

@Suite("Tool manifests")
struct ToolManifestLoaderTests {
    @Test("the shipped tools/ load without problems")
    func shippedTools() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (manifests, diagnostics) = ToolManifestLoader.loadDirectory(root.appendingPathComponent("tools").path)
        #expect(diagnostics.isEmpty)
        #expect(manifests.count >= 3)
    }

    @Test(
        "header names are ASCII tokens byte for byte, in headers and secretHeaders alike",
        arguments: [
            // U+212A KELVIN SIGN and U+1FEF are canonically equal to "K" and "`", token characters.
            #""headers": {"X-\u212Aey": "v"}"#, #""headers": {"X-\u1FEF": "v"}"#,
            #""secretHeaders": {"X-\u212Aey": {"secret": "API_KEY"}}"#,
            #""secretHeaders": {"X Key": {"secret": "API_KEY"}}"#,
            #""secretHeaders": {"X-Key": {"secret": "API_KEY", "prefix": "Bearer\r\n"}}"#,
        ])
    func headerNamesAreTokens(headers: String) {
        let text =
            #"{"name":"t","description":"d","inputSchema":{"type":"object"},"#
            + #""upstream":{"url":"http://a/b", "# + headers + "}}"
        let (manifest, diagnostics) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "t.json")
        #expect(manifest == nil)
        #expect(diagnostics.contains { $0.message.contains("invalid header name") })
    }

    @Test(
        "a purpose is an ASCII compact code: no combining marks or invisible joiners riding on a letter",
        arguments: [
            "data.we\u{0301}ather", "data.weather\u{200D}",
            String(repeating: "a\u{0301}\u{0302}\u{0303}\u{0304}", count: 64),
        ])
    func purposeIsASCII(purpose: String) throws {
        let text =
            #"{"name":"t","description":"d","inputSchema":{"type":"object"},"upstream":{"url":"http://a/b"},"#
            + #""purpose":"# + JSONValue.string(purpose).serialized() + "}"
        let (manifest, diagnostics) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "t.json")
        #expect(manifest == nil)
        #expect(diagnostics.contains { $0.message.contains("compact code") })
    }

    @Test(
        "placeholders and mapped arguments name inputSchema properties byte for byte",
        arguments: [
            #""url":"http://a/b/{K}""#, #""url":"http://a/b","query":{"k":"K"}"#,
            #""url":"http://a/b","method":"POST","body":["K"]"#,
        ])
    func argumentNamesMatchExactly(upstream: String) {
        // The property is U+212A KELVIN SIGN, canonically equivalent to "K" but another JSON key.
        let text =
            #"{"name":"t","description":"d","inputSchema":{"type":"object","properties":{"\u212A":{"type":"string"}}},"#
            + #""upstream":{"# + upstream + "}}"
        let (_, diagnostics) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "t.json")
        #expect(diagnostics.contains { $0.message.contains("is not a property of inputSchema") })
    }

    @Test("a price is a decimal string, never a JSON number, and unknown keys are errors")
    func moneyFields() {
        let text = #"""
            {"name":"t","description":"d","inputSchema":{"type":"object"},"upstream":{"url":"http://a/b"},
             "price":{"amount":0.1,"asset":"USDC"},"prize":1}
            """#
        let (manifest, diagnostics) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "t.json")
        #expect(manifest == nil)
        // Columns counted by hand: the amount's value starts at column 20, the unknown key's value at 48.
        #expect(
            Set(diagnostics.map(\.location)) == [
                SourceLocation(line: 2, column: 20), SourceLocation(line: 2, column: 48),
            ])
    }
}
