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
        let relay = try await VaultRelay.connect(socketPath: socket, agent: nil, pageSize: 100)
        defer { relay.close() }
        let client = try PipeClient()
        let (input, output) = (client.relayInput, client.relayOutput)
        let session = Task { await relay.run(input: input, output: output) }
        client.send(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#
        )
        _ = try await client.receive()
        client.send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        client.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"gated","arguments":{}}}"#)
        // A liveness bound, not a timing assertion (a loaded two-core CI can take over a minute for the first call
        // through a vault). Without the call running, stop() would end the session before the request is read and
        // the answer awaited below would never come: fail instead of hanging.
        for _ in 0..<30_000 where !gate.started { try await Task.sleep(for: .milliseconds(10)) }
        guard gate.started else {
            Issue.record("the gated call never started in the vault")
            server.stop()
            client.closeInput()
            return
        }

        server.stop()
        #expect(!FileManager.default.fileExists(atPath: socket))
        await #expect(throws: VaultError.self) {
            _ = try await VaultRelay.connect(socketPath: socket, agent: nil, pageSize: 100)
        }

        gate.open()
        let answer = try await client.receive()
        #expect(answer["id"] == 2)
        let text = answer["result"]?.objectValue?["content"]?.arrayValue?.first?.objectValue?["text"]?.stringValue
        #expect(text == "finished after the stop", "the running call's result")
        #expect(await session.value == .vaultClosed)
        // The front has not closed its connection: the vault ends it itself once nothing runs on it.
        #expect(await finishes(running, within: 20), "run() did not return after stop() with a front connected")
    }
}
