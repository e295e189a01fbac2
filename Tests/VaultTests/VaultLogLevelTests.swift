import Foundation
import JSONCore
import MCP
import Synchronization
import Testing

@testable import PurserVault

/// Logs once at each of two levels, then answers.
private struct LoggingProvider: ToolProvider {
    func tools(for client: ClientDescription) async -> [ToolDescription] { [] }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        await context.log(.debug, "debug line")
        await context.log(.warning, "warning line")
        return .complete(.text("done"))
    }
}

/// The vault sends a `log` frame only at or above the level the front says its client asked for: the front
/// would drop the others, and each costs a frame over the socket on every call.
@Suite struct VaultLogLevelTests {
    /// The frames the vault sends for one call whose frame carries `logLevel` (or none), up to its answer.
    private func frames(logLevel: JSONValue?) async throws -> [JSONObject] {
        let socket = NSTemporaryDirectory() + "pv-log-\(UInt32.random(in: 0...UInt32.max)).sock"
        let access = try AgentAccess.parse(
            Array(#"{"version":1,"users":{"uid:\#(getuid())":["alice"]}}"#.utf8), file: "agents.json")
        let server = VaultServer(
            socketPath: socket, access: { () throws(VaultError) in access },
            makeProvider: { _ in LoggingProvider() }, owner: nil)
        try server.bind()
        let running = Task { await server.run() }
        defer {
            server.stop()
            running.cancel()
        }
        let channel = FrameChannel(descriptor: try UnixSocket.connect(socket))
        defer { channel.close() }
        var incoming = channel.frames().makeAsyncIterator()
        channel.send(["type": "hello", "v": 1, "role": "agent"])
        guard case .frame(let welcome)? = await incoming.next() else { throw VaultError(.closed, "no welcome") }
        #expect(welcome["type"] == "welcome")
        var call: JSONObject = [
            "type": "call", "id": 1, "name": "t", "arguments": [:], "era": ["kind": "legacy", "version": "2025-11-25"],
            "client": ["capabilities": [:]], "meta": [:], "params": [:],
        ]
        if let logLevel { call["logLevel"] = logLevel }
        channel.send(call)
        var received: [JSONObject] = []
        while case .frame(let frame)? = await incoming.next() {
            received.append(frame)
            if frame["type"] != "log" { break }
        }
        return received
    }

    private func logLines(_ frames: [JSONObject]) -> [String] {
        frames.filter { $0["type"] == "log" }.compactMap { $0["data"]?.stringValue }
    }

    @Test("warning: only the warning; null: none; absent (an older front): every level")
    func onlyWantedLogFramesCrossTheSocket() async throws {
        let warning = try await frames(logLevel: "warning")
        #expect(logLines(warning) == ["warning line"])
        #expect(warning.last?["type"] == "complete")
        #expect(logLines(try await frames(logLevel: .null)) == [])
        #expect(logLines(try await frames(logLevel: nil)) == ["debug line", "warning line"])
        let refused = try await frames(logLevel: "loud")
        #expect(refused.last?["type"] == "violation")
    }
}
