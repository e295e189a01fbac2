import JSONCore

/// A spend plan: the paid steps an agent intends (tool, purpose, largest amount per call, number of calls)
/// and a total, approved once by the human (`docs/governed-call.md`, spend plans).
///
/// Approving a plan reserves its total from the session: the unused part (total minus what its payments
/// settled or hold) counts against the session's cap like a payment in flight, until the plan is closed or
/// expires. Its payments count by the usual evidence rules whatever happens to the plan: closing frees only
/// the unused part, never money that may have left.
public struct SpendPlan: Sendable, Hashable {
    /// Where a plan stands.
    public enum State: String, Sendable, Hashable {
        /// Waiting for the human's approval until `expiresAt`; reserves nothing.
        case proposed
        /// Approved: its total is reserved until it is closed or `expiresAt`.
        case approved
        /// Closed (`outcome` says how); reserves nothing.
        case closed
    }

    /// How a plan ended.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// The agent closed it as done.
        case done
        /// The agent closed it as failed: its settled payments are wasted spend.
        case failed
        /// The human declined it.
        case declined
        /// Its time ran out before it was closed.
        case expired
    }

    /// One paid step.
    public struct Step: Sendable, Hashable {
        /// The tool.
        public var tool: String
        /// Why, in the agent's words (shown to the human; kept out of the audit trail, like arguments).
        public var purpose: String
        /// The largest amount one call may pay, atomic units.
        public var maxAmount: Int64
        /// How many paid calls.
        public var count: Int64

        /// Creates a step.
        public init(tool: String, purpose: String, maxAmount: Int64, count: Int64) {
            self.tool = tool
            self.purpose = purpose
            self.maxAmount = maxAmount
            self.count = count
        }
    }

    /// `pln_…`.
    public var id: String
    /// The session it reserves from.
    public var sessionID: String
    /// The agent that proposed it.
    public var agent: String
    /// The session's asset.
    public var asset: String
    /// The total it reserves once approved, atomic units.
    public var total: Int64
    /// The paid steps, one per tool.
    public var steps: [Step]
    /// Where it stands.
    public var state: State
    /// How it ended, once closed.
    public var outcome: Outcome?
    /// Digest of the proposal (the agent's arguments), to which an in-band approval is bound.
    public var argumentsDigest: String
    /// Proposed, unix milliseconds.
    public var createdAt: Int64
    /// Proposed: the deadline for the approval. Approved: when it stops reserving (at most the session's expiry).
    public var expiresAt: Int64
    /// How long it lasts once approved, milliseconds.
    public var lifetime: Int64
    /// Approved, unix milliseconds.
    public var approvedAt: Int64?
    /// The approval channel (`elicitation`, `input_required`, `end_user`).
    public var approvedBy: String?
    /// Closed, unix milliseconds.
    public var closedAt: Int64?

    /// The step for `tool`, if the plan has one.
    public func step(for tool: String) -> Step? { steps.first { $0.tool == tool } }

    /// Not closed and not past `expiresAt`.
    public func isOpen(at now: Int64) -> Bool { state != .closed && now < expiresAt }

    /// The spend-plan gates for one payment (also the pipeline's early check, so both say the same):
    /// `plan` (an approved, open plan of this session names the tool), `plan_step_amount`, `plan_step_count`
    /// and `plan_total`. Without a plan: one failing `plan` check, detail `plan_required`.
    public static func gateChecks(tool: String, amount: Int64, sessionID: String, plan: PlanStatus?, now: Int64)
        -> [GateCheck]
    {
        guard let plan else { return [GateCheck(gate: .plan, passed: false, detail: "plan_required")] }
        let problem: String? =
            if plan.plan.sessionID != sessionID {
                "plan_of_another_session"
            } else if plan.plan.state == .proposed {
                "plan_not_approved"
            } else if plan.plan.state == .closed {
                "plan_closed"
            } else if now >= plan.plan.expiresAt {
                "plan_expired"
            } else if plan.plan.step(for: tool) == nil {
                "tool_not_in_plan"
            } else {
                nil
            }
        var checks = [GateCheck(gate: .plan, passed: problem == nil, detail: problem)]
        guard problem == nil, let step = plan.plan.step(for: tool) else { return checks }
        let used = plan.usage.byTool[tool] ?? PlanUsage.Tool()
        checks.append(
            GateCheck(
                gate: .planStepAmount, unit: .atomic, limit: step.maxAmount, used: 0, inFlight: 0, requested: amount))
        checks.append(
            GateCheck(
                gate: .planStepCount, unit: .count, limit: step.count, used: used.payments, inFlight: used.paymentsHeld,
                requested: 1))
        checks.append(
            GateCheck(
                gate: .planTotal, unit: .atomic, limit: plan.plan.total, used: plan.usage.used,
                inFlight: plan.usage.held, requested: amount))
        return checks
    }
}

