import X402

/// What was signed for one payment: what the chain is asked about.
public struct SignedPaymentFacts: Sendable, Hashable {
    /// Token contract.
    public var token: String
    /// The authorizer (payer).
    public var authorizer: String
    /// EIP-3009 nonce, `0x` + 64 hex.
    public var nonce: String
    /// The payee.
    public var payTo: String
    /// The signed amount, atomic units (decimal).
    public var amount: String
    /// The authorization's `validAfter` (or a lower bound of it), unix seconds, when known: it was usable
    /// only in blocks whose timestamp is after it.
    public var validAfter: UInt64?
    /// The authorization's `validBefore` (or an upper bound of it), unix seconds, when known: it was usable
    /// only in blocks whose timestamp is before it.
    public var validBefore: UInt64?
    /// The transaction a seller claimed, if any.
    public var claimedTransaction: String?

    /// Creates the facts.
    public init(
        token: String, authorizer: String, nonce: String, payTo: String, amount: String, validAfter: UInt64? = nil,
        validBefore: UInt64?, claimedTransaction: String?
    ) {
        self.token = token
        self.authorizer = authorizer
        self.nonce = nonce
        self.payTo = payTo
        self.amount = amount
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.claimedTransaction = claimedTransaction
    }
}

/// What the chain says about a signed payment.
public enum ChainEvidence: Sendable, Hashable {
    /// Used: this transaction, in a final block, carries `AuthorizationUsed(authorizer, nonce)` and the
    /// `Transfer` from the authorizer to the payee of the signed amount, both emitted by the token, and succeeded.
    case settled(transaction: String, block: UInt64)
    /// Unused at a final block whose timestamp is at or after `validBefore`: it never settled and never can.
    case unused(block: UInt64, timestamp: UInt64)
    /// Unused so far at the final block, but it can still settle (before `validBefore`, `validBefore`
    /// unknown, or a settlement not final yet).
    case pending
    /// Used (or canceled) on chain, but no transaction matching the signed transfer was found: held,
    /// for the end user to resolve.
    case usedUnmatched(String)
}

/// Establishes settlement facts from a node: receipts, logs and `authorizationState`, never the seller's word.
///
/// Every decision is taken at a final block (`EthereumRPC.finalBlock`: `finalized`, else `safe`, else
/// `confirmations` below `latest`), never at `latest`: a reorg can undo what the head says. An authorization
/// unused at the head past `validBefore` may still be in a block the reorg brings back; voiding on that would
/// free money that then settles. A settlement seen only above the final block is not reported either: it
/// stays pending (the amount held, which is safe) until its block is final.
public struct SettlementVerifier: Sendable {
    /// The default depth below `latest` when the node knows neither `finalized` nor `safe`.
    public static let defaultConfirmations: UInt64 = 12
    /// The default `maxLogBlocks`: hosted nodes refuse `eth_getLogs` ranges wider than 2,000 to 10,000 blocks.
    public static let defaultMaxLogBlocks: UInt64 = 2000
    /// The most `eth_getLogs` ranges one payment's search may take in a pass: 200 million blocks at the default
    /// `maxLogBlocks` (Base mainnet from block 0 is about a quarter of that at the end of 2026). Past it the
    /// payment fails (held) rather than send an unbounded number of queries, as a node naming a final block
    /// near 2^64 would have it do.
    public static let maximumLogRanges: UInt64 = 100_000
    /// How many log queries are built and sent at a time (in batches of `batchSize`): what a pass holds in
    /// memory, whatever the windows' length.
    static let queriesPerRound = 1000

    private let rpc: EthereumRPC
    private let fromBlock: UInt64
    private let confirmations: UInt64
    private let maxLogBlocks: UInt64

    /// Creates a verifier; `fromBlock` bounds the log search (the token's deployment block is a good value);
    /// `confirmations` is the depth below `latest` taken as final when the node has no `finalized` or `safe`
    /// block; `maxLogBlocks` (at least 1) is the widest block range one `eth_getLogs` asks about: a wider
    /// search is split into consecutive ranges of at most that many blocks.
    public init(
        rpc: EthereumRPC, fromBlock: UInt64 = 0, confirmations: UInt64 = defaultConfirmations,
        maxLogBlocks: UInt64 = defaultMaxLogBlocks
    ) {
        self.rpc = rpc
        self.fromBlock = fromBlock
        self.confirmations = confirmations
        self.maxLogBlocks = max(1, maxLogBlocks)
    }

    /// Checks one payment. Throws when the node cannot answer; the caller then decides nothing.
    public func check(_ facts: SignedPaymentFacts) async throws(ChainError) -> ChainEvidence {
        try await check([facts])[0].get()
    }

