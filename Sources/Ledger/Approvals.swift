import JSONCore

/// A human approval of one payment: what exactly was approved, and whether it was used.
public struct Approval: Sendable, Hashable {
    /// Where it stands.
    public enum State: String, Sendable, Hashable {
        /// Created, waiting for the end user (`purser approve ID`).
        case pending
        /// Approved by the end user, not yet used.
        case approved
        /// Used by one payment; never usable again.
        case redeemed
    }

    /// The approval id (`apr_…`).
    public var id: String
    /// The agent it is for.
    public var agent: String
    /// The tool it is for.
    public var tool: String
    /// Digest of the call's arguments it is bound to.
    public var argumentsDigest: String
    /// The amount, atomic units, it is bound to.
    public var amount: Int64
    /// The asset symbol.
    public var asset: String
    /// The payee it is bound to.
    public var payee: String
    /// Current state.
    public var state: State
    /// Creation time (ms).
    public var createdAt: Int64
    /// Expiry (ms); an expired approval is refused whatever its state.
    public var expiresAt: Int64
}

/// What a payment asks an approval to match.
public struct ApprovalBinding: Sendable, Hashable {
    /// Agent.
    public var agent: String
    /// Tool.
    public var tool: String
    /// Arguments digest.
    public var argumentsDigest: String
    /// Amount, atomic units.
    public var amount: Int64
    /// Asset symbol.
    public var asset: String
    /// Payee address (compared case-insensitively).
    public var payee: String

    /// Creates a binding.
    public init(agent: String, tool: String, argumentsDigest: String, amount: Int64, asset: String, payee: String) {
        self.agent = agent
        self.tool = tool
        self.argumentsDigest = argumentsDigest
        self.amount = amount
        self.asset = asset
        self.payee = payee
    }
}

/// Why redeeming an approval failed: a value, so the caller can explain it.
public enum ApprovalRedemption: Sendable, Hashable {
    /// Redeemed now; the payment may proceed (once).
    case redeemed(Approval)
    /// No such approval.
    case unknown
    /// Not approved by the end user (yet).
    case notApproved
    /// Already used by an earlier payment.
    case alreadyRedeemed
    /// Past its expiry.
    case expired
    /// It approves a different agent, tool, arguments, amount or payee.
    case mismatch
}

extension Ledger {
    /// Records a pending approval for `binding`, valid for `ttlMilliseconds`, in the audit trail too.
    ///
    /// - Parameter state: `.pending` for the fallback flow (the end user approves with `purser approve`);
    ///   `.approved` when the approval was given in-band (elicitation, MRTR) and is only being made single-use.
    public func createApproval(_ binding: ApprovalBinding, ttlMilliseconds: Int64, state: Approval.State = .pending)
        throws(LedgerError) -> Approval
    {
        try checkName(binding.agent, "agent")
        try checkName(binding.tool, "tool")
        guard binding.amount > 0 else { throw LedgerError(.invalidArgument, "an approval amount must be positive") }
        let now = clock.now()
        let id = "apr_" + randomHex(16)
        let approval = Approval(
            id: id, agent: binding.agent, tool: binding.tool, argumentsDigest: binding.argumentsDigest,
            amount: binding.amount, asset: binding.asset, payee: binding.payee, state: state, createdAt: now,
            expiresAt: now &+ ttlMilliseconds)
        try database.transaction(immediate: true) { () throws(LedgerError) in
            _ = try database.run(
                """
                INSERT INTO approvals(id, agent, tool, args_digest, amount, asset, payee, state, created_ms, expires_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(id), .text(binding.agent), .text(binding.tool), .text(binding.argumentsDigest),
                    .integer(binding.amount), .text(binding.asset), .text(binding.payee), .text(state.rawValue),
                    .integer(now), .integer(approval.expiresAt),
                ])
            _ = try appendAuditLocked(
                kind: "approval.created",
                payload: [
                    "approval": .string(id), "agent": .string(binding.agent), "tool": .string(binding.tool),
                    "amount": .number(JSONNumber(binding.amount)), "asset": .string(binding.asset),
                    "payee": .string(binding.payee), "args_digest": .string(binding.argumentsDigest),
                    "state": .string(state.rawValue),
                ], now: now)
        }
        return approval
    }

    /// The end user's approval of a pending request (`purser approve ID`). False when it is not pending
    /// or has expired.
    public func approve(_ id: String) throws(LedgerError) -> Bool {
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> Bool in
            let changed = try database.run(
                "UPDATE approvals SET state = 'approved' WHERE id = ? AND state = 'pending' AND expires_ms > ?",
                [.text(id), .integer(now)])
            if changed == 1 {
                _ = try appendAuditLocked(
                    kind: "approval.granted", payload: ["approval": .string(id), "by": "end_user"], now: now)
            }
            return changed == 1
        }
    }

    /// Uses an approval for one payment: atomically checks the binding, expiry and state, and marks it
    /// redeemed so it can never be used again (by this or any other process).
    public func redeemApproval(_ id: String, for binding: ApprovalBinding) throws(LedgerError) -> ApprovalRedemption {
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> ApprovalRedemption in
            guard let approval = try loadApproval(id) else { return .unknown }
            let outcome: ApprovalRedemption
            if approval.state == .redeemed {
                outcome = .alreadyRedeemed
            } else if approval.expiresAt <= now {
                outcome = .expired
            } else if approval.agent != binding.agent || approval.tool != binding.tool
                || approval.argumentsDigest != binding.argumentsDigest || approval.amount != binding.amount
                || approval.asset != binding.asset || approval.payee.lowercased() != binding.payee.lowercased()
            {
                outcome = .mismatch
            } else if approval.state != .approved {
                outcome = .notApproved
            } else {
                _ = try database.run(
                    "UPDATE approvals SET state = 'redeemed', redeemed_ms = ? WHERE id = ? AND state = 'approved'",
                    [.integer(now), .text(id)])
                var redeemed = approval
                redeemed.state = .redeemed
                outcome = .redeemed(redeemed)
            }
            _ = try appendAuditLocked(
                kind: "approval.redeem",
                payload: ["approval": .string(id), "outcome": .string(Self.describe(outcome))], now: now)
            return outcome
        }
    }

    /// The approval with this id, if any.
    public func approval(id: String) throws(LedgerError) -> Approval? {
        try loadApproval(id)
    }

    private func loadApproval(_ id: String) throws(LedgerError) -> Approval? {
        try database.first(
            """
            SELECT id, agent, tool, args_digest, amount, asset, payee, state, created_ms, expires_ms
            FROM approvals WHERE id = ?
            """, [.text(id)]
        ) {
            Approval(
                id: $0.text(0), agent: $0.text(1), tool: $0.text(2), argumentsDigest: $0.text(3), amount: $0.int64(4),
                asset: $0.text(5), payee: $0.text(6), state: Approval.State(rawValue: $0.text(7)) ?? .redeemed,
                createdAt: $0.int64(8), expiresAt: $0.int64(9))
        }
    }

    private static func describe(_ outcome: ApprovalRedemption) -> String {
        switch outcome {
        case .redeemed: return "redeemed"
        case .unknown: return "unknown"
        case .notApproved: return "not_approved"
        case .alreadyRedeemed: return "already_redeemed"
        case .expired: return "expired"
        case .mismatch: return "mismatch"
        }
    }
}