/// What a plan's payments have used: counted by the evidence rules (settled, or held while in flight;
/// released payments count nothing).
public struct PlanUsage: Sendable, Hashable {
    /// One tool's payments in the plan.
    public struct Tool: Sendable, Hashable {
        /// Payments not released.
        public var payments: Int64 = 0
        /// Of those, still held (reserved, in doubt, contradicted).
        public var paymentsHeld: Int64 = 0
        /// Their amount: settled, or held.
        public var amount: Int64 = 0
    }

    /// Per tool.
    public var byTool: [String: Tool] = [:]
    /// Settled amount of committed payments.
    public var settled: Int64 = 0
    /// Amount of payments still held.
    public var held: Int64 = 0
    /// The reservations (not released), oldest first.
    public var reservations: [String] = []

    /// No payments yet.
    public init() {}

    /// Settled plus held.
    public var used: Int64 { saturatingAdd(settled, held) }
}

/// A plan with what it used, as read in one snapshot.
public struct PlanStatus: Sendable, Hashable {
    /// The plan.
    public var plan: SpendPlan
    /// Its payments.
    public var usage: PlanUsage
    /// The asset's decimals (from the session).
    public var decimals: Int

    /// Creates a status.
    public init(plan: SpendPlan, usage: PlanUsage, decimals: Int) {
        self.plan = plan
        self.usage = usage
        self.decimals = decimals
    }

    /// What the plan still reserves from the session at `now`: total minus used while approved and open, else 0.
    public func unused(at now: Int64) -> Int64 {
        guard plan.state == .approved, now < plan.expiresAt else { return 0 }
        return max(0, plan.total - usage.used)
    }
}

/// The outcome of `proposePlan`.
public enum PlanProposal: Sendable, Hashable {
    /// Recorded, waiting for the human.
    case proposed(SpendPlan)
    /// The session cannot take a plan now.
    case refused(PlanProposalRefusal)
}

/// Why a plan was not recorded.
public enum PlanProposalRefusal: Sendable, Hashable {
    /// No such session, another agent's, revoked or expired (a gate detail code).
    case sessionUnusable(String)
    /// The session was not granted with `--require-plan`: it pays per call, as always.
    case planNotRequired
    /// The session already has an open plan (close it first).
    case planOpen(SpendPlan)
    /// The total does not fit what the session has left.
    case exceedsSession(remaining: Int64)
}

/// The outcome of `approvePlan`.
public enum PlanApprovalOutcome: Sendable, Hashable {
    /// Approved now: the total is reserved.
    case approved(PlanStatus)
    /// It was approved before.
    case alreadyApproved(PlanStatus)
    /// No plan has this id.
    case unknownPlan
    /// Closed (declined, done, failed or expired).
    case closed(SpendPlan)
    /// The approval came after the deadline; the plan is closed as expired.
    case expired(SpendPlan)
    /// The session is revoked or expired.
    case sessionUnusable(SpendPlan, String)
    /// The total no longer fits what the session has left; nothing is reserved.
    case exceedsSession(SpendPlan, remaining: Int64)
}

