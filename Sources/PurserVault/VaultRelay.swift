import FoundationEssentials
import JSONCore
import POSIXThread
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The transport of `purser serve --vault`: after a framed handshake, the client's MCP lines go to the vault
/// as they are, and the vault's lines come back as they are.
///
/// Why bytes and not calls: the front used to be a whole MCP server that decoded each request, re-encoded it
/// as a `call` frame, and did the same for the answer. Measured, most of that hop was not the socket but the
/// front's thread wake-ups (stdin reader → stream → task → socket reader → task → writer) and its JSON work.
/// Now the vault runs the MCP session itself (the same ``MCP/MCPServer`` as single-user `purser serve`, with
/// the same bounds on lines and concurrent requests), and the front is two threads, each a `read(2)` and a
/// `write(2)` per message. The front parses nothing and decides nothing; it holds no key, secret or ledger.
public final class VaultRelay: Sendable {
    /// How a relay ended.
    public enum End: Sendable, Equatable {
        /// The client closed its input; the vault then answered what was running and closed.
        case clientClosed
        /// The vault closed the connection while the client was still connected (stopped, or killed).
        case vaultClosed
        /// The client's output is gone (it stopped reading); the vault connection was shut down.
        case clientGone
    }

    /// The agent the vault lets this connection act as.
    public let agent: String
    private let channel: FrameChannel

    private init(channel: FrameChannel, agent: String) {
        self.channel = channel
        self.agent = agent
    }

    /// Connects to the vault at `socketPath`, asks for an MCP session as `agent` (nil: the one agent this OS
    /// user maps to) with `pageSize` tools per `tools/list` page, and waits for the vault's welcome.
    public static func connect(socketPath: String, agent: String?, pageSize: Int) async throws(VaultError)
        -> VaultRelay
    {
        let channel = FrameChannel(descriptor: try UnixSocket.connect(socketPath))
        var hello: JSONObject = [
            "type": "hello", "v": .number(JSONNumber(FrameChannel.protocolVersion)), "role": "agent",
            "session": "mcp", "pageSize": .number(JSONNumber(pageSize)),
        ]
        if let agent { hello["agent"] = .string(agent) }
        guard channel.send(hello) else {
            channel.close()
            throw VaultError(.closed, "the vault closed the connection before the handshake")
        }
        // Exactly the welcome: anything after it is the MCP session's.
        let answer = await onDedicatedThread { channel.readFrame() }
        guard case .frame(let frame)? = answer else {
            channel.close()
            if case .violation(let message)? = answer {
                throw VaultError(.protocolViolation, "the vault broke the protocol: \(message)")
            }
            throw VaultError(.closed, "the vault closed the connection without answering")
        }
        switch frame["type"]?.stringValue {
        case "welcome":
            guard frame["v"]?.int64Value == FrameChannel.protocolVersion else {
                channel.close()
                throw VaultError(.protocolViolation, "the vault speaks another protocol version")
            }
            guard let granted = frame["agent"]?.stringValue, frame["session"]?.stringValue == "mcp" else {
                channel.close()
                throw VaultError(
                    .protocolViolation, "the vault's welcome names no agent or no MCP session (an older vault?)")
            }
            return VaultRelay(channel: channel, agent: granted)
        case "refused":
            channel.close()
            throw VaultError(.forbidden, "the vault refused: \(frame["message"]?.stringValue ?? "no reason given")")
        default:
            channel.close()
            throw VaultError(
                .closed, "the vault closed the connection: \(frame["message"]?.stringValue ?? "no answer")")
        }
    }

    /// Copies `input` to the vault and the vault's answers to `output` until the vault closes the connection.
    /// At the end of `input` the vault is told (half-close) and still answers what is running. The descriptors
    /// are not closed.
    public func run(input: Int32 = 0, output: Int32 = 1) async -> End {
        let socket = channel.fileDescriptor
        let clientClosed = Flag()
        let started = await withCheckedContinuation { (continuation: CheckedContinuation<End?, Never>) in
            let toVault: @Sendable () -> Void = {
                // Client → vault. Any end of input (EOF, a read error, a vault that stopped reading) is the end of
                // the client's requests; whatever is running still answers.
                if Self.copy(from: input, to: socket) != .sinkFailed { clientClosed.set() }
                _ = shutdown(socket, Int32(SHUT_WR))
            }
            let toClient: @Sendable () -> Void = { [channel] in
                // Vault → client: this thread's end is the relay's.
                let end: End
                switch Self.copy(from: socket, to: output) {
                case .sinkFailed:
                    // Nobody reads the answers: end the session, so the vault stops its calls' relaying.
                    channel.close()
                    end = .clientGone
                case .sourceEnded, .sourceFailed:
                    end = clientClosed.isSet ? .clientClosed : .vaultClosed
                }
                continuation.resume(returning: end)
            }
            do {
                try POSIXThread.detach(toClient)
            } catch {
                continuation.resume(returning: nil)
                return
            }
            do {
                try POSIXThread.detach(toVault)
            } catch {
                // The answers' thread runs: closing the connection ends it, and with it the relay.
                channel.close()
            }
        }
        guard let started else {
            // No thread for the vault's answers: nothing was relayed; the session ends as if the vault had.
            channel.close()
            return .vaultClosed
        }
        return started
    }

    /// Closes the connection.
    public func close() { channel.close() }

    private enum CopyEnd { case sourceEnded, sourceFailed, sinkFailed }

    private final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .sequentiallyConsistent) }
        var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    }

    /// Copies until `source` ends: each `read(2)` is written whole before the next, so the bytes of one message
    /// leave in one `write(2)` when they arrived in one read.
    private static func copy(from source: Int32, to sink: Int32) -> CopyEnd {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        return buffer.withUnsafeMutableBytes { raw -> CopyEnd in
            let base = raw.baseAddress!
            while true {
                let got = read(source, base, raw.count)
                if got < 0 {
                    if errno == EINTR { continue }
                    return .sourceFailed
                }
                if got == 0 { return .sourceEnded }
                var offset = 0
                while offset < got {
                    let written = write(sink, base + offset, got - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return .sinkFailed
                    }
                    offset += written
                }
            }
        }
    }
}

/// Runs blocking work (a socket read) on its own thread: never on one of the cooperative pool's few threads.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        do {
            try POSIXThread.detach { continuation.resume(returning: body()) }
        } catch {
            // No thread to spare: run it here (a short handshake read) rather than fail the connection.
            continuation.resume(returning: body())
        }
    }
}
