public import JSONCore
import X402

extension EthereumRPC {
    /// One JSON-RPC call, to send alone or in a batch.
    public struct Call: Sendable, Hashable {
        /// The method, e.g. `eth_call`.
        public var method: String
        /// Its parameters.
        public var params: [JSONValue]

        /// Creates a call.
        public init(_ method: String, _ params: [JSONValue]) {
            self.method = method
            self.params = params
        }

        /// `eth_call` of EIP-3009 `authorizationState(authorizer, nonce)` on `token` at `block`.
        public static func authorizationState(token: String, authorizer: String, nonce: String, block: UInt64)
            throws(ChainError) -> Call
        {
            guard ABI.address(token) != nil, let from = ABI.address(authorizer), let nonceBytes = ABI.word(nonce)
            else { throw ChainError(.invalidArgument, "authorizationState: malformed token, authorizer or nonce") }
            return Call(
                "eth_call",
                [
                    [
                        "to": .string(token),
                        "data": .string(ABI.authorizationStateCall(authorizer: from, nonce: nonceBytes)),
                    ],
                    .string(ABI.quantity(block)),
                ])
        }

        /// The Boolean an `authorizationState` result holds: exactly an ABI `bool`, nothing else.
        public static func authorizationStateResult(_ result: JSONValue) throws(ChainError) -> Bool {
            guard let text = result.stringValue, let word = ABI.word(text), let used = ABI.bool(word) else {
                throw ChainError(.invalidAnswer, "authorizationState: not an ABI bool")
            }
            return used
        }

        /// `eth_getBlockByNumber` of block `number`, without its transactions.
        public static func block(number: UInt64) -> Call {
            Call("eth_getBlockByNumber", [.string(ABI.quantity(number)), false])
        }

        /// The header a result holds, which must be block `number`'s: a null (the node does not have it) or
        /// another block's header is an invalid answer.
        public static func blockResult(_ result: JSONValue, number: UInt64) throws(ChainError) -> BlockHeader {
            guard result != .null else { throw ChainError(.invalidAnswer, "eth_getBlockByNumber: no block \(number)") }
            let header = try BlockHeader(result)
            // Another block's header would move the final block: a higher one lets a settlement above the real
            // final block count, and its later timestamp can void an authorization that may still settle. In a
            // search by time, it would move the window a settlement is looked for in.
            guard header.number == number else {
                throw ChainError(
                    .invalidAnswer, "eth_getBlockByNumber: asked for block \(number), got \(header.number)")
            }
            return header
        }

        /// `eth_getTransactionReceipt` of `hash`.
        public static func transactionReceipt(_ hash: String) throws(ChainError) -> Call {
            guard ABI.word(hash) != nil else { throw ChainError(.invalidArgument, "not a transaction hash") }
            return Call("eth_getTransactionReceipt", [.string(hash)])
        }

        /// The receipt a result holds (validated against `hash`), or nil for null: the node does not know it.
        public static func transactionReceiptResult(_ result: JSONValue, hash: String) throws(ChainError)
            -> TransactionReceipt?
        {
            if result == .null { return nil }
            return try TransactionReceipt(result, expectedHash: hash)
        }
    }

    /// Sends `calls` and returns each one's result or error, in the order given.
    ///
    /// Calls go in JSON-RPC batches of at most `endpoint.batchSize` (one POST each; a single call is sent
    /// alone). A batch's answer is hostile input like any other, judged answer by answer:
    /// - a well-formed answer is matched to its call by id, in any order, then checked as a lone answer is;
    /// - a call the answer leaves out fails alone (`invalid_answer`): nothing is assumed about it;
    /// - an answer that cannot be matched with certainty (not an array, more entries than calls, an id not
    ///   sent or sent once and answered twice, an entry that is not a JSON-RPC 2.0 object) fails every call
    ///   of the batch: which entry answers which call is then unknown;
    /// - a transport failure or timeout fails every call of the batch, with no retry (that would double the
    ///   wait on a node that is down).
    /// A node that refuses batches (`refusalStatuses`, or one JSON-RPC error for the whole batch, as geth
    /// answers a batch above its limit) gets this batch and every later call of this client one at a time.
    public func callMany(_ calls: [Call]) async -> [Result<JSONValue, ChainError>] {
        var results: [Result<JSONValue, ChainError>] = []
        results.reserveCapacity(calls.count)
        var start = calls.startIndex
        while start < calls.endIndex {
            let end = min(start + endpoint.batchSize, calls.endIndex)
            let chunk = Array(calls[start..<end])
            if chunk.count == 1 || counter.batchesRefused {
                for call in chunk { results.append(await single(call)) }
            } else {
                switch await batch(chunk) {
                case .answered(let answers): results += answers
                case .refused:
                    counter.refuseBatches()
                    for call in chunk { results.append(await single(call)) }
                }
            }
            start = end
        }
        return results
    }

