import FoundationEssentials
public import JSONCore
public import MCP
import Synchronization

/// The front's side of one vault connection: sends frames, matches answers to requests by id, and hands
/// the frames a call produces on the way (progress, log, elicit) to that call's handler.
final class VaultConnection: Sendable {
    typealias Handler = @Sendable (JSONObject) -> Void

    private struct Pending {
        var continuation: CheckedContinuation<JSONObject, Never>
        var onEvent: Handler?
    }

    private struct State {
        var pending: [Int64: Pending] = [:]
        var nextID: Int64 = 0
        var closed = false
        var welcome: CheckedContinuation<JSONObject, Never>?
        var closeReason = "the vault closed the connection"
    }

    private let channel: FrameChannel
    private let state = Mutex(State())

    private init(channel: FrameChannel) {
        self.channel = channel
    }

    /// Connects, says hello with `hello` fields, and returns the connection and the vault's welcome.
    static func open(socketPath: String, hello: JSONObject) async throws(VaultError) -> (VaultConnection, JSONObject) {
        let descriptor = try UnixSocket.connect(socketPath)
        let connection = VaultConnection(channel: FrameChannel(descriptor: descriptor))
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<JSONObject, Never>) in
            connection.state.withLock { $0.welcome = continuation }
            connection.channel.startReading { connection.receive($0) }
            var frame = hello
            frame["type"] = "hello"
            frame["v"] = .number(JSONNumber(FrameChannel.protocolVersion))
            connection.channel.send(frame)
        }
        switch answer["type"]?.stringValue {
        case "welcome":
            guard answer["v"]?.int64Value == FrameChannel.protocolVersion else {
                connection.close()
                throw VaultError(.protocolViolation, "the vault speaks another protocol version")
            }
            return (connection, answer)
        case "refused":
            connection.close()
            throw VaultError(.forbidden, "the vault refused: \(answer["message"]?.stringValue ?? "no reason given")")
        default:
            connection.close()
            throw VaultError(
                .closed, "the vault closed the connection: \(answer["message"]?.stringValue ?? "no answer")")
        }
    }

    /// Runs on the reader thread: matches each frame to its request and resumes it right there.
    private func receive(_ item: FrameChannel.Item?) {
        switch item {
        case .violation(let message):
            state.withLock { $0.closeReason = "the vault broke the protocol: \(message)" }
            channel.close()
        case .frame(let frame):
            if let welcome = state.withLock({ state -> CheckedContinuation<JSONObject, Never>? in
                defer { state.welcome = nil }
                return state.welcome
            }) {
                welcome.resume(returning: frame)
                return
            }
            guard let id = frame["id"]?.int64Value else {
                if frame["type"]?.stringValue == "violation" {
                    let message = frame["message"]?.stringValue ?? ""
                    state.withLock { $0.closeReason = "the vault reported a protocol violation: \(message)" }
                }
                return
            }
            switch frame["type"]?.stringValue {
            case "progress", "log", "elicit":
                state.withLock { $0.pending[id]?.onEvent }?(frame)
            default:
                state.withLock { $0.pending.removeValue(forKey: id) }?.continuation.resume(returning: frame)
            }
        case nil:
            let (pending, welcome, reason) = state.withLock { state in
                state.closed = true
                defer {
                    state.pending = [:]
                    state.welcome = nil
                }
                return (state.pending, state.welcome, state.closeReason)
            }
            let closed: JSONObject = ["type": "closed", "message": .string(reason)]
            welcome?.resume(returning: closed)
            for entry in pending.values { entry.continuation.resume(returning: closed) }
            channel.close()
        }
    }

    /// Sends `frame` with a fresh id and waits for its final answer (`closed` when the connection drops).
    func request(_ frame: JSONObject, onEvent: Handler? = nil, onID: @Sendable (Int64) -> Void = { _ in }) async
        -> JSONObject
    {
        await withCheckedContinuation { (continuation: CheckedContinuation<JSONObject, Never>) in
            let id = state.withLock { state -> Int64? in
                guard !state.closed else { return nil }
                state.nextID += 1
                state.pending[state.nextID] = Pending(continuation: continuation, onEvent: onEvent)
                return state.nextID
            }
            guard let id else {
                continuation.resume(returning: ["type": "closed", "message": "the vault connection is closed"])
                return
            }
            onID(id)
            var body = frame
            body["id"] = .number(JSONNumber(id))
            if !channel.send(body) {
                state.withLock { $0.pending.removeValue(forKey: id) }?.continuation.resume(returning: [
                    "type": "closed", "message": "the vault connection is closed",
                ])
            }
        }
    }

    /// Sends a frame that needs no answer.
    func send(_ frame: JSONObject) { channel.send(frame) }

    /// Closes the connection; pending requests get `closed`.
    func close() { channel.close() }
}

/// Tools served by the vault through framed calls: every `tools/list` and `tools/call` goes to the vault over
/// its socket, and the vault's progress, log and elicitation frames come back to this client. Holds no key,
/// no secret and no ledger. (`purser serve --vault` uses ``VaultRelay`` instead: the vault runs the whole MCP
/// session, which costs the front no JSON and no task hand-offs.)
public final class VaultToolProvider: ToolProvider {
    private let connection: VaultConnection
    /// The agent the vault let this connection act as.
    public let agent: String

    private init(connection: VaultConnection, agent: String) {
        self.connection = connection
        self.agent = agent
    }

