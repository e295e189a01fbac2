import JSONCore
import Synchronization

/// An MCP server over newline-delimited JSON-RPC, serving both protocol eras from one process.
///
/// The era is chosen by how the client opens: `initialize` selects the legacy era (2025-06-18,
/// 2025-11-25); a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion` is served
/// statelessly (2026-07-28). Requests run concurrently; every response is one whole line; a cancelled
/// request gets no further messages; at end of input the server finishes in-flight work and returns.
public final class MCPServer: Sendable {
    /// Server settings.
    public struct Configuration: Sendable {
        /// `serverInfo.name`.
        public var name: String
        /// `serverInfo.version`.
        public var version: String
        /// Optional `instructions` for the model.
        public var instructions: String?
        /// How many tools one `tools/list` page holds.
        public var pageSize: Int
        /// `ttlMs` on list results in the 2026-07-28 era.
        public var listTTLMilliseconds: Int
        /// Legacy versions, preferred first; an unknown version is answered with the first.
        public var legacyVersions: [String]
        /// Stateless versions.
        public var statelessVersions: [String]
        /// The longest message line accepted; longer lines are dropped unread and answered with an error.
        public var maximumLineLength: Int
        /// How many lines are read ahead of the dispatcher before reading pauses (back-pressure).
        public var maximumQueuedLines: Int
        /// How many requests may run at once. At the limit, reading pauses until one finishes
        /// (back-pressure), for at most `maximumAdmissionWait`; then, or at once when a running request waits
        /// for the client's answer (pausing could deadlock), the request is answered with `serverBusy`.
        public var maximumConcurrentRequests: Int
        /// How long a request may wait for a free slot before it is refused.
        public var maximumAdmissionWait: Duration

        /// Creates a configuration with the defaults.
        public init(
            name: String, version: String, instructions: String? = nil, pageSize: Int = 100,
            listTTLMilliseconds: Int = 30_000, legacyVersions: [String] = ["2025-11-25", "2025-06-18"],
            statelessVersions: [String] = ["2026-07-28"], maximumLineLength: Int = LineReader.defaultMaximumLineLength,
            maximumQueuedLines: Int = LineReader.defaultMaximumQueuedLines, maximumConcurrentRequests: Int = 16,
            maximumAdmissionWait: Duration = .seconds(5)
        ) {
            self.name = name
            self.version = version
            self.instructions = instructions
            self.pageSize = max(1, pageSize)
            self.listTTLMilliseconds = listTTLMilliseconds
            self.legacyVersions = legacyVersions
            self.statelessVersions = statelessVersions
            self.maximumLineLength = max(1, maximumLineLength)
            self.maximumQueuedLines = max(1, maximumQueuedLines)
            self.maximumConcurrentRequests = max(1, maximumConcurrentRequests)
            self.maximumAdmissionWait = maximumAdmissionWait
        }
    }

    private struct State: Sendable {
        var legacyVersion: String?
        var legacyClient = ClientDescription(info: nil, capabilities: JSONObject())
        var legacyLogLevel: LogLevel?
        var inFlight: [RequestID: Task<Void, Never>] = [:]
        var cancelled: Set<RequestID> = []
        var pendingClientRequests: [RequestID: CheckedContinuation<Result<JSONObject, MCPError>, Never>] = [:]
        var nextClientRequest = 0
        var inputClosed = false
    }

    private static let metaVersionKey = "io.modelcontextprotocol/protocolVersion"
    private static let metaCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities"
    private static let metaClientInfoKey = "io.modelcontextprotocol/clientInfo"
    private static let metaLogLevelKey = "io.modelcontextprotocol/logLevel"
    private static let metaServerInfoKey = "io.modelcontextprotocol/serverInfo"

