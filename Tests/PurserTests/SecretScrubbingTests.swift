import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import Synchronization
import Testing
import X402

/// Secrets from a fixed table, as the server's environment would hold them.
private struct FixedSecrets: SecretSource {
    let values: [String: String]
    func secret(named name: String) -> String? { values[name] }
}

/// An upstream that answers every request with what `answer` builds from it (e.g. echoing its headers).
private struct EchoingUpstream: HTTPTransport {
    let answer: @Sendable (HTTPRequest) -> HTTPResponse
    func send(_ request: HTTPRequest) async throws -> HTTPResponse { answer(request) }
}

private let token = "sk-live-CANARY-7f3a9c1e/x+y=z"

private func manifest(_ name: String, secret: Bool = true) throws -> ToolManifest {
    let secretHeaders =
        secret ? #", "secretHeaders": {"Authorization": {"secret": "API_TOKEN", "prefix": "Bearer "}}"# : ""
    let text = """
        {"name": "\(name)", "description": "Echo.",
         "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
         "upstream": {"url": "http://upstream.test/\(name)"\(secretHeaders)}}
        """
    let (manifest, problems) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "\(name).json")
    guard let manifest, problems.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
    return manifest
}

private func pipeline(
    _ manifests: [ToolManifest], ledger: Ledger? = nil, answer: @escaping @Sendable (HTTPRequest) -> HTTPResponse
) -> ToolCallPipeline {
    ToolCallPipeline(
        catalog: ToolCatalog(manifests), transport: { _ in EchoingUpstream(answer: answer) },
        secrets: FixedSecrets(values: ["API_TOKEN": token]), authorizer: PayDenyingAuthorizer(),
        payments: ledger.map { PaymentEnvironment(ledger: $0, limits: nil, signer: nil, approvalKey: nil) })
}

/// Everything a result carries, as text, for a search.
private func allText(_ result: ToolResult) -> String {
    JSONValue.object(result.json).serialized()
}

