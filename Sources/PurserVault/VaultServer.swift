import CLinux
import Dispatch
import FoundationEssentials
import JSONCore
public import MCP
import OwnerSigning
import POSIXThread
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The vault's socket server: identifies each caller by `SO_PEERCRED`, lets it act only as the agents
/// `agents.json` maps its OS user to, and runs its `tools/list` and `tools/call` through the governed
/// provider, relaying progress, log messages and elicitation round trips to the front (`purser serve
/// --vault`). Owner connections reach only the ``OwnerDesk``, where every act must be signed.
///
/// Protocol (version 1; every frame a JSON object, see ``FrameChannel``):
/// - first frame from the caller: `{"type":"hello","v":1,"role":"agent","agent":"alice"?,"session":"mcp",
///   "pageSize":n?}` or `"role":"owner"`; answered `welcome` or `refused` (then closed). The caller sends
///   nothing more until it has the answer;
/// - agent (what `purser serve --vault` sends): after the welcome (which says `"session":"mcp"`) the
///   connection carries the client's MCP session itself, newline-delimited JSON-RPC both ways, served by the
///   same ``MCP/MCPServer`` as single-user `purser serve` (its bounds on lines and concurrent requests, its log
///   levels, cancellation, both eras) over the governed provider of the agent granted; the front only copies
///   bytes (``VaultRelay``). There is no second way for an agent to call a tool;
/// - owner: `owner {id, request}` → `ownerResult {id, accepted, code?, message}`.
///
/// A frame that breaks the protocol gets `violation` and closes the connection; calls already running finish
/// (their money state is the ledger's, not the connection's).
public final class VaultServer: Sendable {
    /// Builds the tool provider that acts as one agent.
    public typealias ProviderFactory = @Sendable (_ agent: String) -> any ToolProvider

    private let socketPath: String
    private let access: @Sendable () throws(VaultError) -> AgentAccess
    private let makeProvider: ProviderFactory
    private let sessionConfiguration: @Sendable (_ pageSize: Int) -> MCPServer.Configuration
    private let owner: OwnerDesk?
    private let diagnostics: @Sendable (String) -> Void
    private let listener = Mutex<Int32>(-1)
    /// Open connections, so ``stop()`` can end their reading; `nil` once stopped (a connection accepted
    /// after that is not read at all).
    private let openChannels = Mutex<[ObjectIdentifier: FrameChannel]?>([:])

    /// Creates a server.
    /// - Parameters:
    ///   - socketPath: where to listen.
    ///   - access: reads the current OS user → agents mapping (called per connection, so edits apply).
    ///   - makeProvider: the governed provider for one agent.
    ///   - owner: the owner desk, when an owner key is set up.
    ///   - sessionConfiguration: the MCP server settings of an agent's MCP session, given the page size the
    ///     front asked for (the CLI passes what single-user `purser serve` uses).
    ///   - diagnostics: one line per refused connection or protocol violation (stderr; never a secret).
    public init(
        socketPath: String, access: @escaping @Sendable () throws(VaultError) -> AgentAccess,
        makeProvider: @escaping ProviderFactory, owner: OwnerDesk?,
        sessionConfiguration: @escaping @Sendable (_ pageSize: Int) -> MCPServer.Configuration = {
            MCPServer.Configuration(name: "purser-vault", version: "0", pageSize: $0)
        },
        diagnostics: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.socketPath = socketPath
        self.access = access
        self.makeProvider = makeProvider
        self.sessionConfiguration = sessionConfiguration
        self.owner = owner
        self.diagnostics = diagnostics
    }

    /// Binds the socket; call before ``run()`` so a bad path fails before anything is served.
    public func bind() throws(VaultError) {
        let descriptor = try UnixSocket.listen(socketPath)
        listener.withLock { $0 = descriptor }
    }

