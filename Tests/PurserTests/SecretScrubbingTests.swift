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
}
