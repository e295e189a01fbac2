public import FoundationEssentials
public import JSONCore
import Synchronization
public import X402

/// An Ethereum JSON-RPC client over any `HTTPTransport`, for one node.
///
/// Each call is bounded in time (`timeoutSeconds`, after which the answer is ignored) and size
/// (`maximumResponseBytes`), and every answer is validated: JSON-RPC 2.0, the id sent, a `result` of the
/// expected shape. The node's URL and headers (which may hold a credential) never appear in errors.
public struct EthereumRPC: Sendable {
    /// Where the node is and how long to wait.
    public struct Endpoint: Sendable {
        /// The node's HTTP(S) URL.
        public var url: URL
        /// Extra headers (e.g. `Authorization`), values resolved from the environment by the caller.
        public var headers: HTTPHeaders
        /// Longest wait for one answer.
        public var timeoutSeconds: Double
        /// Largest answer accepted (a batch's whole answer included).
        public var maximumResponseBytes: Int
        /// Most calls sent in one JSON-RPC batch (one POST); 1 sends every call on its own.
        public var batchSize: Int

        /// The default `batchSize`: geth accepts 1,000 calls per batch, hosted nodes often fewer; 100 calls of
        /// settlement evidence answer within a few hundred kilobytes, and even the slow test node (eth-tester,
        /// ~20 ms per `eth_call`) answers them well inside the default 10 s.
        public static let defaultBatchSize = 100

        /// Creates an endpoint.
        public init(
            url: URL, headers: HTTPHeaders = [:], timeoutSeconds: Double = 10, maximumResponseBytes: Int = 4 << 20,
            batchSize: Int = defaultBatchSize
        ) {
            self.url = url
            self.headers = headers
            self.timeoutSeconds = timeoutSeconds
            self.maximumResponseBytes = maximumResponseBytes
            self.batchSize = max(1, batchSize)
        }
    }

    let transport: any HTTPTransport
    let endpoint: Endpoint
    let counter = Counter()

    /// Creates a client for `endpoint`.
    public init(transport: any HTTPTransport, endpoint: Endpoint) {
        self.transport = transport
        self.endpoint = endpoint
    }

    /// One JSON-RPC call; returns `result` (never null-checked here: callers decide what null means).
    public func call(_ method: String, _ params: [JSONValue]) async throws(ChainError) -> JSONValue {
        let id = counter.next()
        let response = try await post(Self.envelope(id: id, method, params), method: method)
        guard (200..<300).contains(response.status) else {
            throw ChainError(.nodeError, "\(method): HTTP status \(response.status)")
        }
        return try Self.result(of: try parse(response, method: method), id: id, method: method)
    }

    /// The request object of one call.
    static func envelope(id: Int64, _ method: String, _ params: [JSONValue]) -> JSONValue {
        ["jsonrpc": "2.0", "id": .number(JSONNumber(id)), "method": .string(method), "params": .array(params)]
    }

    /// POSTs `body` to the node, bounded in time.
    func post(_ body: JSONValue, method: String) async throws(ChainError) -> HTTPResponse {
        var headers = endpoint.headers
        headers.set(name: "Content-Type", value: "application/json")
        let request = HTTPRequest(method: "POST", url: endpoint.url, headers: headers, body: body.serializedBytes())
        return try await send(request, method: method)
    }

    /// The answer's JSON, bounded in size.
    func parse(_ response: HTTPResponse, method: String) throws(ChainError) -> JSONValue {
        guard response.body.count <= endpoint.maximumResponseBytes else {
            throw ChainError(.invalidAnswer, "\(method): answer larger than \(endpoint.maximumResponseBytes) bytes")
        }
        do {
            return try JSONParser.parse(response.body)
        } catch {
            throw ChainError(.invalidAnswer, "\(method): the answer is not JSON (\(error))")
        }
    }

