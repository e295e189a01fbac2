import Foundation
import JSONCore
import MCP
import Synchronization
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
        case "block":
            await Gate.shared.wait()
            return .complete(.text("unblocked"))
        case "echo":
            await context.reportProgress(1, 1, "half")
            return .complete(.text(JSONValue.object(arguments).serialized()))
        default:
            throw MCPError.invalidParams("Unknown tool: \(name)")
        }
    }
}

/// Holds `block` calls until the test opens it.
private actor Gate {
    static let shared = Gate()
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var open = false

    func wait() async {
        if open { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        open = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    func reset() { open = false }

    var waiting: Int { waiters.count }
}

/// Runs a server over two pipes and gives the test the client's ends.
private final class Harness: Sendable {
    let toServer = Pipe()
    let fromServer = Pipe()
    let done: Task<Void, Never>

    init(
        pageSize: Int = 2, maximumLineLength: Int = 1024 * 1024, maximumConcurrentRequests: Int = 16,
        maximumAdmissionWait: Duration = .seconds(5)
    ) {
        let server = MCPServer(
            configuration: MCPServer.Configuration(
                name: "t", version: "1", pageSize: pageSize, maximumLineLength: maximumLineLength,
                maximumConcurrentRequests: maximumConcurrentRequests, maximumAdmissionWait: maximumAdmissionWait),
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

    private static func call(_ id: Int, _ tool: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(tool)","arguments":{}}}"#
    }

    private static func waitForBlocked(_ count: Int) async throws {
        for _ in 0..<500 where await Gate.shared.waiting < count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await Gate.shared.waiting == count)
    }

    @Test("a duplicate in-flight id is refused with a null id; the running call still gets its own answer (issue 16)")
    func duplicateInFlightID() async throws {
        await Gate.shared.reset()
        let harness = Harness()
        harness.send(Self.call(7, "block"))
        try await Self.waitForBlocked(1)
        harness.send(Self.call(7, "echo"))
        let duplicate = try await harness.receive()
        // Not the id of the running call: a client can never take this for its answer.
        #expect(duplicate["id"] == .null)
        #expect(duplicate["error"]?["code"] == -32600)
        #expect(duplicate["error"]?["data"]?["reason"] == "duplicate_request_id")
        #expect(duplicate["error"]?["data"]?["duplicateId"] == 7)
        await Gate.shared.release()
        let original = try await harness.receive()
        #expect(original["id"] == 7)
        #expect(original["result"]?["content"]?.arrayValue?.first?["text"] == "unblocked")
        await harness.finish()
    }

    @Test("an over-long line is answered with an error and dropped; the next message is served (issue 16)")
    func overlongLine() async throws {
        let harness = Harness(maximumLineLength: 1000)
        let padding = String(repeating: "x", count: 200_000)
        harness.send(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"\#(padding)"}}"#)
        harness.send(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        let refused = try await harness.receive()
        #expect(refused["id"] == .null)
        #expect(refused["error"]?["code"] == -32600)
        #expect(refused["error"]?["data"]?["reason"] == "message_too_long")
        #expect(refused["error"]?["data"]?["limit"] == 1000)
        #expect(try await harness.receive()["id"] == 2)
        await harness.finish()
    }

    @Test(
        "a request beyond the concurrency limit that finds no free slot in time is refused with its own id (issue 16)")
    func concurrencyLimit() async throws {
        await Gate.shared.reset()
        let harness = Harness(maximumConcurrentRequests: 2, maximumAdmissionWait: .milliseconds(200))
        harness.send(Self.call(1, "block"))
        harness.send(Self.call(2, "block"))
        try await Self.waitForBlocked(2)
        harness.send(Self.call(3, "echo"))
        let busy = try await harness.receive()
        #expect(busy["id"] == 3)
        #expect(busy["error"]?["code"] == -32000)
        #expect(busy["error"]?["data"]?["reason"] == "too_many_requests")
        await Gate.shared.release()
        var answered: Set<Int64> = []
        for _ in 0..<2 { answered.insert(try #require(try await harness.receive()["id"]?.int64Value)) }
        #expect(answered == [1, 2])
        harness.send(#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#)
        #expect(try await harness.receive()["id"] == 4)
        await harness.finish()
    }

    @Test("at the concurrency limit input pauses and the request runs once a slot frees (issue 16)")
    func waitsForSlot() async throws {
        await Gate.shared.reset()
        let harness = Harness(maximumConcurrentRequests: 1, maximumAdmissionWait: .seconds(30))
        harness.send(Self.call(1, "block"))
        try await Self.waitForBlocked(1)
        harness.send(Self.call(2, "echo"))
        try await Task.sleep(for: .milliseconds(100))
        await Gate.shared.release()
        let first = try await harness.receive()
        #expect(first["id"] == 1 && first["error"] == nil)
        let second = try await harness.receive()
        #expect(second["id"] == 2)
        #expect(second["error"] == nil)
        #expect(second["result"]?["content"]?.arrayValue?.first?["text"] == "{}")
        await harness.finish()
    }

    @Test("at the limit, a request is refused at once while a running one waits for the client (no deadlock)")
    func noDeadlockWithElicitation() async throws {
        let harness = Harness(maximumConcurrentRequests: 1, maximumAdmissionWait: .seconds(30))
        harness.send(
            #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"form":{}}},"clientInfo":{"name":"c","version":"1"}}}"#
        )
        #expect(try await harness.receive()["id"] == 0)
        harness.send(Self.call(5, "confirm"))
        let ask = try await harness.receive()
        #expect(ask["method"] == "elicitation/create")
        harness.send(#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#)
        let busy = try await harness.receive()
        #expect(busy["id"] == 6 && busy["error"]?["data"]?["reason"] == "too_many_requests")
        let askID = try #require(ask["id"])
        harness.send(#"{"jsonrpc":"2.0","id":\#(askID.serialized()),"result":{"action":"accept","content":{}}}"#)
        let answer = try await harness.receive()
        #expect(answer["id"] == 5)
        #expect(answer["result"]?["content"]?.arrayValue?.first?["text"] == "answer: accept")
        await harness.finish()
    }

    @Test("a duplicate of a request waiting for the client is refused with a null id; the first one completes")
    func duplicateWhileEliciting() async throws {
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
        #expect(duplicate["id"] == .null)
        #expect(duplicate["error"]?["code"] == -32600)
        #expect(duplicate["error"]?["data"]?["duplicateId"] == 2)
        #expect(duplicate["result"] == nil)
        let id = try #require(elicitation["id"])
        harness.send(#"{"jsonrpc":"2.0","id":\#(id.serialized()),"result":{"action":"accept"}}"#)
        let reply = try await harness.receive()
        #expect(reply["id"] == 2)
        #expect(reply["result"]?["content"]?.arrayValue?.first?["text"] == "answer: accept")
        await harness.finish()
    }
}

@Suite("Line reader bounds")
struct LineReaderTests {
    @Test("the reader stops reading while its queue is full: the writer blocks until lines are taken (issue 16)")
    func backPressure() async throws {
        let pipe = Pipe()
        let reader = LineReader(
            fileDescriptor: pipe.fileHandleForReading.fileDescriptor, maximumLineLength: 4096, maximumQueuedLines: 4)
        let lines = reader.lines()
        let line = Data((String(repeating: "a", count: 1023) + "\n").utf8)
        let writerDone = Mutex(false)
        let writer = pipe.fileHandleForWriting
        // 4 MiB: far more than the pipe buffer, the reader's read buffer and four queued lines together.
        Thread {
            for _ in 0..<4096 { writer.write(line) }
            try? writer.close()
            writerDone.withLock { $0 = true }
        }.start()
        try await Task.sleep(for: .milliseconds(300))
        #expect(writerDone.withLock { $0 } == false)
        var count = 0
        for await item in lines {
            #expect(item == .line(Array(repeating: 0x61, count: 1023)))
            count += 1
        }
        #expect(count == 4096)
        #expect(writerDone.withLock { $0 })
    }
}