    /// Connects to the vault at `socketPath` and asks to act as `agent` (nil: the one agent this OS user maps to).
    public static func connect(socketPath: String, agent: String?) async throws(VaultError) -> VaultToolProvider {
        var hello: JSONObject = ["role": "agent"]
        if let agent { hello["agent"] = .string(agent) }
        let (connection, welcome) = try await VaultConnection.open(socketPath: socketPath, hello: hello)
        guard let granted = welcome["agent"]?.stringValue else {
            connection.close()
            throw VaultError(.protocolViolation, "the vault's welcome names no agent")
        }
        return VaultToolProvider(connection: connection, agent: granted)
    }

    /// Closes the connection.
    public func close() { connection.close() }

    public func tools(for client: ClientDescription) async -> [ToolDescription] {
        let answer = await connection.request(["type": "list", "client": VaultWire.encode(client)])
        // tools/list cannot fail in this seam: no vault, no tools (and nothing to call).
        guard answer["type"]?.stringValue == "tools", let list = answer["tools"]?.arrayValue else { return [] }
        var tools: [ToolDescription] = []
        for item in list {
            guard let tool = try? VaultWire.tool(item) else { return [] }
            tools.append(tool)
        }
        return tools
    }

    public func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        let frame: JSONObject = [
            "type": "call", "name": .string(name), "arguments": .object(arguments),
            "era": VaultWire.encode(context.era),
            "client": VaultWire.encode(context.client), "meta": .object(context.meta),
            "params": .object(context.params),
            // The vault sends no log frame below this level (none when null): the client would drop them anyway.
            "logLevel": context.logLevel.map { .string($0.rawValue) } ?? .null,
        ]
        let connection = self.connection
        let callID = Mutex<Int64?>(nil)
        let answer = await withTaskCancellationHandler {
            await connection.request(
                frame,
                onEvent: { event in
                    Task { await Self.relay(event, context: context, connection: connection) }
                }, onID: { id in callID.withLock { $0 = id } })
        } onCancel: {
            if let id = callID.withLock({ $0 }) { connection.send(["type": "cancel", "id": .number(JSONNumber(id))]) }
        }
        do {
            switch answer["type"]?.stringValue {
            case "complete":
                return .complete(try VaultWire.result(answer["result"]))
            case "inputRequired":
                guard let requests = answer["inputRequests"]?.objectValue,
                    let state = answer["requestState"]?.stringValue
                else { throw VaultWire.Malformed("\"inputRequired\" needs \"inputRequests\" and \"requestState\"") }
                return .inputRequired(inputRequests: requests, requestState: state)
            case "error":
                throw try VaultWire.mcpError(answer["error"])
            default:
                // Closed mid-call: the vault (not this front) holds the outcome; say so instead of guessing.
                throw MCPError(
                    code: -32603,
                    message:
                        "\(answer["message"]?.stringValue ?? "the vault connection closed") during the call; if it was a paid call its outcome is recorded by the vault. Retry with the same idempotency key to get the recorded result, never with a new key."
                )
            }
        } catch let error as VaultWire.Malformed {
            throw MCPError(code: -32603, message: "the vault sent a malformed answer: \(error.message)")
        } catch let error as MCPError {
            throw error
        } catch {
            throw MCPError(code: -32603, message: "the vault call failed")
        }
    }

    private static func relay(_ event: JSONObject, context: ToolCallContext, connection: VaultConnection) async {
        switch event["type"]?.stringValue {
        case "progress":
            guard let progress = event["progress"]?.int64Value else { return }
            await context.reportProgress(
                Int(clamping: progress), event["total"]?.int64Value.map { Int(clamping: $0) },
                event["message"]?.stringValue)
        case "log":
            guard let level = event["level"]?.stringValue.flatMap(LogLevel.init(rawValue:)), let data = event["data"]
            else { return }
            await context.log(level, data)
        case "elicit":
            guard let ask = event["ask"], let params = event["params"]?.objectValue else { return }
            do {
                let result = try await context.elicit(params)
                connection.send(["type": "elicitResult", "ask": ask, "result": .object(result)])
            } catch {
                connection.send(["type": "elicitResult", "ask": ask, "error": VaultWire.encode(error)])
            }
        default:
            return
        }
    }
}

/// The owner's side: connects in the owner role, fetches the public owner record, sends signed requests.
public final class VaultOwnerClient: Sendable {
    private let connection: VaultConnection
    /// The owner record the vault holds (address, KDF parameters, salt): public, needed to derive the key.
    public let record: JSONValue

    private init(connection: VaultConnection, record: JSONValue) {
        self.connection = connection
        self.record = record
    }

    /// Connects to the vault at `socketPath` as the owner.
    public static func connect(socketPath: String) async throws(VaultError) -> VaultOwnerClient {
        let (connection, welcome) = try await VaultConnection.open(socketPath: socketPath, hello: ["role": "owner"])
        guard let record = welcome["owner"] else {
            connection.close()
            throw VaultError(.protocolViolation, "the vault's welcome has no owner record")
        }
        return VaultOwnerClient(connection: connection, record: record)
    }

    /// Sends one signed request (its wire form) and returns whether it was accepted, with the vault's message.
    public func send(_ request: JSONValue) async -> (accepted: Bool, code: String?, message: String) {
        let answer = await connection.request(["type": "owner", "request": request])
        guard answer["type"]?.stringValue == "ownerResult", let accepted = answer["accepted"]?.boolValue else {
            return (false, "closed", answer["message"]?.stringValue ?? "the vault closed the connection")
        }
        return (accepted, answer["code"]?.stringValue, answer["message"]?.stringValue ?? "")
    }

    /// Closes the connection.
    public func close() { connection.close() }
}