@Suite("Secret scrubbing at the upstream boundary")
struct SecretScrubbingTests {
    @Test("a 401 quoting the key does not carry the key into the refusal (issue 16)")
    func unauthorizedQuotingKey() async throws {
        let tools = pipeline([try manifest("echo")]) { request in
            let sent = request.headers["Authorization"] ?? ""
            return HTTPResponse(
                status: 401, body: Array(#"{"error": "invalid api key \#(sent.dropFirst(7))"}"#.utf8))
        }
        let refused = try result(await tools.call(name: "echo", arguments: [:], caller: CallerContext(agent: "a")))
        #expect(refused.isError)
        let text = allText(refused)
        #expect(text.contains("HTTP 401"))
        #expect(text.contains("[redacted]"))
        #expect(!text.contains("CANARY"))
    }

    @Test("a 200 body echoing the request headers, raw and encoded, has every form removed (issue 16)")
    func echoedHeaders() async throws {
        let tools = pipeline([try manifest("echo")]) { request in
            let sent = request.headers["Authorization"] ?? ""
            let echo: JSONValue = [
                "headers": ["Authorization": .string(sent)],
                "bare": .string(String(sent.dropFirst(7))),
                "base64": .string(Data(sent.utf8).base64EncodedString()),
                "quoted": .string("key=" + Data(("xy" + sent).utf8).base64EncodedString()),
                "percent": .string(
                    sent.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""),
            ]
            // Serialized with `\/` escapes, as some JSON writers do.
            let body = echo.serialized().replacingOccurrences(of: "/", with: "\\/")
            return HTTPResponse(
                status: 200, headers: ["X-Echo": sent, "Content-Type": "application/json"], body: Array(body.utf8))
        }
        let answered = try result(await tools.call(name: "echo", arguments: [:], caller: CallerContext(agent: "a")))
        #expect(!answered.isError)
        let text = allText(answered)
        #expect(text.contains("[redacted]"))
        for fragment in ["CANARY", "Q0FOQVJZ", "NBTkFSW", "DQU5BUl", "7f3a9c1e"] {
            #expect(!text.contains(fragment), "\(fragment) leaked")
        }
    }

    @Test("a response without secrets is passed through byte for byte")
    func untouched() async throws {
        let body = #"{"city":"Paris","note":"Bearer is a word"}"#
        let tools = pipeline([try manifest("echo")]) { _ in HTTPResponse(status: 200, body: Array(body.utf8)) }
        let answered = try result(await tools.call(name: "echo", arguments: [:], caller: CallerContext(agent: "a")))
        #expect(answered.content.first?["text"]?.stringValue == body)
    }

    @Test("the scrubber replaces overlapping forms longest first and leaves other text alone")
    func scrubberForms() {
        let scrubber = SecretScrubber(values: ["Bearer abcdefgh12", "abcdefgh12"])
        #expect(scrubber.scrub("x Bearer abcdefgh12 y abcdefgh12 z") == "x [redacted] y [redacted] z")
        #expect(scrubber.scrub("nothing here") == "nothing here")
        #expect(SecretScrubber(values: [""]).isEmpty)
    }

    @Test("an idempotency key used with tool A never replays A's result for tool B (issue 16)")
    func idempotencyBoundToTool() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-idem-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = try Ledger.open(path: directory.appendingPathComponent("ledger.sqlite").path)
        let calls = Mutex<[String]>([])
        let tools = pipeline(
            [try manifest("toolA", secret: false), try manifest("toolB", secret: false)], ledger: ledger
        ) { request in
            calls.withLock { $0.append(request.url.path) }
            return HTTPResponse(status: 200, body: Array("answer from \(request.url.path)".utf8))
        }
        let caller = CallerContext(agent: "a", meta: [ToolCallPipeline.idempotencyMetaKey: "same-key"])
        let first = try result(await tools.call(name: "toolA", arguments: ["q": "x"], caller: caller))
        #expect(first.content.first?["text"] == "answer from /toolA")
        let second = try result(await tools.call(name: "toolB", arguments: ["q": "x"], caller: caller))
        #expect(second.isError)
        #expect(second.structuredContent?["error"] == "idempotency_conflict")
        #expect(second.meta?["com.purser/replayed"] == nil)
        #expect(calls.withLock { $0 } == ["/toolA"])
    }

    /// A secret with every character JSON encoders disagree about: `<`, `>`, `&` (Go escapes them), `/`
    /// (PHP escapes it), `"` and `\` (always escaped), and non-ASCII up to an astral character.
    static let awkward = "sk_live<9f>&a/b\"c\\é€😀Z"

    @Test("a secret echoed in any encoder's JSON escaping is removed from the decoded string")
    func jsonEscapingVariants() throws {
        let scrubber = SecretScrubber(values: ["Bearer " + Self.awkward, Self.awkward])
        var everyUnit = ""
        for unit in Self.awkward.utf16 { everyUnit += String(format: "\\u%04X", unit) }
        let echoes = [
            #"sk_live\u003c9f\u003e\u0026a/b\"c\\é€😀Z"#,  // Go encoding/json
            #"sk_live<9f>&a\/b\"c\\\u00e9\u20ac\ud83d\ude00Z"#,  // PHP json_encode
            #"sk_live\u003C9f\u003E\u0026a\/b\u0022c\\\u00e9\u20ac\ud83d\ude00Z"#,  // PHP with JSON_HEX_*
            #"sk_live<9f>&a/b\"c\\\u00E9\u20AC\uD83D\uDE00Z"#,  // upper-case hex, ASCII only
            everyUnit,  // every UTF-16 unit escaped
        ]
        for echo in echoes {
            let body = Array((#"{"error":"invalid api key: "# + echo + #"","n":1}"#).utf8)
            let scrubbed = scrubber.scrub(body)
            let value = try JSONParser.parse(scrubbed)
            #expect(value["error"]?.stringValue == "invalid api key: [redacted]", "\(echo) leaked")
            #expect(value["n"] == 1)
            #expect(!String(decoding: scrubbed, as: UTF8.self).contains("sk_live"))
        }
    }

    @Test("a secret in JSON inside a JSON string, in a cut-off body, or HTML-escaped is removed")
    func nestedCutAndHTMLEchoes() throws {
        let scrubber = SecretScrubber(values: ["Bearer " + Self.awkward, Self.awkward])
        // An upstream echoing the request body it received, itself Go-encoded JSON.
        let nested = #"{"echo":"{\"error\":\"sk_live\\u003c9f\\u003e\\u0026a/b\\\"c\\\\é€😀Z\"}"}"#
        let value = try JSONParser.parse(scrubber.scrub(Array(nested.utf8)))
        #expect(value["echo"]?.stringValue == #"{"error":"[redacted]"}"#)
        // Cut off at the size limit inside the string.
        let cut = #"{"error":"invalid api key: sk_live\u003C9f\u003E\u0026a\/b\"c\\\u00e9\u20ac\ud83d\ude00Z, try"#
        let scrubbedCut = String(decoding: scrubber.scrub(Array(cut.utf8)), as: UTF8.self)
        #expect(scrubbedCut == #"{"error":"invalid api key: [redacted], try"#)
        // An HTML error page, escaped by Go's html.EscapeString and by Python's html.escape.
        for page in [
            "<p>invalid key sk_live&lt;9f&gt;&amp;a/b&#34;c\\é€😀Z</p>",
            "<p>invalid key sk_live&lt;9f&gt;&amp;a/b&quot;c\\é€😀Z</p>",
        ] {
            #expect(scrubber.scrub(page) == "<p>invalid key [redacted]</p>")
        }
        // Escaped text that holds no secret is left byte for byte.
        let other = #"{"a":"x\u003cy\/z \u00e9","b":"broken \q escape"}"#
        #expect(scrubber.scrub(other) == other)
    }

    @Test("a secret beginning with a combining mark, or with one after an &, is removed in every form")
    func combiningMarks() throws {
        // As Characters, " " + U+0301 is not " " and "&" + U+0301 is not "&": the bare secret and the
        // HTML-escaped form were never derived, and an echo of either went through.
        let request = HTTPRequest(
            url: try #require(URL(string: "http://a.example/x")),
            headers: ["Authorization": "Bearer \u{301}sk_live_0123456789"])
        let scrubber = SecretScrubber(
            secretHeaders: [(name: "Authorization", secret: "API_KEY", prefix: "Bearer ")], request: request)
        #expect(scrubber.scrub("invalid key \u{301}sk_live_0123456789") == "invalid key [redacted]")
        let ampersand = SecretScrubber(values: ["sk_live&\u{301}0123456789"])
        // Python's html.escape and Go's html.EscapeString work on code points: "&" becomes "&amp;".
        #expect(ampersand.scrub("<p>key sk_live&amp;\u{301}0123456789</p>") == "<p>key [redacted]</p>")
    }

    @Test("an upstream that Go-encodes the Authorization header it received does not leak it")
    func goEncodedEcho() async throws {
        let tools = ToolCallPipeline(
            catalog: ToolCatalog([try manifest("echo")]),
            transport: { _ in
                EchoingUpstream { request in
                    var escaped = ""
                    for character in request.headers["Authorization"] ?? "" {
                        switch character {
                        case "\"": escaped += "\\\""
                        case "\\": escaped += "\\\\"
                        case "<": escaped += "\\u003c"
                        case ">": escaped += "\\u003e"
                        case "&": escaped += "\\u0026"
                        default: escaped.append(character)
                        }
                    }
                    return HTTPResponse(
                        status: 401, body: Array(#"{"error":"bad credentials: \#(escaped)"}"#.utf8))
                }
            }, secrets: FixedSecrets(values: ["API_TOKEN": "k<1>&2/\"3\\CANARY"]), authorizer: PayDenyingAuthorizer(),
            payments: nil)
        let refused = try result(await tools.call(name: "echo", arguments: [:], caller: CallerContext(agent: "a")))
        #expect(refused.isError)
        let text = allText(refused)
        #expect(text.contains("[redacted]"))
        #expect(!text.contains("CANARY"))
    }
}