    /// Checks many payments in one pass, with the requests of each step batched (`EthereumRPC.callMany`)
    /// and the log searches of one token and authorizer made one query over many nonces: about
    /// `count / batchSize` requests a step instead of three or four per payment.
    ///
    /// Each payment gets its own answer, decided exactly as it would be alone: a failed request (or a
    /// malformed answer to it) fails the payments it was about, and only those; nothing is decided for a
    /// payment without every answer its decision rests on. Throws (deciding nothing) only when the final
    /// block cannot be read.
    public func check(_ batch: [SignedPaymentFacts]) async throws(ChainError) -> [Result<ChainEvidence, ChainError>] {
        guard !batch.isEmpty else { return [] }
        // One final block as the snapshot for every question of the pass: its time, the authorizations' state
        // at it, and the blocks a settling transaction may be in.
        let final = try await rpc.finalBlock(confirmations: confirmations).header
        var pass = Pass(batch)
        // 1. The seller's transaction, where one is named: the cheapest proof.
        let claims = pass.open.compactMap { index in
            batch[index].claimedTransaction.flatMap { ABI.word($0) != nil ? (index, $0.lowercased()) : nil }
        }
        let claimReceipts = await receipts(Set(claims.map(\.1)))
        for (index, hash) in claims {
            switch claimReceipts[hash] {
            case .failure(let error)?: pass.fail(index, error)
            case .success(let receipt?)? where matches(receipt, batch[index]):
                if receipt.blockNumber <= final.number {
                    pass.decide(index, .settled(transaction: receipt.transactionHash, block: receipt.blockNumber))
                } else {
                    pass.settlingAboveFinal.insert(index)
                }
            default: break
            }
        }
        // 2. The authorizations' state at the final block.
        var calls: [(index: Int, call: EthereumRPC.Call)] = []
        for index in pass.open {
            let facts = batch[index]
            do {
                calls.append(
                    (
                        index,
                        try .authorizationState(
                            token: facts.token, authorizer: facts.authorizer, nonce: facts.nonce, block: final.number)
                    ))
            } catch {
                pass.fail(index, error)
            }
        }
        var used: [Int] = []
        for ((index, _), answer) in zip(calls, await rpc.callMany(calls.map(\.call))) {
            let state = answer.flatMap { result in
                Result { () throws(ChainError) in try EthereumRPC.Call.authorizationStateResult(result) }
            }
            switch state {
            case .failure(let error): pass.fail(index, error)
            case .success(true): used.append(index)
            case .success(false):
                // EIP-3009 requires block.timestamp < validBefore; block timestamps never go back, and every
                // block that can still be added comes after the final one.
                // A receipt of the signed transfer above the final block contradicts "never can": whichever
                // answer is wrong, money may have left, so nothing is voided (it settles once that block is final).
                if let validBefore = batch[index].validBefore, final.timestamp >= validBefore,
                    !pass.settlingAboveFinal.contains(index)
                {
                    pass.decide(index, .unused(block: final.number, timestamp: final.timestamp))
                } else {
                    pass.decide(index, .pending)
                }
            }
        }
        guard fromBlock <= final.number else {
            for index in used {
                pass.decide(
                    index,
                    .usedUnmatched(
                        "used by final block \(final.number), before the log search's fromBlock \(fromBlock)"))
            }
            return pass.results
        }
        // 3. Used: find each transaction through its AuthorizationUsed event, in the final part of the chain
        // where its block can be: EIP-3009 takes an authorization only while validAfter < block.timestamp <
        // validBefore.
        var searched: [Int] = []
        var windows: [ClosedRange<UInt64>] = []
        for (index, window) in zip(used, await useWindows(used.map { batch[$0] }, final: final)) {
            switch window {
            case .failure(let error): pass.fail(index, error)
            case .success(nil):
                // No final block is inside the window, yet the authorization is used by the final block: not
                // by a transfer (a cancellation has no window), or the node's answers disagree. Held.
                pass.decide(
                    index,
                    .usedUnmatched(
                        "authorizationState is true but no final block from \(fromBlock) is inside the "
                            + "authorization's time window"))
            case .success(let window?):
                searched.append(index)
                windows.append(window)
            }
        }
        let logs = await authorizationUsedLogs(searched.map { batch[$0] }, windows: windows)
        var candidates: [Int: [LogEntry]] = [:]
        for (index, found) in zip(searched, logs) {
            switch found {
            case .failure(let error): pass.fail(index, error)
            case .success(let entries): candidates[index] = Array(entries.filter { !$0.removed }.prefix(4))
            }
        }
        let logReceipts = await receipts(
            Set(candidates.values.joined().map(\.transactionHash)).subtracting(claimReceipts.keys)
        )
        .merging(claimReceipts) { found, _ in found }
        for index in searched where candidates[index] != nil {
            pass.decide(index, decision(for: batch[index], logs: candidates[index] ?? [], receipts: logReceipts, final))
        }
        return pass.results
    }