    private let configuration: Configuration
    private let provider: any ToolProvider
    private let writer: LineWriter
    private let reader: LineReader
    private let state = Mutex(State())
    /// Signalled when a request finishes or starts waiting for the client: a waiting admission re-checks.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: names, versions, paging.
    ///   - provider: the tools.
    ///   - input: descriptor to read messages from (0 for stdin).
    ///   - output: descriptor to write messages to (1 for stdout); nothing else is ever written there.
    public init(configuration: Configuration, provider: any ToolProvider, input: Int32 = 0, output: Int32 = 1) {
        self.configuration = configuration
        self.provider = provider
        self.reader = LineReader(
            fileDescriptor: input, maximumLineLength: configuration.maximumLineLength,
            maximumQueuedLines: configuration.maximumQueuedLines)
        self.writer = LineWriter(fileDescriptor: output)
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Serves until end of input, then waits for in-flight requests and returns.
    public func run() async {
        var wakeups = self.wakeups.makeAsyncIterator()
        for await item in reader.lines() {
            switch item {
            case .oversized:
                await writer.writeLine(
                    MessageEncoding.error(id: nil, error: .messageTooLong(limit: reader.maximumLineLength)))
            case .line(let bytes):
                await handleLine(bytes, wakeups: &wakeups)
            }
        }
        let (running, pending) = state.withLock { state in
            state.inputClosed = true
            let pending = state.pendingClientRequests
            state.pendingClientRequests = [:]
            return (Array(state.inFlight.values), pending)
        }
        for continuation in pending.values {
            continuation.resume(
                returning: .failure(MCPError(code: -32603, message: "the client closed the connection")))
        }
        for task in running { await task.value }
    }

    private func handleLine(_ bytes: [UInt8], wakeups: inout AsyncStream<Void>.Iterator) async {
        switch MessageDecoding.decode(bytes) {
        case .failure(let failure):
            await writer.writeLine(MessageEncoding.error(id: failure.id, error: failure.error))
        case .success(.notification(let method, let params)):
            handleNotification(method: method, params: params)
        case .success(.response(let id, let result)):
            let continuation = state.withLock { $0.pendingClientRequests.removeValue(forKey: id) }
            continuation?.resume(returning: result.map { $0.objectValue ?? JSONObject() })
        case .success(.request(let id, let method, let params)):
            await admit(id: id, method: method, params: params, wakeups: &wakeups)
        }
    }

    private enum Admission {
        case started
        case refused(answerID: RequestID?, MCPError)
        case wait
    }

    /// Starts the request, or waits for a free slot (input is not read meanwhile: back-pressure), or
    /// refuses it.
    private func admit(
        id: RequestID, method: String, params: JSONObject, wakeups: inout AsyncStream<Void>.Iterator
    ) async {
        let limit = configuration.maximumConcurrentRequests
        let deadline = ContinuousClock.now + configuration.maximumAdmissionWait
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        while true {
            let admission = state.withLock { state -> Admission in
                // A duplicate is answered with a null id: an answer carrying the running request's id could be
                // taken for that request's outcome (which may be a payment). The running request still
                // gets its own answer.
                if state.inFlight[id] != nil { return .refused(answerID: nil, .duplicateRequestID(id)) }
                if state.inFlight.count < limit {
                    state.cancelled.remove(id)
                    state.inFlight[id] = Task {
                        await self.serve(id: id, method: method, params: params)
                        _ = self.state.withLock { $0.inFlight.removeValue(forKey: id) }
                        self.wake.yield()
                    }
                    return .started
                }
                // Waiting while a running request needs the client's answer could deadlock: refuse.
                if !state.pendingClientRequests.isEmpty || ContinuousClock.now >= deadline {
                    return .refused(answerID: id, .serverBusy(limit: limit))
                }
                return .wait
            }
            switch admission {
            case .started:
                return
            case .refused(let answerID, let error):
                await writer.writeLine(MessageEncoding.error(id: answerID, error: error))
                return
            case .wait:
                if timer == nil {
                    timer = Task { [wake] in
                        try? await Task.sleep(until: deadline, clock: .continuous)
                        wake.yield()
                    }
                }
                _ = await wakeups.next()
            }
        }
    }

    private func handleNotification(method: String, params: JSONObject) {
        switch method {
        case "notifications/cancelled":
            guard let raw = params["requestId"], let id = RequestID(json: raw) else { return }
            let task = state.withLock { state -> Task<Void, Never>? in
                guard let task = state.inFlight[id] else { return nil }
                state.cancelled.insert(id)
                return task
            }
            task?.cancel()
        default:
            // notifications/initialized and anything unknown need no answer.
            break
        }
    }

    private func isCancelled(_ id: RequestID) -> Bool {
        state.withLock { $0.cancelled.contains(id) }
    }

    private func send(_ line: [UInt8], for id: RequestID) async {
        guard !isCancelled(id) else { return }
        await writer.writeLine(line)
    }

    // MARK: - Dispatch

    private func serve(id: RequestID, method: String, params: JSONObject) async {
        let meta = params["_meta"]?.objectValue ?? JSONObject()
        let outcome: Result<JSONObject, MCPError>
        if let versionValue = meta[Self.metaVersionKey] {
            outcome = await serveStateless(id: id, method: method, params: params, meta: meta, version: versionValue)
        } else {
            outcome = await serveLegacy(id: id, method: method, params: params, meta: meta)
        }
        switch outcome {
        case .success(let result):
            await send(MessageEncoding.response(id: id, result: .object(result)), for: id)
        case .failure(let error):
            await send(MessageEncoding.error(id: id, error: error), for: id)
        }
        _ = state.withLock { $0.cancelled.remove(id) }
    }

    private func serveLegacy(id: RequestID, method: String, params: JSONObject, meta: JSONObject) async
        -> Result<JSONObject, MCPError>
    {
        switch method {
        case "initialize":
            return .success(initialize(params: params))
        case "ping":
            return .success(JSONObject())
        case "server/discover":
            return .success(discoverResult(stateless: false))
        case "logging/setLevel":
            guard let raw = params["level"]?.stringValue, let level = LogLevel(rawValue: raw) else {
                return .failure(.invalidParams("\"level\" must be one of \(LogLevel.allCases.map(\.rawValue))"))
            }
            state.withLock { $0.legacyLogLevel = level }
            return .success(JSONObject())
        case "tools/list":
            let client = state.withLock { $0.legacyClient }
            return await listTools(params: params, client: client, stateless: false)
        case "tools/call":
            let (version, client, level) = state.withLock {
                ($0.legacyVersion ?? configuration.legacyVersions[0], $0.legacyClient, $0.legacyLogLevel)
            }
            return await callTool(
                id: id, params: params, meta: meta, era: .legacy(version: version), client: client, logLevel: level)
        default:
            return .failure(.methodNotFound(method))
        }
    }

    private func serveStateless(
        id: RequestID, method: String, params: JSONObject, meta: JSONObject, version versionValue: JSONValue
    ) async -> Result<JSONObject, MCPError> {
        guard let version = versionValue.stringValue, configuration.statelessVersions.contains(version) else {
            return .failure(
                .unsupportedProtocolVersion(
                    requested: versionValue.stringValue ?? versionValue.serialized(),
                    supported: configuration.statelessVersions + configuration.legacyVersions))
        }
        guard let capabilities = meta[Self.metaCapabilitiesKey]?.objectValue else {
            return .failure(.invalidParams("_meta[\"\(Self.metaCapabilitiesKey)\"] is required"))
        }
        let client = ClientDescription(info: meta[Self.metaClientInfoKey]?.objectValue, capabilities: capabilities)
        let result: Result<JSONObject, MCPError>
        switch method {
        case "server/discover":
            result = .success(discoverResult(stateless: true))
        case "tools/list":
            result = await listTools(params: params, client: client, stateless: true)
        case "tools/call":
            let level = meta[Self.metaLogLevelKey]?.stringValue.flatMap(LogLevel.init(rawValue:))
            result = await callTool(
                id: id, params: params, meta: meta, era: .stateless(version: version), client: client, logLevel: level)
        default:
            return .failure(.methodNotFound(method))
        }
        return result.map { object in
            var decorated = object
            if decorated["resultType"] == nil { decorated["resultType"] = "complete" }
            var resultMeta = decorated["_meta"]?.objectValue ?? JSONObject()
            resultMeta[Self.metaServerInfoKey] = serverInfo
            decorated["_meta"] = .object(resultMeta)
            return decorated
        }
    }

    private var serverInfo: JSONValue {
        ["name": .string(configuration.name), "version": .string(configuration.version)]
    }

    private var capabilities: JSONValue {
        ["tools": ["listChanged": false], "logging": [:]]
    }

    private func initialize(params: JSONObject) -> JSONObject {
        let requested = params["protocolVersion"]?.stringValue ?? ""
        // An unknown version gets a counter-offer of our latest, not an error.
        let version =
            configuration.legacyVersions.contains(requested) ? requested : configuration.legacyVersions[0]
        let client = ClientDescription(
            info: params["clientInfo"]?.objectValue, capabilities: params["capabilities"]?.objectValue ?? JSONObject())
        state.withLock { state in
            state.legacyVersion = version
            state.legacyClient = client
        }
        var result: JSONObject = [
            "protocolVersion": .string(version), "capabilities": capabilities, "serverInfo": serverInfo,
        ]
        if let instructions = configuration.instructions { result["instructions"] = .string(instructions) }
        return result
    }

    private func discoverResult(stateless: Bool) -> JSONObject {
        var result: JSONObject = [
            "supportedVersions": .array(
                (configuration.statelessVersions + configuration.legacyVersions).map { .string($0) }),
            "capabilities": ["tools": ["listChanged": false]],
            "serverInfo": serverInfo,
        ]
        if let instructions = configuration.instructions { result["instructions"] = .string(instructions) }
        result["ttlMs"] = .number(JSONNumber(configuration.listTTLMilliseconds))
        result["cacheScope"] = "private"
        return result
    }

    private func listTools(params: JSONObject, client: ClientDescription, stateless: Bool) async
        -> Result<JSONObject, MCPError>
    {
        var offset = 0
        if let cursor = params["cursor"], !cursor.isNull {
            guard let text = cursor.stringValue, text.hasPrefix("o"), let value = Int(text.dropFirst()), value >= 0
            else { return .failure(.invalidParams("invalid cursor")) }
            offset = value
        }
        let tools = await provider.tools(for: client)
        guard offset <= tools.count else { return .failure(.invalidParams("invalid cursor")) }
        let end = min(tools.count, offset + configuration.pageSize)
        var result: JSONObject = ["tools": .array(tools[offset..<end].map(\.json))]
        if end < tools.count { result["nextCursor"] = .string("o\(end)") }
        if stateless {
            result["ttlMs"] = .number(JSONNumber(configuration.listTTLMilliseconds))
            result["cacheScope"] = "private"
        }
        return .success(result)
    }

    private func callTool(
        id: RequestID, params: JSONObject, meta: JSONObject, era: ProtocolEra, client: ClientDescription,
        logLevel: LogLevel?
    ) async -> Result<JSONObject, MCPError> {
        guard let name = params["name"]?.stringValue else {
            return .failure(.invalidParams("\"name\" must be a string"))
        }
        var arguments = JSONObject()
        if let raw = params["arguments"], !raw.isNull {
            guard let object = raw.objectValue else {
                return .failure(.invalidParams("\"arguments\" must be an object"))
            }
            arguments = object
        }
        let progressToken = meta["progressToken"]
        let context = ToolCallContext(
            era: era, client: client, meta: meta, params: params,
            reportProgress: { [weak self] progress, total, message in
                guard let self, let progressToken, !progressToken.isNull else { return }
                var body: JSONObject = ["progressToken": progressToken, "progress": .number(JSONNumber(progress))]
                if let total { body["total"] = .number(JSONNumber(total)) }
                if let message { body["message"] = .string(message) }
                await self.send(MessageEncoding.notification(method: "notifications/progress", params: body), for: id)
            },
            log: { [weak self] level, data in
                guard let self, let logLevel, level >= logLevel else { return }
                let body: JSONObject = ["level": .string(level.rawValue), "logger": "purser", "data": data]
                await self.send(MessageEncoding.notification(method: "notifications/message", params: body), for: id)
            },
            elicit: { [weak self] (request: JSONObject) async throws(MCPError) -> JSONObject in
                guard let self else { throw MCPError.internalError("server gone") }
                return try await self.askClient(method: "elicitation/create", params: request, era: era, client: client)
            }, logLevel: logLevel)
        do {
            switch try await provider.callTool(name: name, arguments: arguments, context: context) {
            case .complete(let result):
                return .success(result.json)
            case .inputRequired(let inputRequests, let requestState):
                return .success([
                    "resultType": "input_required", "inputRequests": .object(inputRequests),
                    "requestState": .string(requestState),
                ])
            }
        } catch {
            return .failure(error)
        }
    }

    private func askClient(method: String, params: JSONObject, era: ProtocolEra, client: ClientDescription)
        async throws(MCPError) -> JSONObject
    {
        guard case .legacy = era else {
            // 2026-07-28 forbids server-to-client requests; callers use input_required instead.
            throw MCPError.missingCapability(["elicitation": [:]])
        }
        guard client.supportsFormElicitation else { throw MCPError.missingCapability(["elicitation": ["form": [:]]]) }
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<JSONObject, MCPError>, Never>) in
            let id = state.withLock { state -> RequestID? in
                guard !state.inputClosed else { return nil }
                state.nextClientRequest += 1
                let id = RequestID.string("purser-\(state.nextClientRequest)")
                state.pendingClientRequests[id] = continuation
                return id
            }
            // A request waiting for a slot must not wait for this one, which now waits for the client.
            wake.yield()
            guard let id else {
                continuation.resume(
                    returning: .failure(MCPError(code: -32603, message: "the client closed the connection")))
                return
            }
            Task { await writer.writeLine(MessageEncoding.request(id: id, method: method, params: params)) }
        }
        return try result.get()
    }
}
