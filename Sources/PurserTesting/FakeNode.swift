import Foundation
public import JSONCore
public import Synchronization
public import X402

/// An in-memory Ethereum node behind X402's `HTTPTransport`: blocks with timestamps, EIP-3009 authorization
/// states per block, and receipts with logs, answering the JSON-RPC methods settlement evidence uses.
/// `finalized` and `safe` trail the head by a set number of blocks (none by default, as in eth-tester),
/// and a node can be made not to know them. It answers JSON-RPC batches (an array of calls in one POST)
/// unless told to refuse them, and `eth_getLogs` topic OR-lists.
public final class FakeNode: HTTPTransport {
    /// One event log in a receipt.
    public struct Log: Sendable {
        public var address: String
        public var topics: [String]
        public var data: String
        public var transaction: String

        /// Creates a log.
        public init(address: String, topics: [String], data: String, transaction: String) {
            self.address = address
            self.topics = topics
            self.data = data
            self.transaction = transaction
        }
    }

    /// Rewrites a method's result given its params.
    public typealias Rewrite = @Sendable (_ params: [JSONValue], _ result: JSONValue) -> JSONValue

    /// The chain as the node sees it; tests read and change it under `state.withLock`.
    public struct State: Sendable {
        public var chainID: UInt64 = 84532
        public var block: UInt64 = 100
        public var timestamp: UInt64 = 1_800_000_000
        public var used: [String: UInt64] = [:]  // "token|authorizer|nonce", lower case → block it was used in
        public var timestamps: [UInt64: UInt64] = [100: 1_800_000_000]  // block → timestamp, from block 100 on
        public var finalizedLag: UInt64 = 0
        public var safeLag: UInt64 = 0
        public var knownTags: Set<String> = ["latest", "safe", "finalized"]
        public var nullTags: Set<String> = []  // tags answered with a null block
        public var blocksAsked: [String] = []  // eth_getBlockByNumber's first parameter, in order
        public var receipts: [String: (status: UInt64, block: UInt64, logs: [Log])] = [:]
        public var unreachable = false
        public var lie: JSONValue?  // answer every call with this instead
        /// Rewrites the result of one method (given its params), as a broken or hostile node would.
        public var rewrite: [String: Rewrite] = [:]
        public var calls: [String] = []
        /// The widest `eth_getLogs` range answered; a wider one gets the JSON-RPC error a hosted node sends.
        public var maximumLogRange: UInt64?
        /// Every `eth_getLogs` range asked, in order (refused ones included).
        public var logRanges: [ClosedRange<UInt64>] = []
        /// One entry per POST: how many calls it carried (1 for a lone call, the array's length for a batch).
        public var posts: [Int] = []
        /// How the node answers a batch: nil takes it; otherwise the whole answer, as a node that does not
        /// take batches (or takes them badly) sends it.
        public var batchRefusal: HTTPResponse?
        /// Rewrites a batch's array of honest answers (reorders, drops, duplicates), as a hostile node would.
        public var batchRewrite: (@Sendable ([JSONValue]) -> JSONValue)?

        /// Block 100, chain 84532, nothing used, every tag known and final.
        public init() {}
    }

    public let state = Mutex(State())

    /// A node at block 100 of chain 84532 that knows every tag, with nothing used or mined.
    public init() {}

    public static let usedTopic = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
    public static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

    /// A 20-byte address as a 32-byte topic.
    public static func pad(_ address: String) -> String {
        "0x" + String(repeating: "0", count: 24) + address.dropFirst(2).lowercased()
    }

    /// Settles an authorization the way a token does: marks it used, emits both events in `transaction`.
    public func settle(
        token: String, authorizer: String, nonce: String, payTo: String, amount: UInt64, transaction: String
    ) {
        state.withLock { state in
            state.block += 1
            state.timestamps[state.block] = state.timestamp
            state.used["\(token)|\(authorizer)|\(nonce)".lowercased()] = state.block
            let data =
                "0x" + String(repeating: "0", count: 64 - String(amount, radix: 16).count)
                + String(amount, radix: 16)
            state.receipts[transaction.lowercased()] = (
                1, state.block,
                [
                    Log(
                        address: token.lowercased(),
                        topics: [Self.usedTopic, Self.pad(authorizer), nonce.lowercased()],
                        data: "0x", transaction: transaction.lowercased()),
                    Log(
                        address: token.lowercased(),
                        topics: [Self.transferTopic, Self.pad(authorizer), Self.pad(payTo)],
                        data: data, transaction: transaction.lowercased()),
                ]
            )
        }
    }

    /// Mines one empty block `seconds` after the head.
    public func mine(seconds: UInt64) {
        state.withLock {
            $0.block += 1
            $0.timestamp += seconds
            $0.timestamps[$0.block] = $0.timestamp
        }
    }

    /// Mines `count` empty blocks, each `seconds` after the one before.
    public func mine(blocks count: Int, seconds: UInt64) {
        for _ in 0..<count { mine(seconds: seconds) }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try JSONParser.parse(request.body)
        return try state.withLock { state in
            let calls = body.arrayValue
            state.posts.append(calls?.count ?? 1)
            if state.unreachable { throw HTTPTransportError(.cannotConnect, "connection refused") }
            let answer: JSONValue
            if let calls {
                if let refusal = state.batchRefusal { return refusal }
                let answers = calls.map { self.answer(to: $0, &state) }
                answer = state.batchRewrite.map { $0(answers) } ?? .array(answers)
            } else {
                answer = self.answer(to: body, &state)
            }
            return HTTPResponse(
                status: 200, headers: ["Content-Type": "application/json"], body: answer.serializedBytes())
        }
    }

