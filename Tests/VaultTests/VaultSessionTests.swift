import Foundation
import JSONCore
import MCP
import Synchronization
import Testing

@testable import PurserVault

/// Reports progress, asks the client once, and answers with what it was told; `caps` says whether the call
/// saw the client's elicitation capability.
private struct AskingProvider: ToolProvider {
    func tools(for client: ClientDescription) async -> [ToolDescription] {
        [ToolDescription(name: "ask", description: "asks", inputSchema: ["type": "object"], meta: ["price": "0.01"])]
    }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        switch name {
        case "ask":
            await context.reportProgress(1, 2, "asking")
            await context.log(.debug, "debug line")
            await context.log(.warning, "warning line")
            let answer = try await context.elicit(["message": "approve?"])
            return .complete(
                .text(
                    "answer \(answer["action"]?.stringValue ?? "-") era \(context.era.version)",
                    meta: ["agentSeen": .string(arguments["who"]?.stringValue ?? "")]))
        case "caps":
            let asked: String
            do {
                _ = try await context.elicit(["message": "may I?"])
                asked = "answered"
            } catch {
                asked = "refused"
            }
            return .complete(.text("elicitation \(context.client.supportsFormElicitation), asking \(asked)"))
        case "wait":
            waitCall.withLock { $0.running = true }
            // Ends early only when the client's cancellation crosses the relay.
            try? await Task.sleep(for: .seconds(120))
            let cancelled = Task.isCancelled
            waitCall.withLock { $0.cancelled = cancelled }
            return .complete(.text("wait ended"))
        case "started", "cancelled?":
            // Liveness bounds, not timing assertions: a lost cancellation fails the test instead of hanging it.
            let keyPath: KeyPath<(running: Bool, cancelled: Bool), Bool> = name == "started" ? \.running : \.cancelled
            for _ in 0..<30_000 where !waitCall.withLock({ $0[keyPath: keyPath] }) {
                try? await Task.sleep(for: .milliseconds(10))
            }
            let seen = waitCall.withLock { $0[keyPath: keyPath] }
            let text = name == "started" ? "wait started \(seen)" : "wait was \(seen ? "" : "not ")cancelled"
            return .complete(.text(text))
        default:
            throw MCPError.invalidParams("unknown tool \(name)")
        }
    }
}

/// What the one `wait` call of the cancellation test went through.
private let waitCall = Mutex<(running: Bool, cancelled: Bool)>((false, false))

/// `purser serve --vault`'s path: the vault runs the client's MCP session over the socket and the front only
/// copies bytes, so the hop costs a read and a write each way instead of a second MCP server.
@Suite struct VaultSessionTests {
    private func start(users: String) throws -> (VaultServer, String, Task<Void, Never>) {
        let socket = NSTemporaryDirectory() + "pv-s-\(UInt32.random(in: 0...UInt32.max)).sock"
        let access = try AgentAccess.parse(Array(users.utf8), file: "agents.json")
        let server = VaultServer(
            socketPath: socket, access: { () throws(VaultError) in access }, makeProvider: { _ in AskingProvider() },
            owner: nil)
        try server.bind()
        return (server, socket, Task { await server.run() })
    }

    private static let alice = #"{"version":1,"users":{"uid:\#(getuid())":["alice"]}}"#

