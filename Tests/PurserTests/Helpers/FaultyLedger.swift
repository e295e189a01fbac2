import JSONCore
import Ledger
import Purser
import Synchronization

/// A ledger whose `failAt`-th operation (counting every call the pipeline makes, reads included) throws,
/// as a full disk or a locked database would; every other operation goes to the real ledger.
final class FaultyLedger: PaymentLedger {
    let inner: Ledger
    /// The 1-based operation that fails; 0 fails none. Settable so a test can heal the ledger.
    let failAt: Mutex<Int>
    private let counter = Mutex<(count: Int, failed: [String])>((0, []))

    /// Runs right after each successful `reserve` (a test's hook to move the clock between hold and signing).
    private let afterReserve: @Sendable () -> Void

    init(_ inner: Ledger, failAt: Int, afterReserve: @escaping @Sendable () -> Void = {}) {
        self.inner = inner
        self.failAt = Mutex(failAt)
        self.afterReserve = afterReserve
    }

    /// Operations so far, and the one that failed (if any).
    var operations: Int { counter.withLock { $0.count } }
    var failedOperations: [String] { counter.withLock { $0.failed } }

    private func step(_ name: String) throws(LedgerError) {
        let target = failAt.withLock { $0 }
        let fail = counter.withLock { state -> Bool in
            state.count += 1
            guard state.count == target else { return false }
            state.failed.append(name)
            return true
        }
        if fail { throw LedgerError(.storage, "injected fault in \(name)") }
    }

    func paymentHistory(tool: String) async throws(LedgerError) -> [PaidDestination] {
        try step("paymentHistory")
        return try await inner.paymentHistory(tool: tool)
    }

    func beginIdempotent(agent: String, key: String, tool: String, argumentsDigest: String)
        async
        throws(LedgerError) -> IdempotencyBegin
    {
        try step("beginIdempotent")
        return try await inner.beginIdempotent(agent: agent, key: key, tool: tool, argumentsDigest: argumentsDigest)
    }

    func completeIdempotent(agent: String, key: String, result: String) async throws(LedgerError) -> Bool {
        try step("completeIdempotent")
        return try await inner.completeIdempotent(agent: agent, key: key, result: result)
    }

    func abandonIdempotent(agent: String, key: String) async throws(LedgerError) -> Bool {
        try step("abandonIdempotent")
        return try await inner.abandonIdempotent(agent: agent, key: key)
    }

    func activeSession(agent: String, asset: String) async throws(LedgerError) -> PaymentSession? {
        try step("activeSession")
        return try await inner.activeSession(agent: agent, asset: asset)
    }

    func sessionTotals(session sessionID: String, agent: String, asset: String, tool: String, since: Int64)
        async throws(LedgerError) -> SessionTotals
    {
        try step("sessionTotals")
        return try await inner.sessionTotals(
            session: sessionID, agent: agent, asset: asset, tool: tool, since: since)
    }

    func evaluateGates(_ request: ReservationRequest, limits: LimitsConfiguration) async throws(LedgerError)
        -> GateEvaluation
    {
        try step("evaluateGates")
        return try await inner.evaluateGates(request, limits: limits)
    }

    func reserve(_ request: ReservationRequest, limits: LimitsConfiguration, holdUntil: Int64?)
        async
        throws(LedgerError) -> ReserveOutcome
    {
        try step("reserve")
        let outcome = try await inner.reserve(request, limits: limits, holdUntil: holdUntil)
        afterReserve()
        return outcome
    }

    func release(_ reservationID: String, reason: String) async throws(LedgerError) -> TransitionOutcome {
        try step("release")
        return try await inner.release(reservationID, reason: reason)
    }

    func commit(
        _ reservationID: String, settledAmount: Int64, transaction: String, payer: String,
        alsoRecord: (kind: String, payload: JSONObject)?
    ) async throws(LedgerError) -> (outcome: TransitionOutcome, record: AuditRecord?) {
        try step("commit")
        return try await inner.commit(
            reservationID, settledAmount: settledAmount, transaction: transaction, payer: payer,
            alsoRecord: alsoRecord)
    }

    func appendAudit(kind: String, payload: JSONObject) async throws(LedgerError) -> AuditRecord {
        try step("appendAudit")
        return try await inner.appendAudit(kind: kind, payload: payload)
    }

    func approve(_ id: String) async throws(LedgerError) -> Bool {
        try step("approve")
        return try await inner.approve(id)
    }

    func redeemApproval(_ id: String, for binding: ApprovalBinding) async throws(LedgerError) -> ApprovalRedemption {
        try step("redeemApproval")
        return try await inner.redeemApproval(id, for: binding)
    }

    func createApproval(_ binding: ApprovalBinding, ttlMilliseconds: Int64, state: Approval.State)
        async
        throws(LedgerError) -> Approval
    {
        try step("createApproval")
        return try await inner.createApproval(binding, ttlMilliseconds: ttlMilliseconds, state: state)
    }
}

/// Spend plans through the same fault counter, so a test can make a plan-capable ledger unreadable.
extension FaultyLedger: PlanLedger {
    func currentPlan(session sessionID: String) async throws(LedgerError) -> PlanStatus? {
        try step("currentPlan")
        return try await inner.currentPlan(session: sessionID)
    }

    func proposePlan(
        sessionID: String, agent: String, steps: [SpendPlan.Step], total: Int64, argumentsDigest: String,
        lifetimeMilliseconds: Int64
    ) async throws(LedgerError) -> PlanProposal {
        try step("proposePlan")
        return try await inner.proposePlan(
            sessionID: sessionID, agent: agent, steps: steps, total: total, argumentsDigest: argumentsDigest,
            lifetimeMilliseconds: lifetimeMilliseconds)
    }

    func approvePlan(_ id: String, by channel: String) async throws(LedgerError) -> PlanApprovalOutcome {
        try step("approvePlan")
        return try await inner.approvePlan(id, by: channel)
    }

    func closePlan(_ id: String, outcome: SpendPlan.Outcome, by actor: String) async throws(LedgerError)
        -> PlanCloseOutcome
    {
        try step("closePlan")
        return try await inner.closePlan(id, outcome: outcome, by: actor)
    }
}
