import Foundation
import JSONCore
import MCP
import Testing

/// A provider whose tools are scripted by the test.
private struct ScriptedProvider: ToolProvider {
    func tools(for client: ClientDescription) async -> [ToolDescription] {
        (0..<5).map { ToolDescription(name: "tool\($0)", inputSchema: ["type": "object"]) }
    }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        switch name {
        case "confirm":
            let answer = try await context.elicit([
                "mode": "form", "message": "ok?", "requestedSchema": ["type": "object"],
            ])
            return .complete(.text("answer: \(answer["action"]?.stringValue ?? "none")"))
        case "mrtr":
            return .inputRequired(inputRequests: ["confirm": ["method": "elicitation/create"]], requestState: "s1")
        case "echo":
            await context.reportProgress(1, 1, "half")
            return .complete(.text(JSONValue.object(arguments).serialized()))
        default:
            throw MCPError.invalidParams("Unknown tool: \(name)")
        }
    }
}

/// Runs a server over two pipes and gives the test the client's ends.
private final class Harness: Sendable {
    let toServer = Pipe()
    let fromServer = Pipe()
    let done: Task<Void, Never>

    init(pageSize: Int = 2) {
        let server = MCPServer(
            configuration: MCPServer.Configuration(name: "t", version: "1", pageSize: pageSize),
            provider: ScriptedProvider(), input: toServer.fileHandleForReading.fileDescriptor,
            output: fromServer.fileHandleForWriting.fileDescriptor)
        done = Task { await server.run() }
    }

    func send(_ text: String) {
        toServer.fileHandleForWriting.write(Data((text + "\n").utf8))
    }

    /// Reads one line (blocking on a background thread).
    func receive() async throws -> JSONValue {
        let handle = fromServer.fileHandleForReading
        let bytes: [UInt8] = await withCheckedContinuation { continuation in
            Thread {
                var line: [UInt8] = []
                while true {
                    let byte = handle.readData(ofLength: 1)
                    if byte.isEmpty || byte.first == 0x0A { break }
                    line.append(byte.first!)
                }
                continuation.resume(returning: line)
            }.start()
        }
        return try JSONParser.parse(bytes)
    }

    func finish() async {
        try? toServer.fileHandleForWriting.close()
        await done.value
    }
}

@Suite("MCP server over pipes", .serialized)
struct MCPServerTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    @Test("tools/list pages with an opaque cursor until the end")
    func pagination() async throws {
        let harness = Harness(pageSize: 2)
        var names: [String] = []
        var cursor: JSONValue = .null
        for id in 1...5 {
            harness.send(
                #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/list","params":{"cursor":\#(cursor.serialized())}}"#)
            let result = try #require(try await harness.receive()["result"])
            names += result["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            guard let next = result["nextCursor"] else { break }
            cursor = next
        }
        #expect(names == ["tool0", "tool1", "tool2", "tool3", "tool4"])
        await harness.finish()
    }

    @Test("legacy elicitation: the server asks the client and awaits its answer")
    func elicitation() async throws {
        let harness = Harness()
        harness.send(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}},"clientInfo":{"name":"c","version":"1"}}}"#
        )
        #expect(try await harness.receive()["result"]?["protocolVersion"] == "2025-06-18")
        harness.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"confirm"}}"#)
        let request = try await harness.receive()
        #expect(request["method"] == "elicitation/create")
        let id = try #require(request["id"])
        harness.send(#"{"jsonrpc":"2.0","id":\#(id.serialized()),"result":{"action":"decline"}}"#)
        let reply = try await harness.receive()
        #expect(reply["id"] == 2)
        #expect(reply["result"]?["content"]?.arrayValue?.first?["text"] == "answer: decline")
        await harness.finish()
    }

    @Test("elicitation is refused when the client did not declare it")
    func elicitationUndeclared() async throws {
        let harness = Harness()
        harness.send(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"confirm"}}"#)
        let reply = try await harness.receive()
        #expect(reply["error"]?["code"] == -32021)
        await harness.finish()
    }

    @Test("2026-07-28: input_required carries requestState and resultType")
    func inputRequired() async throws {
        let harness = Harness()
        let meta =
            #"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#
        harness.send(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"mrtr","_meta":\#(meta)}}"#)
        let result = try #require(try await harness.receive()["result"])
        #expect(result["resultType"] == "input_required")
        #expect(result["requestState"] == "s1")
        #expect(result["_meta"]?["io.modelcontextprotocol/serverInfo"]?["name"] == "t")
        await harness.finish()
    }

    @Test("progress is sent only for a progressToken, before the result")
    func progress() async throws {
        let harness = Harness()
        harness.send(
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1},"_meta":{"progressToken":"tok"}}}"#
        )
        let first = try await harness.receive()
        #expect(first["method"] == "notifications/progress")
        #expect(first["params"]?["progressToken"] == "tok")
        #expect(try await harness.receive()["id"] == 1)
        harness.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#)
        #expect(try await harness.receive()["id"] == 2)
        await harness.finish()
    }

    @Test("a null or fractional id is an invalid request")
    func invalidIDs() async throws {
        let harness = Harness()
        harness.send(#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#)
        #expect(try await harness.receive()["error"]?["code"] == -32600)
        harness.send(#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#)
        #expect(try await harness.receive()["error"]?["code"] == -32600)
        await harness.finish()
    }

    @Test("a request reusing the id of one still in flight is refused with that id; the first one completes")
    func duplicateInFlightID() async throws {
        let harness = Harness()
        harness.send(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}},"clientInfo":{"name":"c","version":"1"}}}"#
        )
        #expect(try await harness.receive()["result"]?["protocolVersion"] == "2025-06-18")
        // Request 2 stays in flight while it waits for the client's elicitation answer.
        harness.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"confirm"}}"#)
        let elicitation = try await harness.receive()
        #expect(elicitation["method"] == "elicitation/create")
        harness.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#)
        let duplicate = try await harness.receive()
        #expect(duplicate["id"] == 2)
        #expect(duplicate["error"]?["code"] == -32600)
        #expect(duplicate["result"] == nil)
        let id = try #require(elicitation["id"])
        harness.send(#"{"jsonrpc":"2.0","id":\#(id.serialized()),"result":{"action":"accept"}}"#)
        let reply = try await harness.receive()
        #expect(reply["id"] == 2)
        #expect(reply["result"]?["content"]?.arrayValue?.first?["text"] == "answer: accept")
        await harness.finish()
    }
}