    /// The `result` of one JSON-RPC 2.0 answer to call `id`; its `error` as `.rpcError`.
    static func result(of answer: JSONValue, id: Int64, method: String) throws(ChainError) -> JSONValue {
        guard case .object(let object) = answer, object["jsonrpc"] == "2.0", answerID(object) == id else {
            throw ChainError(.invalidAnswer, "\(method): not a JSON-RPC 2.0 answer to this request")
        }
        if let error = object["error"], error != .null {
            let message = error["message"]?.stringValue.map { String($0.prefix(200)) } ?? "no message"
            throw ChainError(.rpcError, "\(method): \(message)")
        }
        guard let result = object["result"] else { throw ChainError(.invalidAnswer, "\(method): no result") }
        return result
    }

    /// An answer's numeric id, when it is an integer.
    static func answerID(_ object: JSONObject) -> Int64? {
        object["id"]?.numberValue.flatMap { Int64($0.description) }
    }

    /// `eth_chainId`.
    public func chainID() async throws(ChainError) -> UInt64 {
        guard let text = try await call("eth_chainId", []).stringValue, let id = ABI.quantity(text) else {
            throw ChainError(.invalidAnswer, "eth_chainId: not a quantity")
        }
        return id
    }

    /// The latest block's number and timestamp (unix seconds).
    public func latestBlock() async throws(ChainError) -> (number: UInt64, timestamp: UInt64) {
        guard let block = try await block(.latest) else {
            throw ChainError(.invalidAnswer, "eth_getBlockByNumber: no latest block")
        }
        return (block.number, block.timestamp)
    }

    /// The block a tag names, or nil when the node does not know the tag (it answers with a JSON-RPC error
    /// or a null block, as nodes without `safe`/`finalized` do). Transport and malformed answers throw.
    public func block(_ tag: BlockTag) async throws(ChainError) -> BlockHeader? {
        let block: JSONValue
        do {
            block = try await call("eth_getBlockByNumber", [.string(tag.rawValue), false])
        } catch {
            guard error.code == .rpcError else { throw error }
            return nil
        }
        if block == .null { return nil }
        return try BlockHeader(block)
    }

    /// The block with this number (it must exist, and be the block asked for).
    public func block(number: UInt64) async throws(ChainError) -> BlockHeader {
        let call = Call.block(number: number)
        return try Call.blockResult(try await self.call(call.method, call.params), number: number)
    }

    /// The newest block no reorg is expected to undo, by `FinalityRule`: the node's `finalized` block, else
    /// its `safe` block, else `confirmations` blocks below `latest` (the genesis block on a younger chain).
    public func finalBlock(confirmations: UInt64) async throws(ChainError) -> FinalBlock {
        if let finalized = try await self.block(.finalized) { return FinalBlock(header: finalized, basis: .finalized) }
        if let safe = try await self.block(.safe) { return FinalBlock(header: safe, basis: .safe) }
        let latest = try await latestBlock()
        let number = latest.number >= confirmations ? latest.number - confirmations : 0
        return FinalBlock(header: try await self.block(number: number), basis: .confirmations(confirmations))
    }

    /// EIP-3009 `authorizationState(authorizer, nonce)` on `token` at `block`: true when used or canceled.
    public func authorizationState(token: String, authorizer: String, nonce: String, block: UInt64)
        async throws(ChainError) -> Bool
    {
        let call = try Call.authorizationState(token: token, authorizer: authorizer, nonce: nonce, block: block)
        return try Call.authorizationStateResult(try await self.call(call.method, call.params))
    }

    /// `eth_getTransactionReceipt`; nil when the node does not know the transaction.
    public func transactionReceipt(_ hash: String) async throws(ChainError) -> TransactionReceipt? {
        let call = try Call.transactionReceipt(hash)
        return try Call.transactionReceiptResult(try await self.call(call.method, call.params), hash: hash)
    }

    /// `eth_getLogs` for `AuthorizationUsed(authorizer, nonce)` on `token`, from `fromBlock` through `toBlock`
    /// (`latest` when nil).
    public func authorizationUsedLogs(
        token: String, authorizer: String, nonce: String, fromBlock: UInt64, toBlock: UInt64? = nil
    ) async throws(ChainError) -> [LogEntry] {
        let query = try AuthorizationUsedQuery(
            token: token, authorizer: authorizer, nonces: [nonce], fromBlock: fromBlock, toBlock: toBlock)
        return try query.logs(try await self.call(query.call.method, query.call.params))
    }

