import Foundation
import JSONCore
import MCP
import PurserVault
import Synchronization
import Testing

/// A call that runs until the test opens the gate.
private final class Gate: Sendable {
    private let state = Mutex<(started: Bool, waiter: CheckedContinuation<Void, Never>?, open: Bool)>(
        (false, nil, false))

    var started: Bool { state.withLock { $0.started } }

    func pass() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                state.started = true
                if state.open { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.open = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

private struct GatedProvider: ToolProvider {
    let gate: Gate

    func tools(for client: ClientDescription) async -> [ToolDescription] {
        [ToolDescription(name: "gated", description: "waits for the gate", inputSchema: ["type": "object"])]
    }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        await gate.pass()
        return .complete(.text("finished after the stop"))
    }
}

/// Answers a continuation once, from whichever of two tasks gets there first.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func answer(_ value: Bool) {
        continuation.withLock { pending in
            defer { pending = nil }
            return pending
        }?.resume(returning: value)
    }
}

/// Waits for `task`, giving up (and failing the test) after `seconds`: a liveness bound, so a server that never
/// stops fails the test instead of hanging the run. Not a timing assertion: the bound is far above the need.
private func finishes(_ task: Task<Void, Never>, within seconds: Int) async -> Bool {
    await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let first = FirstAnswer(continuation)
        // Unstructured on purpose: a task group would wait for the never-ending task before returning.
        Task {
            await task.value
            first.answer(true)
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            first.answer(false)
        }
    }
}

@Suite struct VaultShutdownTests {
    @Test("stop(): no new connection, the running call still answers, then run() returns with a front still connected")
    func stopDrainsRunningCallsAndReturns() async throws {
        let socket = NSTemporaryDirectory() + "pv-stop-\(UInt32.random(in: 0...UInt32.max)).sock"
        let access = try AgentAccess.parse(
            Array(#"{"version":1,"users":{"uid:\#(getuid())":["alice"]}}"#.utf8), file: "agents.json")
        let gate = Gate()
        let server = VaultServer(
            socketPath: socket, access: { () throws(VaultError) in access },
            makeProvider: { _ in GatedProvider(gate: gate) }, owner: nil)
        try server.bind()
        let running = Task { await server.run() }
        let provider = try await VaultToolProvider.connect(socketPath: socket, agent: nil)
        defer { provider.close() }
        let context = ToolCallContext(
            era: .legacy(version: "2025-11-25"), client: ClientDescription(info: nil, capabilities: [:]), meta: [:],
            params: [:], reportProgress: { _, _, _ in }, log: { _, _ in },
            elicit: { (_: JSONObject) async throws(MCPError) -> JSONObject in [:] })
        let call = Task { try await provider.callTool(name: "gated", arguments: [:], context: context) }
        for _ in 0..<1000 where !gate.started { try await Task.sleep(for: .milliseconds(10)) }
        #expect(gate.started)

        server.stop()
        #expect(!FileManager.default.fileExists(atPath: socket))
        await #expect(throws: VaultError.self) {
            _ = try await VaultToolProvider.connect(socketPath: socket, agent: nil)
        }

        gate.open()
        guard case .complete(let result) = try await call.value else {
            Issue.record("expected the running call's result")
            return
        }
        #expect(result.content.first?.objectValue?["text"]?.stringValue == "finished after the stop")
        // The front has not closed its connection: the vault ends it itself once nothing runs on it.
        #expect(await finishes(running, within: 20), "run() did not return after stop() with a front connected")
    }
}