    /// A used authorization's evidence from its logs' receipts, read in log order as a lone check reads them:
    /// the first receipt that cannot be had fails the payment.
    private func decision(
        for facts: SignedPaymentFacts, logs: [LogEntry], receipts: [String: Result<TransactionReceipt?, ChainError>],
        _ final: BlockHeader
    ) -> Result<ChainEvidence, ChainError> {
        for log in logs {
            switch receipts[log.transactionHash] {
            case .failure(let error)?: return .failure(error)
            case .success(let receipt?)? where receipt.blockNumber <= final.number && matches(receipt, facts):
                return .success(.settled(transaction: receipt.transactionHash, block: receipt.blockNumber))
            default: continue
            }
        }
        return .success(
            .usedUnmatched(
                logs.isEmpty
                    ? "authorizationState is true but no AuthorizationUsed event was found (canceled, or logs pruned)"
                    : "the AuthorizationUsed transaction does not carry the signed transfer"))
    }

    /// The receipts of `hashes` (lower case), each validated against its hash.
    private func receipts(_ hashes: Set<String>) async -> [String: Result<TransactionReceipt?, ChainError>] {
        var calls: [(hash: String, call: EthereumRPC.Call)] = []
        var receipts: [String: Result<TransactionReceipt?, ChainError>] = [:]
        for hash in hashes.sorted() {
            do {
                calls.append((hash, try .transactionReceipt(hash)))
            } catch {
                receipts[hash] = .failure(error)
            }
        }
        for ((hash, _), answer) in zip(calls, await rpc.callMany(calls.map(\.call))) {
            receipts[hash] = answer.flatMap { result in
                Result { () throws(ChainError) in try EthereumRPC.Call.transactionReceiptResult(result, hash: hash) }
            }
        }
        return receipts
    }

    /// The blocks each used payment's transaction can be in, in order: from the first block after its
    /// `validAfter` to the last block before its `validBefore`, within `[fromBlock, final]` (an unknown bound
    /// leaves that end at `fromBlock` or the final block); nil when no block is inside. Found by binary search
    /// over block headers (`BlockTimeSearch`), only when the whole range is wider than one log query: a
    /// narrower one is searched whole by one query anyway.
    private func useWindows(_ payments: [SignedPaymentFacts], final: BlockHeader) async
        -> [Result<ClosedRange<UInt64>?, ChainError>]
    {
        let whole = fromBlock...final.number
        guard final.number - fromBlock >= maxLogBlocks else { return payments.map { _ in .success(whole) } }
        var questions: Set<BlockTimeSearch.Question> = []
        for facts in payments {
            if let validAfter = facts.validAfter { questions.insert(.firstAfter(validAfter)) }
            if let validBefore = facts.validBefore { questions.insert(.lastBefore(validBefore)) }
        }
        var search = BlockTimeSearch(rpc: rpc, low: fromBlock, final: final)
        let answers = await search.answer(questions)
        return payments.map { facts in
            let first = facts.validAfter.map { answers[.firstAfter($0)] ?? .success(nil) } ?? .success(fromBlock)
            let last = facts.validBefore.map { answers[.lastBefore($0)] ?? .success(nil) } ?? .success(final.number)
            return first.flatMap { first in
                last.map { last in
                    guard let first, let last, first <= last else { return nil }
                    return first...last
                }
            }
        }
    }