    func send(_ request: HTTPRequest, method: String) async throws(ChainError) -> HTTPResponse {
        let outcome = await Deadline.race(seconds: endpoint.timeoutSeconds) { [transport] in
            try await transport.send(request)
        }
        switch outcome {
        case .value(let response): return response
        case .timedOut: throw ChainError(.unreachable, "\(method): no answer within \(endpoint.timeoutSeconds) s")
        case .failed(let error as HTTPTransportError):
            throw ChainError(.unreachable, "\(method): \(error.code.name)")
        case .failed: throw ChainError(.unreachable, "\(method): transport failure")
        }
    }

    /// Request ids, and whether the node refused a batch (then every later call goes on its own).
    final class Counter: Sendable {
        private let value = Atomic<Int64>(0)
        private let refused = Atomic<Bool>(false)
        func next() -> Int64 { value.wrappingAdd(1, ordering: .relaxed).newValue }
        var batchesRefused: Bool { refused.load(ordering: .relaxed) }
        func refuseBatches() { refused.store(true, ordering: .relaxed) }
    }
}

/// A block tag that names a block by its standing rather than its number.
public enum BlockTag: String, Sendable, Hashable {
    /// The head: a reorg can replace it.
    case latest
    /// Unlikely to be reorged (post-merge Ethereum: justified).
    case safe
    /// Finalized: cannot be reorged without slashing a third of the stake.
    case finalized
}

/// A block's number and timestamp (unix seconds).
public struct BlockHeader: Sendable, Hashable {
    /// The block number.
    public let number: UInt64
    /// The block timestamp, unix seconds.
    public let timestamp: UInt64

    /// Creates a header.
    public init(number: UInt64, timestamp: UInt64) {
        self.number = number
        self.timestamp = timestamp
    }

    init(_ block: JSONValue) throws(ChainError) {
        guard let number = block["number"]?.stringValue.flatMap(ABI.quantity),
            let timestamp = block["timestamp"]?.stringValue.flatMap(ABI.quantity)
        else { throw ChainError(.invalidAnswer, "eth_getBlockByNumber: no number or timestamp") }
        self.init(number: number, timestamp: timestamp)
    }
}

/// The block settlement decisions are taken at, and which rule chose it.
public struct FinalBlock: Sendable, Hashable {
    /// How the block was chosen.
    public enum Basis: Sendable, Hashable, CustomStringConvertible {
        /// The node's `finalized` block.
        case finalized
        /// The node's `safe` block (the node knows no `finalized`).
        case safe
        /// `latest` minus this many blocks (the node knows neither tag).
        case confirmations(UInt64)

        public var description: String {
            switch self {
            case .finalized: return "finalized"
            case .safe: return "safe"
            case .confirmations(let depth): return "latest-\(depth)"
            }
        }
    }

    /// The block.
    public let header: BlockHeader
    /// The rule that chose it.
    public let basis: Basis

    /// Creates a final block.
    public init(header: BlockHeader, basis: Basis) {
        self.header = header
        self.basis = basis
    }
}

/// A transaction receipt, validated.
public struct TransactionReceipt: Sendable, Hashable {
    /// The transaction hash, lower case.
    public let transactionHash: String
    /// True when the transaction succeeded (`status` 0x1).
    public let succeeded: Bool
    /// The block it was included in.
    public let blockNumber: UInt64
    /// Its logs.
    public let logs: [LogEntry]

