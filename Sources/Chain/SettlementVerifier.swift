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
    /// The authorization's `validBefore`, unix seconds, when known.
    public var validBefore: UInt64?
    /// The transaction a seller claimed, if any.
    public var claimedTransaction: String?

    /// Creates the facts.
    public init(
        token: String, authorizer: String, nonce: String, payTo: String, amount: String, validBefore: UInt64?,
        claimedTransaction: String?
    ) {
        self.token = token
        self.authorizer = authorizer
        self.nonce = nonce
        self.payTo = payTo
        self.amount = amount
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

    private let rpc: EthereumRPC
    private let fromBlock: UInt64
    private let confirmations: UInt64

    /// Creates a verifier; `fromBlock` bounds the log search (nodes limit ranges; the token's deployment
    /// block is a good value); `confirmations` is the depth below `latest` taken as final when the node has
    /// no `finalized` or `safe` block.
    public init(rpc: EthereumRPC, fromBlock: UInt64 = 0, confirmations: UInt64 = defaultConfirmations) {
        self.rpc = rpc
        self.fromBlock = fromBlock
        self.confirmations = confirmations
    }

    /// Checks one payment. Throws when the node cannot answer; the caller then decides nothing.
    public func check(_ facts: SignedPaymentFacts) async throws(ChainError) -> ChainEvidence {
        // One final block as the snapshot for every question: its time, the authorization's state at it,
        // and the blocks a settling transaction may be in.
        let final = try await rpc.finalBlock(confirmations: confirmations).header
        // 1. The seller's transaction, when it names one: the cheapest proof.
        var settlingAboveFinal = false
        if let claimed = facts.claimedTransaction, ABI.word(claimed) != nil,
            let receipt = try await rpc.transactionReceipt(claimed), matches(receipt, facts)
        {
            if receipt.blockNumber <= final.number {
                return .settled(transaction: receipt.transactionHash, block: receipt.blockNumber)
            }
            settlingAboveFinal = true
        }
        // 2. The authorization's state at the final block.
        let used = try await rpc.authorizationState(
            token: facts.token, authorizer: facts.authorizer, nonce: facts.nonce, block: final.number)
        guard used else {
            // EIP-3009 requires block.timestamp < validBefore; block timestamps never go back, and every block
            // that can still be added comes after the final one.
            // A receipt of the signed transfer above the final block contradicts "never can": whichever answer
            // is wrong, money may have left, so nothing is voided (it settles once that block is final).
            if let validBefore = facts.validBefore, final.timestamp >= validBefore, !settlingAboveFinal {
                return .unused(block: final.number, timestamp: final.timestamp)
            }
            return .pending
        }
        guard fromBlock <= final.number else {
            return .usedUnmatched("used by final block \(final.number), before the log search's fromBlock \(fromBlock)")
        }
        // 3. Used: find the transaction through its AuthorizationUsed event, in the final part of the chain.
        let logs = try await rpc.authorizationUsedLogs(
            token: facts.token, authorizer: facts.authorizer, nonce: facts.nonce, fromBlock: fromBlock,
            toBlock: final.number)
        for log in logs.prefix(4) where !log.removed {
            if let receipt = try await rpc.transactionReceipt(log.transactionHash), receipt.blockNumber <= final.number,
                matches(receipt, facts)
            {
                return .settled(transaction: receipt.transactionHash, block: receipt.blockNumber)
            }
        }
        return .usedUnmatched(
            logs.isEmpty
                ? "authorizationState is true but no AuthorizationUsed event was found (canceled, or logs pruned)"
                : "the AuthorizationUsed transaction does not carry the signed transfer")
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
