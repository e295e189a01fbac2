import FoundationEssentials
public import JSONCore
import Synchronization

/// The owner's side of one vault connection: sends frames and matches answers to requests by id.
final class VaultConnection: Sendable {
    private struct State {
        var pending: [Int64: CheckedContinuation<JSONObject, Never>] = [:]
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
            state.withLock { $0.pending.removeValue(forKey: id) }?.resume(returning: frame)
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
            for continuation in pending.values { continuation.resume(returning: closed) }
            channel.close()
        }
    }

    /// Sends `frame` with a fresh id and waits for its final answer (`closed` when the connection drops).
    func request(_ frame: JSONObject) async -> JSONObject {
        await withCheckedContinuation { (continuation: CheckedContinuation<JSONObject, Never>) in
            let id = state.withLock { state -> Int64? in
                guard !state.closed else { return nil }
                state.nextID += 1
                state.pending[state.nextID] = continuation
                return state.nextID
            }
            guard let id else {
                continuation.resume(returning: ["type": "closed", "message": "the vault connection is closed"])
                return
            }
            var body = frame
            body["id"] = .number(JSONNumber(id))
            if !channel.send(body) {
                state.withLock { $0.pending.removeValue(forKey: id) }?.resume(returning: [
                    "type": "closed", "message": "the vault connection is closed",
                ])
            }
        }
    }

    /// Closes the connection; pending requests get `closed`.
    func close() { channel.close() }
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