    init(_ value: JSONValue, expectedHash: String) throws(ChainError) {
        guard let hash = value["transactionHash"]?.stringValue, hash.lowercased() == expectedHash.lowercased(),
            let status = value["status"]?.stringValue.flatMap(ABI.quantity), status <= 1,
            let block = value["blockNumber"]?.stringValue.flatMap(ABI.quantity),
            case .array(let entries)? = value["logs"], entries.count <= 1000
        else { throw ChainError(.invalidAnswer, "eth_getTransactionReceipt: malformed or for another transaction") }
        transactionHash = hash.lowercased()
        succeeded = status == 1
        blockNumber = block
        var logs: [LogEntry] = []
        for entry in entries {
            let log = try LogEntry(entry)
            // A receipt's logs were emitted by its transaction, in its block: anything else is a receipt put
            // together from other transactions' events.
            guard log.transactionHash == transactionHash, log.blockNumber == nil || log.blockNumber == block else {
                throw ChainError(.invalidAnswer, "eth_getTransactionReceipt: a log of another transaction or block")
            }
            logs.append(log)
        }
        self.logs = logs
    }
}

/// One event log, validated: emitting contract, topics (32-byte words), data, transaction.
public struct LogEntry: Sendable, Hashable {
    /// Emitting contract, lower case.
    public let address: String
    /// Topics, lower case `0x` + 64 hex.
    public let topics: [String]
    /// Data bytes.
    public let data: [UInt8]
    /// The transaction that emitted it, lower case.
    public let transactionHash: String
    /// True when a reorganisation removed it.
    public let removed: Bool
    /// The block it is in, when the node says (null or absent for a pending log).
    public let blockNumber: UInt64?

    init(_ value: JSONValue) throws(ChainError) {
        // Strict on every field a decision reads: `data` is `0x`-prefixed hex, `removed` absent or a Boolean
        // (a `"true"` read as "not removed" would count a reorged event), `blockNumber` a quantity or null.
        guard let address = value["address"]?.stringValue, ABI.address(address) != nil,
            case .array(let topicValues)? = value["topics"], topicValues.count <= 4,
            let dataText = value["data"]?.stringValue, dataText.hasPrefix("0x"),
            let data = HexBytes.decodePrefixed(dataText), data.count <= 4096,
            let hash = value["transactionHash"]?.stringValue, ABI.word(hash) != nil,
            value["removed"] == nil || value["removed"]?.boolValue != nil
        else { throw ChainError(.invalidAnswer, "a log entry is malformed") }
        switch value["blockNumber"] {
        case nil, .null?: blockNumber = nil
        case let number?:
            guard let block = number.stringValue.flatMap(ABI.quantity) else {
                throw ChainError(.invalidAnswer, "a log entry's blockNumber is not a quantity")
            }
            blockNumber = block
        }
        var topics: [String] = []
        for topic in topicValues {
            guard let text = topic.stringValue, ABI.word(text) != nil else {
                throw ChainError(.invalidAnswer, "a log topic is not a 32-byte word")
            }
            topics.append(text.lowercased())
        }
        self.address = address.lowercased()
        self.topics = topics
        self.data = data
        self.transactionHash = hash.lowercased()
        self.removed = value["removed"]?.boolValue ?? false
    }
}

/// Runs an operation with a deadline without waiting for it to finish: a transport that ignores
/// cancellation cannot hang the caller.
enum Deadline {
    enum Outcome<Value: Sendable>: Sendable {
        case value(Value)
        case failed(any Error)
        case timedOut
    }

    static func race<Value: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> Value)
        async -> Outcome<Value>
    {
        let once = Mutex<(CheckedContinuation<Outcome<Value>, Never>?, Task<Void, Never>?)>((nil, nil))
        let resume: @Sendable (Outcome<Value>) -> Void = { outcome in
            once.withLock { state in
                state.0?.resume(returning: outcome)
                state.0 = nil
                state.1?.cancel()  // the timer, once anything has answered
            }
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome<Value>, Never>) in
            once.withLock { $0.0 = continuation }
            let work = Task {
                do { resume(.value(try await operation())) } catch { resume(.failed(error)) }
            }
            let timer = Task {
                do {
                    try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
                } catch {
                    return  // cancelled: the operation answered first
                }
                work.cancel()
                resume(.timedOut)
            }
            once.withLock { state in
                if state.0 == nil { timer.cancel() } else { state.1 = timer }
            }
        }
    }
}
