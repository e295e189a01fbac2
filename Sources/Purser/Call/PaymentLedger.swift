public import JSONCore
public import Ledger

/// The ledger operations the governed call uses: `Ledger` in production, a fault-injecting wrapper in tests.
///
/// Every write can fail; the pipeline gives each failure a decided outcome (see `docs/governed-call.md`).
public protocol PaymentLedger: Sendable {
    /// Claims an idempotency key for a call to `tool` (another tool with the same key is a conflict).
    func beginIdempotent(agent: String, key: String, tool: String, argumentsDigest: String)
        async
        throws(LedgerError) -> IdempotencyBegin
    /// Stores the result under a claimed key.
    func completeIdempotent(agent: String, key: String, result: String) async throws(LedgerError) -> Bool
    /// Frees a claimed key (nothing was paid).
    func abandonIdempotent(agent: String, key: String) async throws(LedgerError) -> Bool
    /// The agent's active session for an asset.
    func activeSession(agent: String, asset: String) async throws(LedgerError) -> PaymentSession?
    /// What a session's facts count for a payment to `tool` (the session's own reservations not released,
    /// and the agent's in the asset since the window began), summed by the ledger, for the session facts
    /// policies see.
    func sessionTotals(session sessionID: String, agent: String, asset: String, tool: String, since: Int64)
        async throws(LedgerError) -> SessionTotals
    /// Evaluates every gate without holding anything.
    func evaluateGates(_ request: ReservationRequest, limits: LimitsConfiguration) async throws(LedgerError)
        -> GateEvaluation
    /// Checks the gates and holds the amount in one durable transaction.
    func reserve(_ request: ReservationRequest, limits: LimitsConfiguration, holdUntil: Int64?)
        async
        throws(LedgerError) -> ReserveOutcome
    /// Frees a hold that provably never paid anything.
    func release(_ reservationID: String, reason: String) async throws(LedgerError) -> TransitionOutcome
    /// Records a settlement, and optionally one audit record, in one transaction.
    func commit(
        _ reservationID: String, settledAmount: Int64, transaction: String, payer: String,
        alsoRecord: (kind: String, payload: JSONObject)?
    ) async throws(LedgerError) -> (outcome: TransitionOutcome, record: AuditRecord?)
    /// What a tool has paid before (payees, networks, assets, highest prices), for change detection.
    func paymentHistory(tool: String) async throws(LedgerError) -> [PaidDestination]
    /// Appends one record to the hash-chained audit trail.
    func appendAudit(kind: String, payload: JSONObject) async throws(LedgerError) -> AuditRecord
    /// Marks an approval approved.
    func approve(_ id: String) async throws(LedgerError) -> Bool
    /// Redeems an approval for one payment (single use).
    func redeemApproval(_ id: String, for binding: ApprovalBinding) async throws(LedgerError) -> ApprovalRedemption
    /// Creates an approval record.
    func createApproval(_ binding: ApprovalBinding, ttlMilliseconds: Int64, state: Approval.State)
        async
        throws(LedgerError) -> Approval
}

/// Settlement evidence (docs/ledger.md): the pipeline records what is about to be signed with the hold,
/// commits a seller's claim as `claimed`, and records a contradicted claim. Ledgers that do not implement
/// these (test wrappers) fall back to the plain operations; a contradiction they cannot record leaves the
/// payment in doubt, held.
public protocol SettlementEvidenceLedger: PaymentLedger {
    /// `reserve` that also stores the authorization about to be signed.
    func reserve(
        _ request: ReservationRequest, limits: LimitsConfiguration, holdUntil: Int64?,
        authorization: SignedAuthorization?
    ) async throws(LedgerError) -> ReserveOutcome
    /// Records a contradicted settlement claim; the amount stays held.
    func contradict(_ reservationID: String, claimedTransaction: String?, reason: String) async throws(LedgerError)
        -> TransitionOutcome
}

extension PaymentLedger {
    /// Stores the authorization when the ledger can, else reserves plainly.
    func reserve(
        _ request: ReservationRequest, limits: LimitsConfiguration, holdUntil: Int64?,
        authorization: SignedAuthorization?
    ) async throws(LedgerError) -> ReserveOutcome {
        if let evidence = self as? any SettlementEvidenceLedger {
            return try await evidence.reserve(
                request, limits: limits, holdUntil: holdUntil, authorization: authorization)
        }
        return try await reserve(request, limits: limits, holdUntil: holdUntil)
    }

    /// Records a contradiction when the ledger can; nil when it cannot (the payment stays in doubt).
    func recordContradiction(_ reservationID: String, claimedTransaction: String?, reason: String)
        async throws(LedgerError) -> TransitionOutcome?
    {
        guard let evidence = self as? any SettlementEvidenceLedger else { return nil }
        return try await evidence.contradict(reservationID, claimedTransaction: claimedTransaction, reason: reason)
    }
}

/// Spend plans (docs/governed-call.md): the ledger keeps them, reserves an approved plan's total, and checks
/// each plan step in the reservation transaction. A pipeline whose ledger does not implement this refuses
/// every paid call of a session that requires a plan (fail closed), and offers no plan tools.
public protocol PlanLedger: PaymentLedger {
    /// The session's open (not closed) plan with what it used.
    func currentPlan(session sessionID: String) async throws(LedgerError) -> PlanStatus?
    /// Records a proposed plan.
    func proposePlan(
        sessionID: String, agent: String, steps: [SpendPlan.Step], total: Int64, argumentsDigest: String,
        lifetimeMilliseconds: Int64
    ) async throws(LedgerError) -> PlanProposal
    /// The human's approval: reserves the total.
    func approvePlan(_ id: String, by channel: String) async throws(LedgerError) -> PlanApprovalOutcome
    /// Closes a plan; the unused part returns to the session.
    func closePlan(_ id: String, outcome: SpendPlan.Outcome, by actor: String) async throws(LedgerError)
        -> PlanCloseOutcome
}

extension Ledger: PaymentLedger, SettlementEvidenceLedger, PlanLedger {}