    @Test("list, call, progress, log level and an elicitation round trip cross the relay; the client's end ends it")
    func anMCPSessionRunsInTheVaultThroughTheRelay() async throws {
        let (server, socket, task) = try start(users: Self.alice)
        defer {
            server.stop()
            task.cancel()
        }
        let relay = try await VaultRelay.connect(socketPath: socket, agent: nil, pageSize: 100)
        #expect(relay.agent == "alice")
        let client = try PipeClient()
        let (input, output) = (client.relayInput, client.relayOutput)
        let running = Task { await relay.run(input: input, output: output) }

        client.send(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"t","version":"0"}}}"#
        )
        #expect(try await client.receive()["result"]?.objectValue?["protocolVersion"] == "2025-11-25")
        client.send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        client.send(#"{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"warning"}}"#)
        #expect(try await client.receive()["id"] == 2)
        client.send(#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#)
        let tools = try await client.receive()["result"]?.objectValue?["tools"]?.arrayValue ?? []
        #expect(tools.compactMap { $0.objectValue?["name"]?.stringValue } == ["ask"])
        #expect(tools.first?.objectValue?["_meta"]?.objectValue?["price"] == "0.01")

        client.send(
            #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask","arguments":{"who":"alice"},"_meta":{"progressToken":"t1"}}}"#
        )
        var seen: [String] = []
        var answer: JSONObject?
        while answer == nil {
            let message = try await client.receive()
            switch message["method"]?.stringValue {
            case "notifications/progress":
                seen.append("progress \(message["params"]?.objectValue?["progress"]?.int64Value ?? -1)")
            case "notifications/message":
                seen.append("log \(message["params"]?.objectValue?["data"]?.stringValue ?? "")")
            case "elicitation/create":
                seen.append("asked \(message["params"]?.objectValue?["message"]?.stringValue ?? "")")
                let id = message["id"]?.serialized() ?? "null"
                client.send(#"{"jsonrpc":"2.0","id":\#(id),"result":{"action":"accept","content":{}}}"#)
            default:
                answer = message
            }
        }
        // Below the client's level nothing is sent: the debug line never crosses the relay.
        #expect(seen == ["progress 1", "log warning line", "asked approve?"])
        #expect(answer?["id"] == 4)
        let result = answer?["result"]?.objectValue
        #expect(result?["content"]?.arrayValue?.first?.objectValue?["text"] == "answer accept era 2025-11-25")
        #expect(result?["_meta"]?.objectValue?["agentSeen"] == "alice")

        client.closeInput()
        #expect(await running.value == .clientClosed)
        relay.close()
    }

    @Test("approvals by the owner only: the governed call in an MCP session neither sees nor reaches elicitation")
    func ownerOnlyApprovalsHideTheClientsElicitation() async throws {
        for (mode, expected) in [
            ("in-band", "elicitation true, asking answered"), ("owner", "elicitation false, asking refused"),
        ] {
            let (server, socket, task) = try start(
                users: #"{"version":1,"users":{"uid:\#(getuid())":["alice"]},"approvals":"\#(mode)"}"#)
            let relay = try await VaultRelay.connect(socketPath: socket, agent: "alice", pageSize: 100)
            let client = try PipeClient()
            let (input, output) = (client.relayInput, client.relayOutput)
            let running = Task { await relay.run(input: input, output: output) }
            client.send(
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"t","version":"0"}}}"#
            )
            _ = try await client.receive()
            client.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"caps","arguments":{}}}"#)
            var answer = try await client.receive()
            if answer["method"] == "elicitation/create" {
                let id = answer["id"]?.serialized() ?? "null"
                client.send(#"{"jsonrpc":"2.0","id":\#(id),"result":{"action":"accept","content":{}}}"#)
                answer = try await client.receive()
            }
            let text = answer["result"]?.objectValue?["content"]?.arrayValue?.first?.objectValue?["text"]
            #expect(text?.stringValue == expected, "approvals \(mode)")
            client.closeInput()
            _ = await running.value
            relay.close()
            server.stop()
            task.cancel()
        }
    }

    @Test("the vault reads the hello and not a byte more: lines sent right behind it belong to the session")
    func linesRightBehindTheHelloAreServed() async throws {
        let (server, socket, task) = try start(users: Self.alice)
        defer {
            server.stop()
            task.cancel()
        }
        let channel = FrameChannel(descriptor: try UnixSocket.connect(socket))
        defer { channel.close() }
        // A liveness bound, not a timing assertion: a vault that swallowed the request fails the test (the read
        // times out) instead of hanging the run. Far above the need: in a full parallel `swift test` on two cores
        // this handshake took 77 s (every vault test took 80–100 s there), so 20 s flaked.
        var timeout = timeval(tv_sec: 300, tv_usec: 0)
        _ = setsockopt(
            channel.fileDescriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // The hello and the first request in one write(2): they arrive together.
        let hello = Array(#"{"type":"hello","v":1,"role":"agent","session":"mcp"}"#.utf8)
        let length = UInt32(hello.count)
        let bytes =
            [UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
            + hello + Array(#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#.utf8) + [0x0A]
        #expect(bytes.withUnsafeBytes { write(channel.fileDescriptor, $0.baseAddress, $0.count) } == bytes.count)
        guard case .frame(let welcome)? = await onDedicatedThread({ channel.readFrame() }) else {
            Issue.record("no welcome")
            return
        }
        #expect(welcome["type"] == "welcome" && welcome["session"] == "mcp" && welcome["agent"] == "alice")
        var lines = LineReader(fileDescriptor: channel.fileDescriptor).lines().makeAsyncIterator()
        guard case .line(let line)? = await lines.next() else {
            Issue.record("the request sent behind the hello got no answer")
            return
        }
        let answer = try JSONParser.parse(line).objectValue
        #expect(answer?["id"] == 7 && answer?["result"] != nil)
    }

    @Test("a hello asking for an unknown session kind or a bad page size is refused")
    func badSessionHellosAreRefused() async throws {
        let (server, socket, task) = try start(users: Self.alice)
        defer {
            server.stop()
            task.cancel()
        }
        for hello: JSONObject in [
            ["type": "hello", "v": 1, "role": "agent", "session": "raw"],
            ["type": "hello", "v": 1, "role": "agent", "session": "mcp", "pageSize": 0],
            ["type": "hello", "v": 1, "role": "agent", "session": "mcp", "pageSize": "10"],
        ] {
            let channel = FrameChannel(descriptor: try UnixSocket.connect(socket))
            channel.send(hello)
            guard case .frame(let answer)? = await onDedicatedThread({ channel.readFrame() }) else {
                Issue.record("no answer to \(hello)")
                continue
            }
            #expect(answer["type"] == "refused", "\(hello)")
            let after = await onDedicatedThread { channel.readFrame() }
            #expect(after == nil, "the connection stays open")
            channel.close()
        }
    }

    @Test("an OS user the owner has not mapped, or mapped to another agent, is refused at the hello")
    func anUnmappedUserOrAgentIsRefused() async throws {
        let (server, socket, task) = try start(users: #"{"version":1,"users":{"uid:4000000000":["alice"]}}"#)
        defer {
            server.stop()
            task.cancel()
        }
        for agent in [nil, "alice"] as [String?] {
            do {
                _ = try await VaultRelay.connect(socketPath: socket, agent: agent, pageSize: 100)
                Issue.record("an unmapped user was let in as \(agent ?? "its only agent")")
            } catch {
                #expect(error.code == .forbidden)
            }
        }
    }

    @Test("an agent name is granted byte for byte: a KELVIN SIGN for K is another agent, refused")
    func agentNamesMatchExactly() async throws {
        let (server, socket, task) = try start(users: #"{"version":1,"users":{"uid:\#(getuid())":["Kate"]}}"#)
        defer {
            server.stop()
            task.cancel()
        }
        let relay = try await VaultRelay.connect(socketPath: socket, agent: "Kate", pageSize: 100)
        #expect(relay.agent == "Kate")
        relay.close()
        do {
            let other = try await VaultRelay.connect(socketPath: socket, agent: "\u{212A}ate", pageSize: 100)
            other.close()
            Issue.record("a canonically equivalent agent id was let in as \(other.agent)")
        } catch {
            #expect(error.code == .forbidden)
        }
    }

    @Test("an agent hello without an MCP session (the framed calls of earlier builds) is refused")
    func framedAgentCallsAreGone() async throws {
        let (server, socket, task) = try start(users: Self.alice)
        defer {
            server.stop()
            task.cancel()
        }
        let channel = FrameChannel(descriptor: try UnixSocket.connect(socket))
        defer { channel.close() }
        channel.send(["type": "hello", "v": 1, "role": "agent"])
        guard case .frame(let answer)? = await onDedicatedThread({ channel.readFrame() }) else {
            Issue.record("no answer to the hello")
            return
        }
        #expect(answer["type"] == "refused")
        #expect(answer["message"]?.stringValue?.contains("session") == true)
    }

    @Test("a client's notifications/cancelled crosses the relay and cancels the call in the vault")
    func cancellationCrossesTheRelay() async throws {
        let (server, socket, task) = try start(users: Self.alice)
        defer {
            server.stop()
            task.cancel()
        }
        let relay = try await VaultRelay.connect(socketPath: socket, agent: nil, pageSize: 100)
        let client = try PipeClient()
        let (input, output) = (client.relayInput, client.relayOutput)
        let running = Task { await relay.run(input: input, output: output) }
        client.send(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#
        )
        _ = try await client.receive()
        client.send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        client.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"wait","arguments":{}}}"#)
        client.send(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"started","arguments":{}}}"#)
        // "started" answers once "wait" is running in the vault, so the cancellation cannot overtake the call.
        #expect(try await client.receive()["id"] == 3)
        client.send(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}"#)
        // MCP: a cancelled request gets no answer; the next request's answer proves the session still runs and
        // the provider saw the cancellation (it records it for "cancelled?").
        client.send(#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"cancelled?","arguments":{}}}"#)
        var answer = try await client.receive()
        while answer["id"] == 2 { answer = try await client.receive() }
        #expect(answer["id"] == 4)
        let text = answer["result"]?.objectValue?["content"]?.arrayValue?.first?.objectValue?["text"]?.stringValue
        #expect(text == "wait was cancelled")
        client.closeInput()
        _ = await running.value
        relay.close()
    }

    @Test("a vault that stops ends the relay as the vault's end, not the client's")
    func theVaultsEndIsReported() async throws {
        let (server, socket, task) = try start(users: Self.alice)
        defer { task.cancel() }
        let relay = try await VaultRelay.connect(socketPath: socket, agent: nil, pageSize: 100)
        let client = try PipeClient()
        let (input, output) = (client.relayInput, client.relayOutput)
        let running = Task { await relay.run(input: input, output: output) }
        client.send(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        #expect(try await client.receive()["id"] == 1)
        server.stop()
        #expect(await running.value == .vaultClosed)
        client.closeInput()
        relay.close()
    }
}
