/// A spending session granted by the end user: an agent may spend up to `cap` of one asset until `expiresAt`.
public struct PaymentSession: Sendable, Hashable {
    /// Whether the session can still pay.
    public enum Status: String, Sendable, Hashable {
        case active
        case revoked
    }

    /// Opaque id, e.g. `ses_3f…`.
    public var id: String
    /// The agent allowed to spend.
    public var agent: String
    /// Asset symbol, e.g. `USDC`.
    public var asset: String
    /// Decimals of the asset, kept so amounts display without the limits file.
    public var decimals: Int
    /// Budget in atomic units.
    public var cap: Int64
    /// Largest single payment in atomic units, if set.
    public var perCallCap: Int64?
    /// Creation time, unix milliseconds.
    public var createdAt: Int64
    /// Expiry, unix milliseconds; the session cannot pay at or after it.
    public var expiresAt: Int64
    /// Active or revoked.
    public var status: Status
    /// When it was revoked, unix milliseconds.
    public var revokedAt: Int64?
    /// Paid calls need an approved spend plan (`purser session grant --require-plan`); free calls never do.
    public var requiresPlan: Bool = false

    /// True when the session can pay at `now`.
    public func isUsable(at now: Int64) -> Bool {
        status == .active && now < expiresAt
    }
}

/// A payment session together with what it has spent.
public struct SessionUsage: Sendable, Hashable {
    /// The session.
    public var session: PaymentSession
    /// Settled amount of committed payments, atomic units.
    public var committed: Int64
    /// Held by reservations not yet settled (reserved, in doubt or contradicted), atomic units.
    public var inFlight: Int64

    /// What is left: cap minus committed minus in flight (never below zero).
    public var remaining: Int64 { max(0, session.cap - committed - inFlight) }
}

/// Where a reservation is in its life. Only evidence moves a signed payment out of the held states.
///
/// ```
/// reserved ──release (nothing signed)──▶ released
///    └──markInDoubt / reserve(holdUntil:)──▶ in_doubt
/// in_doubt ──commit(evidence)──▶ committed(verified | claimed | user)
///          ├──contradict──▶ contradicted ──commit(verified | user) / void / resolve──▶ …
///          ├──void (unused on chain after validBefore, or provably never delivered)──▶ released
///          └──resolve (end user: settled TX | void)──▶ committed(user) | released(user_void)
/// committed(claimed) ──confirm on chain──▶ committed(verified); ──chain disagrees──▶ contradicted
/// ```
///
/// No timer frees money: expiry of an authorization proves only that it cannot settle *any more*.
public enum ReservationState: String, Sendable, Hashable, CaseIterable {
    /// Held; nothing has been signed yet.
    case reserved
    /// An authorization may have been signed; whether it settled is unknown. Held until evidence decides.
    case inDoubt = "in_doubt"
    /// Settled: the amount is spent (how that was established is in `Reservation.evidence`).
    case committed
    /// The seller claimed a settlement that the signed facts or the chain contradict. Held (never shown
    /// as paid) until reconciled or resolved by the end user.
    case contradicted
    /// Freed: nothing was paid (never signed, never delivered, or proved unused on chain).
    case released

    /// Reserved, in-doubt and contradicted amounts count against every limit at their full amount.
    public var isHeld: Bool { self == .reserved || self == .inDoubt || self == .contradicted }
}

/// How a settlement was established.
public enum SettlementEvidence: String, Sendable, Hashable, CaseIterable {
    /// The chain shows the authorization used and the transfer to the payee (a node was asked).
    case verified
    /// The seller's settlement response, consistent with what was signed, but not checked on chain.
    case claimed
    /// Decided by the end user (`purser ledger resolve --settled`).
    case user
}

/// What was signed for a reservation: enough to look the payment up on chain later.
public struct SignedAuthorization: Sendable, Hashable {
    /// EIP-3009 nonce, `0x` + 64 hex.
    public var nonce: String
    /// The authorizer (payer) address.
    public var authorizer: String
    /// Token contract address.
    public var token: String
    /// The x402 `payment-identifier` sent with the payment, if any.
    public var paymentID: String?

    /// Creates the record.
    public init(nonce: String, authorizer: String, token: String, paymentID: String? = nil) {
        self.nonce = nonce
        self.authorizer = authorizer
        self.token = token
        self.paymentID = paymentID
    }
}

/// An end user's decision about a held payment (`purser ledger resolve`).
public enum Resolution: Sendable, Hashable {
    /// The payment settled in this transaction.
    case settled(transaction: String)
    /// Nothing was paid.
    case void
}

