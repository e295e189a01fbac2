import Foundation
import JSONCore
import MCP
import PurserVault
import Synchronization
import Testing

/// A provider that reports progress, asks the client once, and answers with what it was told.
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
            let answer = try await context.elicit(["message": "approve?"])
            return .complete(
                .text(
                    "answer \(answer["action"]?.stringValue ?? "-") era \(context.era.version)",
                    meta: ["agentSeen": .string(arguments["who"]?.stringValue ?? "")]))
        case "wait":
            // Ends early only when the cancellation crosses the socket.
            try? await Task.sleep(for: .seconds(30))
            return .complete(.text("cancelled \(Task.isCancelled)"))
        case "caps":
            return .complete(.text("elicitation \(context.client.supportsFormElicitation)"))
        case "mrtr":
            return .inputRequired(inputRequests: ["a": ["method": "elicitation/create"]], requestState: "state-1")
        default:
            throw MCPError.invalidParams("unknown tool \(name)")
        }
    }
}

@Suite struct VaultRelayTests {
    private func start(users: String) async throws -> (VaultServer, String, Task<Void, Never>) {
        let socket = NSTemporaryDirectory() + "pv-\(UInt32.random(in: 0...UInt32.max)).sock"
        let access = try AgentAccess.parse(Array(users.utf8), file: "agents.json")
        let server = VaultServer(
            socketPath: socket, access: { () throws(VaultError) in access }, makeProvider: { _ in AskingProvider() },
            owner: nil)
        try server.bind()
        let task = Task { await server.run() }
        return (server, socket, task)
    }

    @Test func listCallProgressAndElicitationCrossTheSocket() async throws {
        let (server, socket, task) = try await start(users: #"{"version":1,"users":{"uid:\#(getuid())":["alice"]}}"#)
        defer {
            server.stop()
            task.cancel()
        }
        let provider = try await VaultToolProvider.connect(socketPath: socket, agent: nil)
        defer { provider.close() }
        #expect(provider.agent == "alice")
        let client = ClientDescription(info: nil, capabilities: ["elicitation": [:]])
        let tools = await provider.tools(for: client)
        #expect(tools.map(\.name) == ["ask"])
        #expect(tools.first?.meta?["price"] == "0.01")

        let progress = Mutex<[String]>([])
        let asked = Mutex<[JSONObject]>([])
        let context = ToolCallContext(
            era: .legacy(version: "2025-11-25"), client: client, meta: ["progressToken": "t1"], params: [:],
            reportProgress: { step, total, message in
                progress.withLock { $0.append("\(step)/\(total ?? 0) \(message ?? "")") }
            }, log: { _, _ in },
            elicit: { (request: JSONObject) async throws(MCPError) -> JSONObject in
                asked.withLock { $0.append(request) }
                return ["action": "accept", "content": ["approve": true]]
            })
        guard
            case .complete(let result) = try await provider.callTool(
                name: "ask", arguments: ["who": "alice"], context: context)
        else {
            Issue.record("expected a complete result")
            return
        }
        #expect(result.content.first?.objectValue?["text"]?.stringValue == "answer accept era 2025-11-25")
        #expect(result.meta?["agentSeen"] == "alice")
        #expect(asked.withLock { $0 } == [["message": "approve?"]])
        #expect(progress.withLock { $0 } == ["1/2 asking"])

        guard
            case .inputRequired(let requests, let state) = try await provider.callTool(
                name: "mrtr", arguments: [:], context: context)
        else {
            Issue.record("expected input_required")
            return
        }
        #expect(state == "state-1" && requests["a"] != nil)
        do {
            _ = try await provider.callTool(name: "nope", arguments: [:], context: context)
            Issue.record("an unknown tool succeeded")
        } catch {
            #expect(error.code == -32602)
        }
    }

    @Test func ownerOnlyApprovalsHideTheClientsElicitationFromTheGovernedCall() async throws {
        for (mode, expected) in [("in-band", "elicitation true"), ("owner", "elicitation false")] {
            let (server, socket, task) = try await start(
                users: #"{"version":1,"users":{"uid:\#(getuid())":["alice"]},"approvals":"\#(mode)"}"#)
            let provider = try await VaultToolProvider.connect(socketPath: socket, agent: nil)
            let context = ToolCallContext(
                era: .legacy(version: "2025-11-25"),
                client: ClientDescription(info: nil, capabilities: ["elicitation": [:]]), meta: [:], params: [:],
                reportProgress: { _, _, _ in }, log: { _, _ in },
                elicit: { (_: JSONObject) async throws(MCPError) -> JSONObject in ["action": "accept"] })
            let outcome = try await provider.callTool(name: "caps", arguments: [:], context: context)
            guard case .complete(let result) = outcome else {
                Issue.record("expected a complete result")
                continue
            }
            #expect(result.content.first?.objectValue?["text"]?.stringValue == expected, "approvals \(mode)")
            provider.close()
            server.stop()
            task.cancel()
        }
    }

    @Test func cancellingTheCallOnTheFrontCancelsItInTheVault() async throws {
        let (server, socket, task) = try await start(users: #"{"version":1,"users":{"uid:\#(getuid())":["alice"]}}"#)
        defer {
            server.stop()
            task.cancel()
        }
        let provider = try await VaultToolProvider.connect(socketPath: socket, agent: nil)
        defer { provider.close() }
        let context = ToolCallContext(
            era: .legacy(version: "2025-11-25"), client: ClientDescription(info: nil, capabilities: [:]), meta: [:],
            params: [:], reportProgress: { _, _, _ in }, log: { _, _ in },
            elicit: { (_: JSONObject) async throws(MCPError) -> JSONObject in [:] })
        let call = Task { try await provider.callTool(name: "wait", arguments: [:], context: context) }
        try await Task.sleep(for: .milliseconds(200))
        call.cancel()
        guard case .complete(let result) = try await call.value else {
            Issue.record("expected a complete result")
            return
        }
        #expect(result.content.first?.objectValue?["text"]?.stringValue == "cancelled true")
    }

    @Test("an agent name is granted byte for byte: a KELVIN SIGN for K is another agent, refused")
    func agentNamesMatchExactly() async throws {
        let (server, socket, task) = try await start(users: #"{"version":1,"users":{"uid:\#(getuid())":["Kate"]}}"#)
        defer {
            server.stop()
            task.cancel()
        }
        let provider = try await VaultToolProvider.connect(socketPath: socket, agent: "Kate")
        provider.close()
        do {
            let other = try await VaultToolProvider.connect(socketPath: socket, agent: "\u{212A}ate")
            other.close()
            Issue.record("a canonically equivalent agent id was let in as \(other.agent)")
        } catch {
            #expect(error.code == .forbidden)
        }
    }

    @Test func anUnmappedUserOrAgentIsRefused() async throws {
        let (server, socket, task) = try await start(users: #"{"version":1,"users":{"uid:4000000000":["alice"]}}"#)
        defer {
            server.stop()
            task.cancel()
        }
        do {
            _ = try await VaultToolProvider.connect(socketPath: socket, agent: nil)
            Issue.record("an unmapped user was let in")
        } catch {
            #expect(error.code == .forbidden)
        }
        do {
            _ = try await VaultToolProvider.connect(socketPath: socket, agent: "alice")
            Issue.record("an unmapped user was let in as alice")
        } catch {
            #expect(error.code == .forbidden)
        }
    }
}