/// The outcome of `closePlan`.
public enum PlanCloseOutcome: Sendable, Hashable {
    /// Closed now; `returned` is the unused part given back to the session.
    case closed(PlanStatus, returned: Int64)
    /// It was closed before.
    case alreadyClosed(SpendPlan)
    /// No plan has this id.
    case unknownPlan
}

// Every plan query is in this file; the plan tables (schema 6) are in SQLDialect.swift with the rest of
// the schema, one step per backend.
extension Ledger {
    /// How long a proposed plan waits for the human before it expires, milliseconds.
    public static let planApprovalWindowMilliseconds: Int64 = 30 * 60_000

    // MARK: Agent and end-user operations

    /// Records a proposed plan for an active session granted with `--require-plan`, audited as `plan.propose`
    /// (tools, amounts, counts and the digest; never the purposes' text).
    ///
    /// At most one plan per session is open: an open plan must be closed first (an expired one is closed as
    /// `expired` here). A total that does not fit what the session has left is refused now, and again,
    /// atomically, when the plan is approved.
    /// - Throws: `LedgerError` on storage failure or malformed steps (empty, duplicate tools, amounts ≤ 0,
    ///   a total above what the steps can spend).
    public func proposePlan(
        sessionID: String, agent: String, steps: [SpendPlan.Step], total: Int64, argumentsDigest: String,
        lifetimeMilliseconds: Int64
    ) throws(LedgerError) -> PlanProposal {
        try checkName(sessionID, "session id")
        try checkName(agent, "agent")
        try checkName(argumentsDigest, "arguments digest")
        try Self.checkPlan(steps: steps, total: total)
        guard lifetimeMilliseconds > 0 else {
            throw LedgerError(.invalidArgument, "a plan's lifetime must be positive")
        }
        for step in steps {
            try checkName(step.tool, "tool")
            try checkName(step.purpose, "purpose")
        }
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> PlanProposal in
            guard let session = try loadSessionLocked(sessionID) else {
                return .refused(.sessionUnusable("unknown_session"))
            }
            if let problem = Self.sessionProblem(session, agent: agent, now: now) {
                return .refused(.sessionUnusable(problem))
            }
            guard session.requiresPlan else { return .refused(.planNotRequired) }
            try expireOpenPlansLocked(session: session.id, now: now)
            if let open = try openPlanLocked(session: session.id) { return .refused(.planOpen(open)) }
            let remaining = try sessionRemainingLocked(session, now: now)
            guard total <= remaining else { return .refused(.exceedsSession(remaining: remaining)) }
            let plan = SpendPlan(
                id: "pln_" + randomHex(12), sessionID: session.id, agent: agent, asset: session.asset, total: total,
                steps: steps, state: .proposed, outcome: nil, argumentsDigest: argumentsDigest, createdAt: now,
                expiresAt: min(now &+ Self.planApprovalWindowMilliseconds, session.expiresAt),
                lifetime: lifetimeMilliseconds, approvedAt: nil, approvedBy: nil, closedAt: nil)
            try database.run(
                """
                INSERT INTO plans(id, session_id, agent, asset, total, state, args_digest, created_ms, expires_ms,
                    lifetime_ms)
                VALUES (?, ?, ?, ?, ?, 'proposed', ?, ?, ?, ?)
                """,
                [
                    .text(plan.id), .text(session.id), .text(agent), .text(session.asset), .integer(total),
                    .text(argumentsDigest), .integer(now), .integer(plan.expiresAt), .integer(lifetimeMilliseconds),
                ])
            for (position, step) in steps.enumerated() {
                try database.run(
                    "INSERT INTO plan_steps(plan_id, position, tool, purpose, max_amount, count) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        .text(plan.id), .integer(Int64(position)), .text(step.tool), .text(step.purpose),
                        .integer(step.maxAmount), .integer(step.count),
                    ])
            }
            var payload = Self.planPayload(plan)
            payload["steps"] = .array(
                steps.map {
                    [
                        "tool": .string($0.tool), "maxAmount": .number(JSONNumber($0.maxAmount)),
                        "count": .number(JSONNumber($0.count)),
                    ]
                })
            payload["args_digest"] = .string(argumentsDigest)
            payload["sessionRemaining"] = .number(JSONNumber(remaining))
            try appendAuditLocked(kind: "plan.propose", payload: payload, now: now)
            return .proposed(plan)
        }
    }

    /// The human's approval of a proposed plan, by `channel` (`elicitation`, `input_required`, `end_user`):
    /// in one transaction, the session is checked, the total is checked against what the session has left
    /// and reserved, and `plan.approve` is audited with the numbers.
    public func approvePlan(_ id: String, by channel: String) throws(LedgerError) -> PlanApprovalOutcome {
        try checkName(id, "plan id")
        try checkName(channel, "approval channel")
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> PlanApprovalOutcome in
            guard let status = try planStatusLocked(id) else { return .unknownPlan }
            var plan = status.plan
            switch plan.state {
            case .closed: return .closed(plan)
            case .approved: return .alreadyApproved(status)
            case .proposed: break
            }
            if now >= plan.expiresAt {
                return .expired(try closeLocked(status, outcome: .expired, by: "deadline", now: now).plan)
            }
            guard let session = try loadSessionLocked(plan.sessionID) else {
                return .sessionUnusable(plan, "unknown_session")
            }
            if let problem = Self.sessionProblem(session, agent: plan.agent, now: now) {
                return .sessionUnusable(plan, problem)
            }
            let remaining = try sessionRemainingLocked(session, now: now)
            guard plan.total <= remaining else { return .exceedsSession(plan, remaining: remaining) }
            plan.state = .approved
            plan.approvedAt = now
            plan.approvedBy = channel
            plan.expiresAt = min(now &+ plan.lifetime, session.expiresAt)
            try database.run(
                "UPDATE plans SET state = 'approved', approved_ms = ?, approved_by = ?, expires_ms = ? WHERE id = ?",
                [.integer(now), .text(channel), .integer(plan.expiresAt), .text(id)])
            var payload = Self.planPayload(plan)
            payload["by"] = .string(channel)
            payload["reserved"] = .number(JSONNumber(plan.total))
            payload["sessionCap"] = .number(JSONNumber(session.cap))
            payload["sessionRemaining"] = .number(JSONNumber(remaining))
            payload["expiresAt"] = .number(JSONNumber(plan.expiresAt))
            try appendAuditLocked(kind: "plan.approve", payload: payload, now: now)
            return .approved(PlanStatus(plan: plan, usage: status.usage, decimals: session.decimals))
        }
    }

    /// Closes a plan (`done` or `failed` by the agent, `declined` by the human): the unused part of its
    /// reservation returns to the session; its payments stay counted by the evidence rules. Audited as
    /// `plan.close` with spent, held and returned amounts and, for a failed plan, the receipts of its
    /// settled payments (reported as wasted spend).
    public func closePlan(_ id: String, outcome: SpendPlan.Outcome, by actor: String) throws(LedgerError)
        -> PlanCloseOutcome
    {
        try checkName(id, "plan id")
        try checkName(actor, "actor")
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> PlanCloseOutcome in
            guard let status = try planStatusLocked(id) else { return .unknownPlan }
            if status.plan.state == .closed { return .alreadyClosed(status.plan) }
            let returned = status.unused(at: now)
            return .closed(try closeLocked(status, outcome: outcome, by: actor, now: now), returned: returned)
        }
    }

    /// The session's newest plan that is not closed (possibly past its time: see `SpendPlan.isOpen`), with
    /// what it used.
    public func currentPlan(session sessionID: String) throws(LedgerError) -> PlanStatus? {
        try database.transaction(immediate: false) { () throws(LedgerError) -> PlanStatus? in
            guard let open = try openPlanLocked(session: sessionID) else { return nil }
            return try planStatusLocked(open.id)
        }
    }

    /// The plan with this id and what it used.
    public func plan(id: String) throws(LedgerError) -> PlanStatus? {
        try database.transaction(immediate: false) { () throws(LedgerError) -> PlanStatus? in
            try planStatusLocked(id)
        }
    }

    /// Every plan with what it used, newest first, read in one snapshot (for reports).
    public func plans() throws(LedgerError) -> [PlanStatus] {
        try database.transaction(immediate: false) { () throws(LedgerError) -> [PlanStatus] in
            let ids = try database.rows("SELECT id FROM plans ORDER BY created_ms DESC, id") { $0.text(0) }
            var statuses: [PlanStatus] = []
            for id in ids {
                if let status = try planStatusLocked(id) { statuses.append(status) }
            }
            return statuses
        }
    }

    /// Settled payments of plans closed as `failed`, as wasted spend (reason `plan_failed`).
    func failedPlanPayments() throws(LedgerError) -> [WastedPayment] {
        try database.rows(
            """
            SELECT r.id, r.tool, r.payee, r.asset, s.decimals, r.settled_amount, r.tx_hash, r.updated_ms, pl.id
            FROM plans pl JOIN plan_payments p ON p.plan_id = pl.id JOIN reservations r ON r.id = p.reservation_id
            JOIN sessions s ON s.id = r.session_id
            WHERE pl.outcome = 'failed' AND r.state = 'committed'
            ORDER BY r.updated_ms, r.id
            """
        ) {
            WastedPayment(
                receiptID: "rcp_" + $0.text(0), tool: $0.text(1), payee: $0.text(2), asset: $0.text(3),
                decimals: Int($0.int64(4)), amount: $0.optionalInt64(5) ?? 0, transaction: $0.optionalText(6) ?? "",
                reason: "plan_failed", settledAt: $0.int64(7), plan: $0.text(8))
        }
    }

    // MARK: Inside the reservation transaction

    /// Adds the unused reservations of the session's open plans (except the request's own plan, whose
    /// payment comes out of it) to the session's usage, and reads the request's plan for the plan gates.
    func planUsageLocked(_ request: ReservationRequest, session: PaymentSession?, usage: inout Usage, now: Int64)
        throws(LedgerError) -> PlanStatus?
    {
        guard let session else { return nil }
        let holds = try openPlanHoldsLocked(session: session.id, excluding: request.planID, now: now)
        usage.sessionUsed = saturatingAdd(usage.sessionUsed, holds)
        usage.sessionInFlight = saturatingAdd(usage.sessionInFlight, holds)
        guard let planID = request.planID else { return nil }
        return try planStatusLocked(planID)
    }

    /// Links a new reservation to its plan (in the reservation's transaction).
    func recordPlanPaymentLocked(reservation: String, plan: String) throws(LedgerError) {
        try database.run(
            "INSERT INTO plan_payments(reservation_id, plan_id) VALUES (?, ?)", [.text(reservation), .text(plan)])
    }

    /// What the session's approved, unexpired plans still reserve: each plan's total minus what its payments
    /// used (never below zero).
    func openPlanHoldsLocked(session sessionID: String, excluding planID: String?, now: Int64) throws(LedgerError)
        -> Int64
    {
        var total: Int64 = 0
        try database.query(
            """
            SELECT pl.total, COALESCE((SELECT SUM(\(CountedAmount.used("r.")))
                FROM plan_payments p JOIN reservations r ON r.id = p.reservation_id
                WHERE p.plan_id = pl.id AND r.state != 'released'), 0)
            FROM plans pl
            -- `state != 'closed'` lets SQLite use the partial index plans_open (it does not infer it from = 'approved').
            WHERE pl.session_id = ? AND pl.state != 'closed' AND pl.state = 'approved' AND pl.expires_ms > ?
                AND pl.id != ?
            """, [.text(sessionID), .integer(now), .text(planID ?? "")]
        ) { row throws(LedgerError) in
            total = saturatingAdd(total, max(0, row.int64(0) - row.int64(1)))
        }
        return total
    }

    // MARK: Helpers

    private func sessionRemainingLocked(_ session: PaymentSession, now: Int64) throws(LedgerError) -> Int64 {
        let (used, _) = try sessionUsage(session.id, tool: nil)
        let planned = try openPlanHoldsLocked(session: session.id, excluding: nil, now: now)
        return max(0, session.cap - saturatingAdd(used, planned))
    }

    private func loadSessionLocked(_ id: String) throws(LedgerError) -> PaymentSession? {
        try session(id: id)
    }

    private static func sessionProblem(_ session: PaymentSession, agent: String, now: Int64) -> String? {
        if session.agent != agent { return "wrong_agent" }
        if session.status == .revoked { return "revoked" }
        if now >= session.expiresAt { return "expired" }
        return nil
    }

    static func checkPlan(steps: [SpendPlan.Step], total: Int64) throws(LedgerError) {
        guard !steps.isEmpty else { throw LedgerError(.invalidArgument, "a plan has at least one step") }
        guard Set(steps.map(\.tool)).count == steps.count else {
            throw LedgerError(.invalidArgument, "a plan names each tool once")
        }
        var most: Int64 = 0
        for step in steps {
            guard step.maxAmount > 0, step.count > 0 else {
                throw LedgerError(.invalidArgument, "a step's amount and count must be positive")
            }
            let (product, overflow) = step.maxAmount.multipliedReportingOverflow(by: step.count)
            most = overflow ? .max : saturatingAdd(most, product)
        }
        guard total > 0, total <= most else {
            throw LedgerError(.invalidArgument, "a plan's total must be positive and at most what its steps can spend")
        }
    }

    private func openPlanLocked(session sessionID: String) throws(LedgerError) -> SpendPlan? {
        guard
            let id = try database.first(
                "SELECT id FROM plans WHERE session_id = ? AND state != 'closed' ORDER BY created_ms DESC, id LIMIT 1",
                [.text(sessionID)], { $0.text(0) })
        else { return nil }
        return try planStatusLocked(id)?.plan
    }

    /// Closes the session's open plans whose time ran out (`expired`, audited).
    private func expireOpenPlansLocked(session sessionID: String, now: Int64) throws(LedgerError) {
        let ids = try database.rows(
            "SELECT id FROM plans WHERE session_id = ? AND state != 'closed' AND expires_ms <= ?",
            [.text(sessionID), .integer(now)]
        ) { $0.text(0) }
        for id in ids {
            if let status = try planStatusLocked(id) {
                _ = try closeLocked(status, outcome: .expired, by: "deadline", now: now)
            }
        }
    }

    private func closeLocked(_ status: PlanStatus, outcome: SpendPlan.Outcome, by actor: String, now: Int64)
        throws(LedgerError) -> PlanStatus
    {
        var closed = status
        let returned = status.unused(at: now)
        try database.run(
            "UPDATE plans SET state = 'closed', outcome = ?, closed_ms = ? WHERE id = ?",
            [.text(outcome.rawValue), .integer(now), .text(status.plan.id)])
        closed.plan.state = .closed
        closed.plan.outcome = outcome
        closed.plan.closedAt = now
        var payload = Self.planPayload(closed.plan)
        payload["outcome"] = .string(outcome.rawValue)
        payload["by"] = .string(actor)
        payload["spent"] = .number(JSONNumber(status.usage.settled))
        payload["held"] = .number(JSONNumber(status.usage.held))
        payload["returned"] = .number(JSONNumber(returned))
        payload["reservations"] = .array(status.usage.reservations.map { .string($0) })
        try appendAuditLocked(kind: "plan.close", payload: payload, now: now)
        return closed
    }

    private func planStatusLocked(_ id: String) throws(LedgerError) -> PlanStatus? {
        guard
            let row = try database.first(
                """
                SELECT pl.id, pl.session_id, pl.agent, pl.asset, pl.total, pl.state, pl.outcome, pl.args_digest,
                    pl.created_ms, pl.expires_ms, pl.lifetime_ms, pl.approved_ms, pl.approved_by, pl.closed_ms,
                    s.decimals
                FROM plans pl JOIN sessions s ON s.id = pl.session_id WHERE pl.id = ?
                """, [.text(id)],
                {
                    (
                        SpendPlan(
                            id: $0.text(0), sessionID: $0.text(1), agent: $0.text(2), asset: $0.text(3),
                            total: $0.int64(4), steps: [], state: SpendPlan.State(rawValue: $0.text(5)) ?? .closed,
                            outcome: $0.optionalText(6).flatMap { SpendPlan.Outcome(rawValue: $0) },
                            argumentsDigest: $0.text(7), createdAt: $0.int64(8), expiresAt: $0.int64(9),
                            lifetime: $0.int64(10), approvedAt: $0.optionalInt64(11), approvedBy: $0.optionalText(12),
                            closedAt: $0.optionalInt64(13)), Int($0.int64(14))
                    )
                })
        else { return nil }
        var plan = row.0
        plan.steps = try database.rows(
            "SELECT tool, purpose, max_amount, count FROM plan_steps WHERE plan_id = ? ORDER BY position", [.text(id)]
        ) { SpendPlan.Step(tool: $0.text(0), purpose: $0.text(1), maxAmount: $0.int64(2), count: $0.int64(3)) }
        var usage = PlanUsage()
        try database.query(
            """
            SELECT r.id, r.tool, r.state, \(CountedAmount.used("r."))
            FROM plan_payments p JOIN reservations r ON r.id = p.reservation_id
            WHERE p.plan_id = ? AND r.state != 'released' ORDER BY r.created_ms, r.id
            """, [.text(id)]
        ) { row throws(LedgerError) in
            let amount = row.optionalInt64(3) ?? 0
            let settled = row.text(2) == ReservationState.committed.rawValue
            var tool = usage.byTool[row.text(1)] ?? PlanUsage.Tool()
            tool.payments += 1
            tool.amount = saturatingAdd(tool.amount, amount)
            if settled {
                usage.settled = saturatingAdd(usage.settled, amount)
            } else {
                tool.paymentsHeld += 1
                usage.held = saturatingAdd(usage.held, amount)
            }
            usage.byTool[row.text(1)] = tool
            usage.reservations.append(row.text(0))
        }
        return PlanStatus(plan: plan, usage: usage, decimals: row.1)
    }

    private static func planPayload(_ plan: SpendPlan) -> JSONObject {
        [
            "plan": .string(plan.id), "session": .string(plan.sessionID), "agent": .string(plan.agent),
            "asset": .string(plan.asset), "total": .number(JSONNumber(plan.total)),
        ]
    }
}

extension GateEvaluation {
    /// An evaluation refused by the first failing check of `checks` (the plan step's early check words its
    /// refusal with the same numbers the reservation would).
    public init(refusing checks: [GateCheck], asset: String, decimals: Int) {
        let failing = checks.first { !$0.passed }
        self.init(
            outcome: failing.map { .refused($0.gate) } ?? .allowed, checks: checks, asset: asset, decimals: decimals)
    }
}

/// `a + b`, staying at `Int64.max` instead of overflowing (sums of amounts only grow).
func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}