    /// Accepts connections until ``stop()``, then returns once every open connection has ended.
    public func run() async {
        let descriptor = listener.withLock { $0 }
        guard descriptor >= 0 else { return }
        let (connections, continuation) = AsyncStream<Int32>.makeStream()
        let acceptLoop: @Sendable () -> Void = {
            while true {
                // Close-on-exec from birth (accept4): a connection is never inherited by a spawned command.
                let client = purser_accept_cloexec(descriptor)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    break
                }
                // A front that stops reading must not pin the vault's threads in write(2): after 10 s the
                // write fails and that connection is closed.
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                _ = setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                continuation.yield(client)
            }
            continuation.finish()
        }
        do {
            try POSIXThread.detach(acceptLoop)
        } catch {
            // No accept thread: nothing can be served; run() returns at once and the caller's stop path runs.
            continuation.finish()
        }
        await withTaskGroup(of: Void.self) { group in
            for await client in connections {
                group.addTask { await self.serve(descriptor: client) }
            }
        }
    }

    /// Stops the vault cleanly: stops accepting, removes the socket file, and stops reading from every open
    /// connection, so ``run()`` returns once the calls already running have answered (their money state is
    /// the ledger's either way; nothing new starts). A question still waiting for the front's answer fails,
    /// which the governed call treats as no approval.
    public func stop() {
        listener.withLock { descriptor in
            guard descriptor >= 0 else { return }
            shutdown(descriptor, Int32(SHUT_RDWR))
            close(descriptor)
            descriptor = -1
        }
        unlink(socketPath)
        let channels = openChannels.withLock { connections in
            defer { connections = nil }
            return connections.map { Array($0.values) } ?? []
        }
        for channel in channels { channel.stopReading() }
    }

    // MARK: - One connection

    private enum Role: Sendable {
        /// An agent's MCP session: the connection carries JSON-RPC lines after the welcome.
        case session(any ToolProvider, pageSize: Int)
        case owner(OwnerDesk)
    }

    private func serve(descriptor: Int32) async {
        let channel = FrameChannel(descriptor: descriptor)
        let key = ObjectIdentifier(channel)
        let accepted = openChannels.withLock { connections in
            connections?[key] = channel
            return connections != nil
        }
        defer { _ = openChannels.withLock { $0?.removeValue(forKey: key) } }
        guard accepted else {
            channel.close()
            return
        }
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.of(descriptor)
        } catch {
            diagnostics("purser vault: refused a connection: \(error.message)")
            channel.close()
            return
        }
        // The hello alone, not a byte past it: after the welcome an MCP session's lines follow on this socket.
        switch await onDedicatedThread({ channel.readFrame() }) {
        case nil:
            channel.close()
            return
        case .violation(let message):
            violation(channel, message, peer: peer)
            return
        case .frame(let frame):
            guard let role = hello(frame, channel: channel, peer: peer) else {
                channel.close()
                return
            }
            switch role {
            case .session(let provider, let pageSize):
                // The same server as single-user `purser serve`, on the socket; it returns at the front's end of
                // input (or stop()'s shutdown of reading) once its running calls have answered.
                let server = MCPServer(
                    configuration: sessionConfiguration(pageSize), provider: provider,
                    input: channel.fileDescriptor, output: channel.fileDescriptor)
                await server.run()
            case .owner(let desk):
                // Frames are dispatched on the reader thread; each owner request runs to its answer before the
                // next frame is read.
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    channel.startReading { item in
                        guard let item else {
                            finished.resume()
                            return
                        }
                        self.dispatch(item, desk: desk, channel: channel, peer: peer)
                    }
                }
            }
            channel.close()
        }
    }

    private func dispatch(
        _ item: FrameChannel.Item, desk: OwnerDesk, channel: FrameChannel, peer: PeerCredentials
    ) {
        switch item {
        case .violation(let message):
            violation(channel, message, peer: peer)
        case .frame(let frame):
            guard let type = frame["type"]?.stringValue else {
                violation(channel, "a frame needs a string \"type\"", peer: peer)
                return
            }
            guard type == "owner" else {
                violation(channel, "unexpected frame type \"\(type)\"", peer: peer)
                return
            }
            guard let id = frame["id"]?.int64Value, let request = frame["request"] else {
                violation(channel, "\"owner\" needs an integer \"id\" and a \"request\"", peer: peer)
                return
            }
            let diagnostics = self.diagnostics
            // Owner requests run one at a time per connection, in order: the reader waits for each.
            let done = DispatchSemaphore(value: 0)
            Task {
                let outcome = await desk.handle(request)
                var reply: JSONObject = [
                    "type": "ownerResult", "id": .number(JSONNumber(id)), "accepted": .bool(outcome.accepted),
                    "message": .string(outcome.message),
                ]
                if let code = outcome.code { reply["code"] = .string(code) }
                diagnostics(
                    "purser vault: owner request from uid \(peer.uid): "
                        + (outcome.accepted ? "accepted" : "refused (\(outcome.code ?? "?"))"))
                channel.send(reply)
                done.signal()
            }
            done.wait()
        }
    }

    private func violation(_ channel: FrameChannel, _ message: String, peer: PeerCredentials) {
        diagnostics("purser vault: protocol violation from uid \(peer.uid): \(message)")
        channel.send(["type": "violation", "message": .string(message)])
        channel.close()
    }

    private func refuse(_ channel: FrameChannel, _ message: String, peer: PeerCredentials) -> Role? {
        diagnostics("purser vault: refused uid \(peer.uid): \(message)")
        channel.send(["type": "refused", "message": .string(message)])
        return nil
    }

    private func hello(_ frame: JSONObject, channel: FrameChannel, peer: PeerCredentials) -> Role? {
        guard frame["type"]?.stringValue == "hello" else {
            return refuse(channel, "the first frame must be \"hello\"", peer: peer)
        }
        guard frame["v"]?.int64Value == FrameChannel.protocolVersion else {
            return refuse(
                channel, "unsupported vault protocol version (this vault speaks \(FrameChannel.protocolVersion))",
                peer: peer)
        }
        switch frame["role"]?.stringValue {
        case "owner":
            guard let owner else {
                return refuse(channel, "no owner key is set up in this vault (purser vault init)", peer: peer)
            }
            Task {
                let record = await owner.publicRecord
                channel.send(["type": "welcome", "v": 1, "owner": record.json])
            }
            return .owner(owner)
        case "agent":
            let mapping: AgentAccess
            do {
                mapping = try access()
            } catch {
                return refuse(channel, "the vault's agents.json is invalid; no agent may connect", peer: peer)
            }
            let name = PeerCredentials.userName(peer.uid)
            let allowed = mapping.agents(uid: peer.uid, name: name)
            let user = name.map { "\($0) (uid \(peer.uid))" } ?? "uid \(peer.uid)"
            var agent: String
            if let requested = frame["agent"] {
                guard let text = requested.stringValue else {
                    return refuse(channel, "\"agent\" must be a string", peer: peer)
                }
                agent = text
            } else {
                guard allowed.count == 1 else {
                    return refuse(
                        channel,
                        allowed.isEmpty
                            ? "OS user \(user) may not act as any agent (the owner maps users in agents.json)"
                            : "OS user \(user) may act as several agents; name one with --agent", peer: peer)
                }
                agent = allowed[0]
            }
            // Byte for byte: `Array.contains` compares by canonical equivalence, under which "\u{212A}ate-bot"
            // (KELVIN SIGN) is "Kate-bot", while policies, sessions and the ledger see another agent id.
            guard allowed.contains(where: { $0.utf8.elementsEqual(agent.utf8) }) else {
                return refuse(channel, "OS user \(user) may not act as agent \"\(agent)\"", peer: peer)
            }
            switch frame["session"] {
            case "mcp":
                var pageSize = 100
                if let raw = frame["pageSize"] {
                    guard let value = raw.int64Value, (1...1_000_000).contains(value) else {
                        return refuse(channel, "\"pageSize\" must be an integer in 1…1000000", peer: peer)
                    }
                    pageSize = Int(value)
                }
                let governed = makeProvider(agent)
                let provider = mapping.ownerApprovalsOnly ? OwnerApprovalsOnlyProvider(base: governed) : governed
                channel.send(["type": "welcome", "v": 1, "agent": .string(agent), "session": "mcp"])
                return .session(provider, pageSize: pageSize)
            default:
                // An agent reaches its tools only through an MCP session (the framed list/call requests of
                // earlier builds are gone: one path to test and to defend).
                return refuse(channel, "\"session\" must be \"mcp\" (run `purser serve --vault`)", peer: peer)
            }
        default:
            return refuse(channel, "\"role\" must be \"agent\" or \"owner\"", peer: peer)
        }
    }
}