/// An amount held against a session for one payment.
public struct Reservation: Sendable, Hashable {
    /// Opaque id, e.g. `res_9a…`.
    public var id: String
    /// The session it is held against.
    public var sessionID: String
    /// The agent paying.
    public var agent: String
    /// The tool being paid for.
    public var tool: String
    /// Recipient address.
    public var payee: String
    /// CAIP-2 network.
    public var network: String
    /// Asset symbol.
    public var asset: String
    /// Held amount, atomic units.
    public var amount: Int64
    /// Where it is in its life.
    public var state: ReservationState
    /// Compact purpose code from the tool manifest.
    public var purpose: String
    /// Digest of the call's arguments (never the arguments).
    public var argumentsDigest: String
    /// Created, unix milliseconds.
    public var createdAt: Int64
    /// Last change, unix milliseconds.
    public var updatedAt: Int64
    /// The signed authorization's `validBefore`, unix seconds, once in doubt.
    public var validBefore: Int64?
    /// Settled amount, atomic units, once committed.
    public var settledAmount: Int64?
    /// Settlement transaction hash, once committed.
    public var transaction: String?
    /// Payer address, once committed.
    public var payer: String?
    /// Why it was released (a code such as `not_signed`, `not_delivered`, `unused_on_chain`, `user_void`).
    public var releaseReason: String?
    /// How the settlement was established, once committed.
    public var evidence: SettlementEvidence?
    /// What was signed, when the signer recorded it.
    public var authorization: SignedAuthorization?
    /// Why it is contradicted, or the end user's note for a resolution.
    public var note: String?
}

/// What a payment asks of the ledger.
public struct ReservationRequest: Sendable, Hashable {
    /// The session to charge (from `activeSession(agent:asset:)`).
    public var sessionID: String
    /// The agent paying; must be the session's agent.
    public var agent: String
    /// The tool being paid for.
    public var tool: String
    /// Recipient address.
    public var payee: String
    /// CAIP-2 network.
    public var network: String
    /// Asset symbol; must be the session's asset.
    public var asset: String
    /// Amount in atomic units (> 0).
    public var amount: Int64
    /// Compact purpose code (letters, digits, `_`, `-`, `.`, `:`).
    public var purpose: String
    /// Digest of the call's arguments, e.g. hex SHA-256 of canonical JSON.
    public var argumentsDigest: String
    /// Id of the approval granted for this payment, when one was needed and given.
    public var approvalID: String?
    /// The approved spend plan this payment is a step of: the plan's gates apply, its approval stands in
    /// for the amount approval, and the amount comes out of the plan's reservation.
    public var planID: String?

    /// Creates a request.
    public init(
        sessionID: String, agent: String, tool: String, payee: String, network: String, asset: String,
        amount: Int64, purpose: String, argumentsDigest: String, approvalID: String? = nil, planID: String? = nil
    ) {
        self.planID = planID
        self.sessionID = sessionID
        self.agent = agent
        self.tool = tool
        self.payee = payee
        self.network = network
        self.asset = asset
        self.amount = amount
        self.purpose = purpose
        self.argumentsDigest = argumentsDigest
        self.approvalID = approvalID
    }
}

/// The outcome of `reserve`: a value, never a throw.
public enum ReserveOutcome: Sendable, Hashable {
    /// Every gate passed; the amount is held.
    case reserved(Reservation, GateEvaluation)
    /// Every limit passed but the amount is above the approval threshold and no approval was given.
    case approvalRequired(GateEvaluation)
    /// At least one gate refused; nothing is held.
    case refused(GateEvaluation)

    /// The evaluation behind the outcome.
    public var evaluation: GateEvaluation {
        switch self {
        case .reserved(_, let evaluation), .approvalRequired(let evaluation), .refused(let evaluation):
            return evaluation
        }
    }
}

/// The outcome of `commit`, `release` or `markInDoubt`.
public enum TransitionOutcome: Sendable, Hashable {
    /// The change was made.
    case applied(Reservation)
    /// The reservation was already in the requested end state with the same values; nothing changed.
    case alreadyApplied(Reservation)
    /// The change is not allowed from the current state (e.g. releasing a committed payment).
    case notAllowed(Reservation, reason: String)
    /// No reservation has this id.
    case unknownReservation
}

/// The outcome of `revokeSession`.
public enum RevokeOutcome: Sendable, Hashable {
    /// The session is now revoked.
    case revoked(PaymentSession)
    /// It was revoked before.
    case alreadyRevoked(PaymentSession)
    /// No session has this id.
    case unknownSession
}