    private func single(_ call: Call) async -> Result<JSONValue, ChainError> {
        do {
            return .success(try await self.call(call.method, call.params))
        } catch {
            return .failure(error)
        }
    }

    /// HTTP statuses by which a node (or a proxy before it) refuses a batch's shape or size, as opposed to
    /// being down, rate-limiting (429) or refusing the credential (401, 403), which calls sent alone would
    /// only meet again, many times over.
    static let refusalStatuses: Set<Int> = [400, 405, 413, 415, 422, 501]

    /// What one batch POST came to.
    private enum BatchOutcome {
        /// One result per call, in call order.
        case answered([Result<JSONValue, ChainError>])
        /// The node does not take batches (or not this one): send the calls alone.
        case refused
    }

    private func batch(_ calls: [Call]) async -> BatchOutcome {
        let ids = calls.map { _ in counter.next() }
        let label = "batch of \(calls.count) (\(Set(calls.map(\.method)).sorted().joined(separator: ", ")))"
        let everyCall = { (error: ChainError) in BatchOutcome.answered(calls.map { _ in .failure(error) }) }
        let response: HTTPResponse
        do {
            response = try await post(
                .array(zip(ids, calls).map { Self.envelope(id: $0, $1.method, $1.params) }), method: label)
        } catch {
            return everyCall(error)
        }
        if Self.refusalStatuses.contains(response.status) { return .refused }
        guard (200..<300).contains(response.status) else {
            return everyCall(ChainError(.nodeError, "\(label): HTTP status \(response.status)"))
        }
        let answer: JSONValue
        do {
            answer = try parse(response, method: label)
        } catch {
            return everyCall(error)
        }
        switch Self.match(answer, ids: ids) {
        case .refused: return .refused
        case .unmatched(let why): return everyCall(ChainError(.invalidAnswer, "\(label): \(why)"))
        case .matched(let byID):
            return .answered(
                zip(ids, calls).map { id, call in
                    guard let entry = byID[id] else {
                        return .failure(ChainError(.invalidAnswer, "\(call.method): no answer in the batch"))
                    }
                    return Result { () throws(ChainError) in try Self.result(of: entry, id: id, method: call.method) }
                })
        }
    }

    /// How a batch answer lines up with the ids sent.
    enum BatchMatch: Equatable {
        /// Each entry, by the id it answers (a call without an entry has none).
        case matched([Int64: JSONValue])
        /// One JSON-RPC error for the whole batch: the node refuses batches (or this one).
        case refused
        /// Entries cannot be matched to calls with certainty.
        case unmatched(String)
    }

    /// Matches a batch answer's entries to `ids` (pure, for tests and the fuzzer).
    static func match(_ answer: JSONValue, ids: [Int64]) -> BatchMatch {
        // One error and no result, for the batch as a whole: a refusal (calls sent alone are judged anew).
        let whole = { (object: JSONObject) -> Bool in
            object["error"].map { $0 != .null } == true && object["result"] == nil
        }
        switch answer {
        case .object(let object):
            return whole(object) ? .refused : .unmatched("a single answer to a batch")
        case .array(let entries):
            if entries.count == 1, case .object(let object) = entries[0], whole(object),
                object["id"] == nil || object["id"] == .null
            {
                return .refused
            }
            guard entries.count <= ids.count else { return .unmatched("more answers than calls") }
            let sent = Set(ids)
            var byID: [Int64: JSONValue] = [:]
            for entry in entries {
                guard case .object(let object) = entry, object["jsonrpc"] == "2.0", let id = answerID(object),
                    sent.contains(id)
                else { return .unmatched("an answer that is not to any call of the batch") }
                guard byID.updateValue(entry, forKey: id) == nil else {
                    return .unmatched("two answers to one call")
                }
            }
            return .matched(byID)
        default:
            return .unmatched("not a JSON-RPC batch answer")
        }
    }
}