    /// The `AuthorizationUsed` logs of each payment inside its window, in order. The block space from
    /// `fromBlock` is cut into consecutive ranges of `maxLogBlocks` blocks (`LogRangePlan`); per token and
    /// authorizer, each range is asked about once for up to `AuthorizationUsedQuery.maximumNonces` of the nonces
    /// whose window meets it, over just the part of it those windows cover. Queries are batched, up to
    /// `queriesPerRound` at a time; a failed query fails the payments whose window it covers, and only those
    /// (a failed payment is not asked about in later ranges).
    private func authorizationUsedLogs(_ payments: [SignedPaymentFacts], windows: [ClosedRange<UInt64>]) async
        -> [Result<[LogEntry], ChainError>]
    {
        var results = [Result<[LogEntry], ChainError>](repeating: .success([]), count: payments.count)
        var groups: [String: [Int]] = [:]
        for (index, facts) in payments.enumerated() {
            let ranges = LogRangePlan.count(windows[index], origin: fromBlock, width: maxLogBlocks)
            guard ranges <= Self.maximumLogRanges else {
                results[index] = .failure(
                    ChainError(
                        .invalidArgument,
                        "getLogs: blocks \(windows[index].lowerBound) to \(windows[index].upperBound) are more than "
                            + "\(Self.maximumLogRanges) ranges of maxLogBlocks \(maxLogBlocks); set fromBlock nearer "
                            + "the payments (at least the token's deployment block), or raise maxLogBlocks"))
                continue
            }
            groups["\(facts.token.lowercased())|\(facts.authorizer.lowercased())", default: []].append(index)
        }
        var plan = LogRangePlan(
            origin: fromBlock, width: maxLogBlocks, groups: groups.keys.sorted().map { groups[$0] ?? [] },
            windows: windows)
        var more = true
        while more {
            var queries: [(query: AuthorizationUsedQuery, members: [Int])] = []
            while queries.count < Self.queriesPerRound {
                guard let range = plan.next() else {
                    more = false
                    break
                }
                let members = range.members.filter { if case .success = results[$0] { true } else { false } }
                for start in stride(from: 0, to: members.count, by: AuthorizationUsedQuery.maximumNonces) {
                    let chunk = Array(members[start..<min(start + AuthorizationUsedQuery.maximumNonces, members.count)])
                    let lower = max(range.blocks.lowerBound, chunk.map { windows[$0].lowerBound }.min() ?? 0)
                    let upper = min(range.blocks.upperBound, chunk.map { windows[$0].upperBound }.max() ?? .max)
                    do {
                        let nonces = Array(Set(chunk.map { payments[$0].nonce.lowercased() })).sorted()
                        queries.append(
                            (
                                try AuthorizationUsedQuery(
                                    token: payments[chunk[0]].token, authorizer: payments[chunk[0]].authorizer,
                                    nonces: nonces, fromBlock: lower, toBlock: upper), chunk
                            ))
                    } catch {
                        for member in chunk { results[member] = .failure(error) }
                    }
                }
            }
            for ((query, members), answer) in zip(queries, await rpc.callMany(queries.map(\.query.call))) {
                let logs = answer.flatMap { result in Result { () throws(ChainError) in try query.logs(result) } }
                for member in members {
                    guard case .success(let found) = results[member] else { continue }  // failed in another range
                    let nonce = payments[member].nonce.lowercased()
                    let window = windows[member]
                    results[member] = logs.map { entries in
                        found
                            + entries.filter { entry in
                                entry.topics[2] == nonce && entry.blockNumber.map { window.contains($0) } != false
                            }
                    }
                }
            }
        }
        return results
    }

    /// The answers of one `check` pass, one slot per payment: decided, failed, or still open.
    private struct Pass {
        private var slots: [Result<ChainEvidence, ChainError>?]
        /// Payments with a receipt of the signed transfer above the final block: never void this pass.
        var settlingAboveFinal: Set<Int> = []

        init(_ batch: [SignedPaymentFacts]) { slots = Array(repeating: nil, count: batch.count) }

        /// The payments nothing has been decided for yet, in order.
        var open: [Int] { slots.indices.filter { slots[$0] == nil } }

        mutating func decide(_ index: Int, _ evidence: ChainEvidence) { decide(index, .success(evidence)) }
        mutating func decide(_ index: Int, _ result: Result<ChainEvidence, ChainError>) {
            if slots[index] == nil { slots[index] = result }
        }
        mutating func fail(_ index: Int, _ error: ChainError) { decide(index, .failure(error)) }

        /// Every payment's result; one left open (which a complete pass never does) fails.
        var results: [Result<ChainEvidence, ChainError>] {
            slots.map { $0 ?? .failure(ChainError(.invalidAnswer, "no decision")) }
        }
    }

    /// True when `receipt` succeeded and carries, from the token, `AuthorizationUsed(authorizer, nonce)` and
    /// `Transfer(authorizer, payTo, amount)`.
    func matches(_ receipt: TransactionReceipt, _ facts: SignedPaymentFacts) -> Bool {
        guard receipt.succeeded, let token = ABI.address(facts.token), let from = ABI.address(facts.authorizer),
            let to = ABI.address(facts.payTo), let nonce = ABI.word(facts.nonce)
        else { return false }
        let tokenText = HexBytes.prefixed(token)
        let fromTopic = HexBytes.prefixed(ABI.padded(from))
        let toTopic = HexBytes.prefixed(ABI.padded(to))
        let nonceTopic = HexBytes.prefixed(nonce)
        let ours = receipt.logs.filter { $0.address == tokenText && !$0.removed }
        let used = ours.contains { $0.topics == [ABI.authorizationUsedTopic, fromTopic, nonceTopic] }
        let transferred = ours.contains {
            $0.topics == [ABI.transferTopic, fromTopic, toTopic] && $0.data.count == 32
                && ABI.decimal($0.data) == facts.amount
        }
        return used && transferred
    }
}