    private func answer(to body: JSONValue, _ state: inout State) -> JSONValue {
        let method = body["method"]?.stringValue ?? ""
        let params = body["params"]?.arrayValue ?? []
        let id = body["id"] ?? .null
        state.calls.append(method)
        if let lie = state.lie { return lie }
        if method == "eth_getBlockByNumber", let tag = params.first?.stringValue, !tag.hasPrefix("0x"),
            !state.knownTags.contains(tag)
        {
            state.blocksAsked.append(tag)
            // What geth answers for a tag it does not know.
            let message = "invalid argument 0: hex string without 0x prefix"
            return ["jsonrpc": "2.0", "id": id, "error": ["code": -32602, "message": .string(message)]]
        }
        if method == "eth_getLogs" {
            let first = Self.number(params.first?["fromBlock"]?.stringValue ?? "0x0", state)
            let last = Self.number(params.first?["toBlock"]?.stringValue ?? "latest", state)
            state.logRanges.append(first...max(first, last))
            if let widest = state.maximumLogRange, last >= first, last - first + 1 > widest {
                // As hosted nodes refuse a range wider than their limit (Alchemy, Infura and others: -32005 or
                // -32600 with a message naming the limit).
                let message = "eth_getLogs is limited to a \(widest) block range"
                return ["jsonrpc": "2.0", "id": id, "error": ["code": -32005, "message": .string(message)]]
            }
        }
        let honest = result(method, params, &state)
        return ["jsonrpc": "2.0", "id": id, "result": state.rewrite[method].map { $0(params, honest) } ?? honest]
    }

    private func result(_ method: String, _ params: [JSONValue], _ state: inout State) -> JSONValue {
        func hex(_ value: UInt64) -> JSONValue { .string("0x" + String(value, radix: 16)) }
        switch method {
        case "eth_chainId": return hex(state.chainID)
        case "eth_getBlockByNumber":
            let tag = params.first?.stringValue ?? "latest"
            state.blocksAsked.append(tag)
            if state.nullTags.contains(tag) { return .null }
            let number = Self.number(tag, state)
            return ["number": hex(number), "timestamp": hex(Self.timestamp(of: number, state))]
        case "eth_call":
            let to = params.first?["to"]?.stringValue?.lowercased() ?? ""
            let data = params.first?["data"]?.stringValue?.lowercased() ?? ""
            let authorizer = "0x" + data.dropFirst(10 + 24).prefix(40)
            let nonce = "0x" + data.dropFirst(10 + 64).prefix(64)
            let at = Self.number(params.dropFirst().first?.stringValue ?? "latest", state)
            let used = state.used["\(to)|\(authorizer)|\(nonce)"].map { $0 <= at } ?? false
            return .string("0x" + String(repeating: "0", count: 63) + (used ? "1" : "0"))
        case "eth_getTransactionReceipt":
            let hash = params.first?.stringValue?.lowercased() ?? ""
            guard let receipt = state.receipts[hash] else { return .null }
            return [
                "transactionHash": .string(hash), "status": hex(receipt.status), "blockNumber": hex(receipt.block),
                "logs": .array(receipt.logs.map { Self.json($0) }),
            ]
        case "eth_getLogs":
            let filter = params.first
            let address = filter?["address"]?.stringValue?.lowercased()
            // Each topic position: one value, an OR-list, or null (any).
            let topics: [Set<String>?] = (filter?["topics"]?.arrayValue ?? []).map { topic in
                if let one = topic.stringValue { return [one.lowercased()] }
                return topic.arrayValue.map { Set($0.compactMap { $0.stringValue?.lowercased() }) }
            }
            let first = Self.number(filter?["fromBlock"]?.stringValue ?? "0x0", state)
            let last = Self.number(filter?["toBlock"]?.stringValue ?? "latest", state)
            let receipts = state.receipts.values.filter { $0.block >= first && $0.block <= last }
            let logs = receipts.sorted { $0.block < $1.block }.flatMap { receipt in
                receipt.logs.filter { log in
                    log.address == address && log.topics.count >= topics.count
                        && zip(log.topics, topics).allSatisfy { topic, wanted in wanted?.contains(topic) ?? true }
                }.map { (log: $0, block: receipt.block) }
            }
            return .array(logs.map { Self.json($0.log, block: $0.block) })
        default: return .null
        }
    }

    /// The number a block parameter names: a tag, or a hex quantity.
    private static func number(_ tag: String, _ state: State) -> UInt64 {
        switch tag {
        case "latest": return state.block
        case "finalized": return state.block - min(state.block, state.finalizedLag)
        case "safe": return state.block - min(state.block, state.safeLag)
        default: return UInt64(tag.dropFirst(2), radix: 16) ?? state.block
        }
    }

    /// Block 100 and later as mined; earlier blocks 12 s apart.
    private static func timestamp(of number: UInt64, _ state: State) -> UInt64 {
        if number < 100 { return 1_800_000_000 - (100 - number) * 12 }
        if let mined = state.timestamps[number] { return mined }
        return state.timestamps.filter { $0.key <= number }.max { $0.key < $1.key }?.value ?? state.timestamp
    }

    /// A log as a node writes it; `eth_getLogs` entries also carry their block (receipts' logs here do not,
    /// which a node may also do).
    private static func json(_ log: Log, block: UInt64? = nil) -> JSONValue {
        var object: JSONValue = [
            "address": .string(log.address), "topics": .array(log.topics.map { .string($0) }),
            "data": .string(log.data), "transactionHash": .string(log.transaction), "removed": false,
        ]
        if let block, case .object(var fields) = object {
            fields["blockNumber"] = .string("0x" + String(block, radix: 16))
            object = .object(fields)
        }
        return object
    }
}