/// `eth_getLogs` for `AuthorizationUsed(authorizer, nonce)` on one token, for many nonces of one authorizer
/// at once (the nonce topic is an OR-list), over a block range; and the strict reading of its answer.
public struct AuthorizationUsedQuery: Sendable {
    /// The most nonces one query names. geth caps an OR-list at 1,000 entries; 500 keeps the answer (at most
    /// four logs a nonce) under 2,000 logs, about 1.5 MB.
    public static let maximumNonces = 500

    /// The call to send.
    public let call: EthereumRPC.Call
    private let token: String
    private let authorizerTopic: String
    private let nonces: Set<String>
    private let fromBlock: UInt64
    private let toBlock: UInt64?

    /// A query for `nonces` (1 to `maximumNonces`, each `0x` + 64 hex) of `authorizer` on `token`, from
    /// `fromBlock` through `toBlock` (`latest` when nil).
    public init(token: String, authorizer: String, nonces: [String], fromBlock: UInt64, toBlock: UInt64?)
        throws(ChainError)
    {
        guard ABI.address(token) != nil, let from = ABI.address(authorizer), !nonces.isEmpty,
            nonces.count <= Self.maximumNonces, nonces.allSatisfy({ ABI.word($0) != nil })
        else { throw ChainError(.invalidArgument, "getLogs: malformed token, authorizer or nonces") }
        let lowered = nonces.map { $0.lowercased() }
        self.token = token.lowercased()
        self.authorizerTopic = HexBytes.prefixed(ABI.padded(from))
        self.nonces = Set(lowered)
        self.fromBlock = fromBlock
        self.toBlock = toBlock
        // One nonce as a plain topic (what every node takes); several as an OR-list.
        let nonceTopic: JSONValue = lowered.count == 1 ? .string(lowered[0]) : .array(lowered.map { .string($0) })
        call = EthereumRPC.Call(
            "eth_getLogs",
            [
                [
                    "address": .string(token), "fromBlock": .string(ABI.quantity(fromBlock)),
                    "toBlock": .string(toBlock.map { ABI.quantity($0) } ?? "latest"),
                    "topics": [.string(ABI.authorizationUsedTopic), .string(authorizerTopic), nonceTopic],
                ]
            ])
    }

    /// The logs of an answer, every one inside the filter: from the token, `AuthorizationUsed` of this
    /// authorizer and one of the nonces asked, in the range asked. A node that answers outside its filter is
    /// broken or lying, so one such log makes the whole answer no evidence.
    public func logs(_ result: JSONValue) throws(ChainError) -> [LogEntry] {
        guard case .array(let entries) = result, entries.count <= max(1000, 4 * nonces.count) else {
            throw ChainError(.invalidAnswer, "eth_getLogs: not an array of at most \(max(1000, 4 * nonces.count)) logs")
        }
        var logs: [LogEntry] = []
        for entry in entries {
            let log = try LogEntry(entry)
            guard log.address == token, log.topics.count >= 3, log.topics[0] == ABI.authorizationUsedTopic,
                log.topics[1] == authorizerTopic, nonces.contains(log.topics[2])
            else {
                throw ChainError(.invalidAnswer, "eth_getLogs: a log from another contract, event or nonce than asked")
            }
            if let block = log.blockNumber, block < fromBlock || toBlock.map({ block > $0 }) == true {
                throw ChainError(.invalidAnswer, "eth_getLogs: a log in block \(block), outside the range asked")
            }
            logs.append(log)
        }
        return logs
    }
}
