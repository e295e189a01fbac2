import Glibc
public import JSONCore

/// Gates and reservations: an amount held under every gate before anything is signed, then committed,
/// released, marked in doubt, or recovered after a crash.
extension Ledger {
    /// Evaluates every gate for `request` against the current state without holding anything or writing
    /// to the audit trail (for a preview; `reserve` evaluates again atomically and records the decision).
    public func evaluateGates(_ request: ReservationRequest, limits: LimitsConfiguration) throws(LedgerError)
        -> GateEvaluation
    {
        let now = clock.now()
        return try database.transaction(immediate: false) { () throws(LedgerError) -> GateEvaluation in
            try evaluateLocked(request, limits: limits, now: now)
        }
    }

    private func evaluateLocked(_ request: ReservationRequest, limits: LimitsConfiguration, now: Int64)
        throws(LedgerError) -> GateEvaluation
    {
        let session = try loadSession(request.sessionID)
        var usage = Usage()
        if let session {
            let sums = try sessionSums(session.id, tool: request.tool)
            (usage.sessionUsed, usage.sessionInFlight) = (saturatingAdd(sums.settled, sums.held), sums.held)
            if limits.limits(for: request.asset).perTool[request.tool] != nil {
                (usage.toolUsed, usage.toolInFlight) = (saturatingAdd(sums.toolSettled, sums.toolHeld), sums.toolHeld)
            }
        }
        let plan = try planUsageLocked(request, session: session, usage: &usage, now: now)
        if let velocity = limits.limits(for: request.asset).velocity {
            let window = try windowUsage(
                agent: request.agent, asset: request.asset, tool: request.tool, since: now - velocity.windowMilliseconds
            )
            usage.windowCount = window.payments
            usage.windowCountInFlight = window.heldPayments
            usage.windowAmount = saturatingAdd(window.settled, window.held)
            usage.windowAmountInFlight = window.held
        }
        return GateEvaluator.evaluate(request, session: session, usage: usage, limits: limits, now: now, plan: plan)
    }

    /// (used including in flight, in flight) for a session, optionally for one tool: from `session_totals`
    /// (one row per tool of the session), what `CountedAmount` counts.
    func sessionUsage(_ sessionID: String, tool: String?) throws(LedgerError) -> (Int64, Int64) {
        let sums = try sessionSums(sessionID, tool: tool ?? "")
        let (settled, held) = tool == nil ? (sums.settled, sums.held) : (sums.toolSettled, sums.toolHeld)
        return (saturatingAdd(settled, held), held)
    }

    /// The session's settled and held amounts, and the tool's with its payments: one read of the session's
    /// rows of `session_totals`.
    func sessionSums(_ sessionID: String, tool: String) throws(LedgerError) -> SessionSums {
        var sums = SessionSums()
        try database.query(
            """
            SELECT COALESCE(SUM(settled), 0), COALESCE(SUM(held), 0),
                COALESCE(SUM(CASE WHEN tool = ? THEN settled ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN tool = ? THEN held ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN tool = ? THEN payments ELSE 0 END), 0)
            FROM session_totals WHERE session_id = ?
            """, [.text(tool), .text(tool), .text(tool), .text(sessionID)]
        ) { row throws(LedgerError) in
            sums = SessionSums(
                settled: row.int64(0), held: row.int64(1), toolSettled: row.int64(2), toolHeld: row.int64(3),
                toolPayments: row.int64(4))
        }
        return sums
    }

    /// What the velocity window counts: `agent`'s reservations in `asset` created after `since` (not
    /// released), and those for `tool`. Whole minutes come from `window_totals`; the minute `since` falls in
    /// is read from the reservations themselves (`reservations_window`), so the answer is exact.
    func windowUsage(agent: String, asset: String, tool: String, since: Int64) throws(LedgerError) -> WindowUsage {
        let edge = DerivedTotals.firstWholeBucket(after: since)
        var usage = WindowUsage()
        try database.query(
            Self.windowStatement,
            [
                .text(tool), .text(agent), .text(asset), .integer(edge), .text(agent), .text(asset), .integer(since),
                .integer(edge),
            ]
        ) { row throws(LedgerError) in
            usage = WindowUsage(
                payments: row.int64(0), heldPayments: row.int64(1), settled: row.int64(2), held: row.int64(3),
                toolPayments: row.int64(4))
        }
        return usage
    }

    private static let windowStatement = """
        SELECT COALESCE(SUM(payments), 0), COALESCE(SUM(held_payments), 0), COALESCE(SUM(settled), 0),
            COALESCE(SUM(held), 0), COALESCE(SUM(CASE WHEN tool = ? THEN payments ELSE 0 END), 0)
        FROM (
            SELECT tool, payments, held_payments, settled, held FROM window_totals
            WHERE agent = ? AND asset = ? AND bucket_ms >= ?
            UNION ALL
            SELECT tool, 1, \(CountedAmount.heldPayment()), \(CountedAmount.settled()), \(CountedAmount.held())
            FROM reservations
            WHERE agent = ? AND asset = ? AND created_ms > ? AND created_ms < ? AND state != 'released'
        ) w
        """

    /// Checks every gate and, when all pass, holds the amount: one `BEGIN IMMEDIATE` transaction, so the
    /// check and the hold are atomic across processes. The decision (with its arithmetic) is appended to
    /// the audit trail in the same transaction, whatever the outcome.
    ///
    /// Nothing is released by time here: a signed payment stays held until evidence decides (see
    /// `Ledger+Settlement.swift`). Revocation and expiry are read here, so they take effect at the next
    /// reservation.
    /// - Parameter holdUntil: when given (unix seconds), the hold is recorded directly as `in_doubt` until
    ///   then: for a caller about to sign an authorization valid until at most that time, this saves the
    ///   separate `markInDoubt` transaction. A crash before signing then keeps the amount held until
    ///   `holdUntil` instead of releasing it at recovery: slower to free, never an overspend.
    /// - Parameter authorization: what is about to be signed (nonce chosen before signing), recorded with
    ///   the hold so reconciliation can find the payment on chain whatever happens next.
    /// - Throws: `LedgerError` on storage failure or a malformed request; a refusal is an outcome.
    public func reserve(
        _ request: ReservationRequest, limits: LimitsConfiguration, holdUntil: Int64? = nil,
        authorization: SignedAuthorization? = nil
    ) throws(LedgerError) -> ReserveOutcome {
        try checkRequest(request)
        if let authorization { try checkAuthorization(authorization) }
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> ReserveOutcome in
            let evaluation = try evaluateLocked(request, limits: limits, now: now)
            var payload: JSONObject = [
                "outcome": .string(
                    evaluation.outcome == .allowed
                        ? "reserved"
                        : evaluation.outcome == .approvalRequired
                            ? "approval_required" : "refused"),
                "reason": .string(evaluation.reason),
                "session": .string(request.sessionID), "agent": .string(request.agent), "tool": .string(request.tool),
                "payee": .string(request.payee), "network": .string(request.network), "asset": .string(request.asset),
                "amount": .number(JSONNumber(request.amount)), "purpose": .string(request.purpose),
                "argsDigest": .string(request.argumentsDigest), "checks": .array(evaluation.checks.map { $0.json }),
            ]
            if let approval = request.approvalID { payload["approval"] = .string(approval) }
            if let plan = request.planID { payload["plan"] = .string(plan) }
            switch evaluation.outcome {
            case .refused:
                try appendAuditLocked(kind: "reserve", payload: payload, now: now)
                return .refused(evaluation)
            case .approvalRequired:
                try appendAuditLocked(kind: "reserve", payload: payload, now: now)
                return .approvalRequired(evaluation)
            case .allowed:
                var reservation = Reservation(
                    id: "res_" + randomHex(12), sessionID: request.sessionID, agent: request.agent, tool: request.tool,
                    payee: request.payee, network: request.network, asset: request.asset, amount: request.amount,
                    state: holdUntil == nil ? .reserved : .inDoubt, purpose: request.purpose,
                    argumentsDigest: request.argumentsDigest, createdAt: now, updatedAt: now)
                reservation.validBefore = holdUntil
                reservation.authorization = authorization
                try database.run(
                    """
                    INSERT INTO reservations(id, session_id, agent, tool, payee, network, asset, amount, state,
                        purpose, args_digest, owner, created_ms, updated_ms, valid_before,
                        nonce, authorizer, token, payment_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(reservation.id), .text(request.sessionID), .text(request.agent), .text(request.tool),
                        .text(request.payee), .text(request.network), .text(request.asset), .integer(request.amount),
                        .text(reservation.state.rawValue), .text(request.purpose), .text(request.argumentsDigest),
                        .text(ownerID), .integer(now), .integer(now), holdUntil.map { .integer($0) } ?? .null,
                    ] + Self.authorizationValues(authorization))
                if let plan = request.planID { try recordPlanPaymentLocked(reservation: reservation.id, plan: plan) }
                payload["reservation"] = .string(reservation.id)
                if let holdUntil { payload["held_until"] = .number(JSONNumber(holdUntil)) }
                try appendAuditLocked(kind: "reserve", payload: payload, now: now)
                return .reserved(reservation, evaluation)
            }
        }
    }

    /// Records a settled payment: the reservation becomes `committed` with the settled amount, the
    /// transaction hash, the payer and how the settlement was established (`evidence`).
    ///
    /// Allowed from `reserved` and `in_doubt`; from `contradicted` only with `.verified` or `.user`
    /// evidence; from `released` only with `.verified` (the chain shows money left after all: the truth is
    /// recorded even above the cap). A `.claimed` commit is upgraded by the same transaction with stronger
    /// evidence.
    public func commit(
        _ reservationID: String, settledAmount: Int64, transaction: String, payer: String,
        evidence: SettlementEvidence = .claimed
    ) throws(LedgerError) -> TransitionOutcome {
        try commit(
            reservationID, settledAmount: settledAmount, transaction: transaction, payer: payer, evidence: evidence,
            alsoRecord: nil
        ).outcome
    }

    /// `commit`, plus one more audit record (e.g. the finished call's trace) appended in the same durable
    /// transaction, so a paid call costs one fsync fewer. The extra record is appended only when the commit
    /// is applied; its sequence number is returned.
    public func commit(
        _ reservationID: String, settledAmount: Int64, transaction: String, payer: String,
        evidence: SettlementEvidence, note: String? = nil, alsoRecord: (kind: String, payload: JSONObject)?
    ) throws(LedgerError) -> (outcome: TransitionOutcome, record: AuditRecord?) {
        guard settledAmount >= 0 else { throw LedgerError(.invalidArgument, "the settled amount must not be negative") }
        try checkName(transaction, "transaction")
        try checkName(payer, "payer")
        let now = clock.now()
        return try database.transaction(immediate: true) {
            () throws(LedgerError) -> (outcome: TransitionOutcome, record: AuditRecord?) in
            guard let current = try loadReservation(reservationID) else { return (.unknownReservation, nil) }
            switch current.state {
            case .committed:
                // The chain overrides a seller's claim (another transaction, or another amount); nothing else
                // changes a recorded settlement.
                guard
                    current.settledAmount == settledAmount && current.transaction == transaction
                        || (current.evidence == .claimed && evidence == .verified)
                else {
                    return (.notAllowed(current, reason: "already committed with a different settlement"), nil)
                }
                // Stronger evidence for the same settlement upgrades a seller's claim; anything else is a repeat.
                guard current.evidence == .claimed, evidence != .claimed else { return (.alreadyApplied(current), nil) }
            case .contradicted where evidence == .claimed:
                return (
                    .notAllowed(current, reason: "the seller's claim was contradicted; only evidence settles it"), nil
                )
            case .released where evidence != .verified:
                return (
                    .notAllowed(current, reason: "released (\(current.releaseReason ?? "unknown")); nothing was paid"),
                    nil
                )
            case .reserved, .inDoubt, .contradicted, .released:
                break
            }
            if let note { try checkNote(note) }
            try database.run(
                """
                UPDATE reservations SET state = 'committed', settled_amount = ?, tx_hash = ?, payer = ?,
                    evidence = ?, note = COALESCE(?, note), updated_ms = ? WHERE id = ?
                """,
                [
                    .integer(settledAmount), .text(transaction), .text(payer), .text(evidence.rawValue),
                    note.map { .text($0) } ?? .null, .integer(now), .text(reservationID),
                ])
            var payload = Self.auditPayload(current)
            payload["from"] = .string(current.state.rawValue)
            payload["evidence"] = .string(evidence.rawValue)
            if let note { payload["note"] = .string(note) }
            if let previous = current.transaction, previous != transaction { payload["replaces"] = .string(previous) }
            payload["settled"] = .number(JSONNumber(settledAmount))
            payload["transaction"] = .string(transaction)
            payload["payer"] = .string(payer)
            if settledAmount > current.amount { payload["overSettled"] = .bool(true) }
            try appendAuditLocked(kind: "commit", payload: payload, now: now)
            var extra: AuditRecord?
            if let alsoRecord {
                extra = try appendAuditLocked(kind: alsoRecord.kind, payload: alsoRecord.payload, now: now)
            }
            var updated = current
            updated.state = .committed
            updated.settledAmount = settledAmount
            updated.transaction = transaction
            updated.payer = payer
            updated.evidence = evidence
            if let note { updated.note = note }
            updated.updatedAt = now
            return (.applied(updated), extra)
        }
    }

    /// Frees a reservation whose payment cannot have left: `reason` is a short code such as `not_signed`.
    ///
    /// A `reserved` reservation may be released for any reason. An `in_doubt` one only for a reason in
    /// `provablyUnpaidReasons` (the caller knows the signature never left the process, or was never
    /// delivered); anything else about a signed payment is for `void` (chain evidence) or `resolve`.
    public func release(_ reservationID: String, reason: String) throws(LedgerError) -> TransitionOutcome {
        try checkName(reason, "reason")
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> TransitionOutcome in
            guard let current = try loadReservation(reservationID) else { return .unknownReservation }
            switch current.state {
            case .released: return .alreadyApplied(current)
            case .committed:
                return .notAllowed(current, reason: "already committed; a settled payment cannot be released")
            case .contradicted:
                return .notAllowed(current, reason: "contradicted; only chain evidence or the end user decides")
            case .inDoubt where !Self.provablyUnpaidReasons.contains(reason):
                return .notAllowed(
                    current, reason: "in doubt; only evidence frees it (reconcile, or the end user's resolve)")
            case .reserved, .inDoubt: break
            }
            return .applied(try releaseLocked(current, reason: reason, now: now))
        }
    }

    /// Marks a reservation in doubt: an authorization valid until `validBefore` (unix seconds, as in
    /// EIP-3009) has been signed and its outcome is not known. Call it **before** the signature leaves the
    /// process, so a crash can never leave a signed payment looking unsigned. The amount stays held until
    /// evidence decides: a settlement, chain proof that it was never used, or the end user.
    public func markInDoubt(
        _ reservationID: String, validBefore: Int64, authorization: SignedAuthorization? = nil
    ) throws(LedgerError) -> TransitionOutcome {
        guard validBefore > 0, validBefore < Int64.max / 1000 else {
            throw LedgerError(.invalidArgument, "validBefore must be unix seconds")
        }
        if let authorization { try checkAuthorization(authorization) }
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> TransitionOutcome in
            guard let current = try loadReservation(reservationID) else { return .unknownReservation }
            switch current.state {
            case .inDoubt where current.validBefore == validBefore: return .alreadyApplied(current)
            case .inDoubt:
                // A second, different authorization for the same reservation would be a second payment.
                return .notAllowed(current, reason: "already in doubt with another authorization")
            case .committed, .contradicted, .released:
                return .notAllowed(current, reason: "already \(current.state.rawValue)")
            case .reserved: break
            }
            try database.run(
                """
                UPDATE reservations SET state = 'in_doubt', valid_before = ?, updated_ms = ?,
                    nonce = ?, authorizer = ?, token = ?, payment_id = ? WHERE id = ?
                """,
                [.integer(validBefore), .integer(now)] + Self.authorizationValues(authorization)
                    + [.text(reservationID)])
            var payload = Self.auditPayload(current)
            payload["validBefore"] = .number(JSONNumber(validBefore))
            try appendAuditLocked(kind: "in_doubt", payload: payload, now: now)
            var updated = current
            updated.state = .inDoubt
            updated.validBefore = validBefore
            updated.authorization = authorization
            updated.updatedAt = now
            return .applied(updated)
        }
    }

    /// The reservation with this id, if any.
    public func reservation(id: String) throws(LedgerError) -> Reservation? {
        try loadReservation(id)
    }

    /// Every reservation, oldest first.
    public func reservations() throws(LedgerError) -> [Reservation] {
        try database.rows("SELECT \(Self.reservationColumns) FROM reservations ORDER BY created_ms, id") {
            Self.reservation(from: $0)
        }
    }

    /// What `session`'s pay decision counts for a payment to `tool` (`SessionTotals`): the session's own
    /// reservations not released, at any age, and `agent`'s in `asset` created after `since` (unix
    /// milliseconds, the velocity window) in any session. Read in one snapshot from the derived totals
    /// (`session_totals`: the session's rows, one per tool; `window_totals` and the window's first minute),
    /// so a paid call's cost does not grow with the session's payments. Amounts are what `CountedAmount`
    /// counts, as in the gates.
    ///
    /// A sum that does not fit 64 bits fails the statement (SQLite's "integer overflow"; PostgreSQL's
    /// numeric sum is refused when read), and settled plus held saturates: it never reads as less than was
    /// spent.
    public func sessionTotals(session sessionID: String, agent: String, asset: String, tool: String, since: Int64)
        throws(LedgerError) -> SessionTotals
    {
        try database.transaction(immediate: false) { () throws(LedgerError) -> SessionTotals in
            let sums = try sessionSums(sessionID, tool: tool)
            let window = try windowUsage(agent: agent, asset: asset, tool: tool, since: since)
            return SessionTotals(
                spent: sums.settled, held: sums.held, toolPayments: sums.toolPayments,
                toolAmount: saturatingAdd(sums.toolSettled, sums.toolHeld), windowPayments: window.payments,
                windowAmount: saturatingAdd(window.settled, window.held), toolWindowPayments: window.toolPayments)
        }
    }

    /// What `recover()` did.
    public struct Recovery: Sendable, Hashable {
        /// Reservations of crashed processes that were never signed, now released.
        public var releasedUnsigned: [String]
        /// Reservations still held by live processes, left alone.
        public var heldByLiveOwners: Int
    }

    /// Cleans up after crashes; call at startup (safe to call any time, from any process).
    ///
    /// A `reserved` reservation whose owner process is gone was never signed (signing marks it in doubt
    /// first), so it is released with reason `not_signed_owner_gone`, audited. In-doubt reservations are
    /// never touched: whether they settled is a fact on chain (`reconcile`), not a matter of time.
    public func recover() throws(LedgerError) -> Recovery {
        try reholdTimerReleases()
        let candidates = try database.rows(
            "SELECT DISTINCT owner FROM reservations WHERE state = 'reserved' AND owner != ?", [.text(ownerID)]
        ) { $0.text(0) }
        var dead: [String] = []
        for owner in candidates {
            if try !owners.isOwnerAlive(owner) { dead.append(owner) }
        }
        let now = clock.now()
        let unsigned = try database.transaction(immediate: true) { () throws(LedgerError) -> [String] in
            var unsigned: [String] = []
            for owner in dead {
                let stranded = try database.rows(
                    "SELECT \(Self.reservationColumns) FROM reservations WHERE state = 'reserved' AND owner = ?",
                    [.text(owner)]
                ) { Self.reservation(from: $0) }
                for reservation in stranded {
                    _ = try releaseLocked(reservation, reason: "not_signed_owner_gone", now: now)
                    unsigned.append(reservation.id)
                }
            }
            return unsigned
        }
        owners.sweep()
        let held = try database.first(
            "SELECT COUNT(*) FROM reservations WHERE state = 'reserved' AND owner != ?", [.text(ownerID)]
        ) { $0.int64(0) }
        return Recovery(releasedUnsigned: unsigned, heldByLiveOwners: Int(held ?? 0))
    }

    func releaseLocked(_ current: Reservation, reason: String, now: Int64) throws(LedgerError) -> Reservation {
        try database.run(
            "UPDATE reservations SET state = 'released', release_reason = ?, updated_ms = ? WHERE id = ?",
            [.text(reason), .integer(now), .text(current.id)])
        var payload = Self.auditPayload(current)
        payload["from"] = .string(current.state.rawValue)
        payload["reason"] = .string(reason)
        try appendAuditLocked(kind: "release", payload: payload, now: now)
        var updated = current
        updated.state = .released
        updated.releaseReason = reason
        updated.updatedAt = now
        return updated
    }

    static func auditPayload(_ reservation: Reservation) -> JSONObject {
        [
            "reservation": .string(reservation.id), "session": .string(reservation.sessionID),
            "agent": .string(reservation.agent), "tool": .string(reservation.tool),
            "asset": .string(reservation.asset), "amount": .number(JSONNumber(reservation.amount)),
        ]
    }

    static let reservationColumns = """
        id, session_id, agent, tool, payee, network, asset, amount, state, purpose, args_digest, created_ms,
        updated_ms, valid_before, settled_amount, tx_hash, payer, release_reason, evidence, nonce, authorizer,
        token, payment_id, note
        """

    static func reservation(from row: any SQLRow) -> Reservation {
        Reservation(
            id: row.text(0), sessionID: row.text(1), agent: row.text(2), tool: row.text(3), payee: row.text(4),
            network: row.text(5), asset: row.text(6), amount: row.int64(7),
            state: ReservationState(rawValue: row.text(8)) ?? .inDoubt, purpose: row.text(9),
            argumentsDigest: row.text(10), createdAt: row.int64(11), updatedAt: row.int64(12),
            validBefore: row.optionalInt64(13), settledAmount: row.optionalInt64(14), transaction: row.optionalText(15),
            payer: row.optionalText(16), releaseReason: row.optionalText(17),
            evidence: row.optionalText(18).flatMap { SettlementEvidence(rawValue: $0) },
            authorization: row.optionalText(19).map {
                SignedAuthorization(
                    nonce: $0, authorizer: row.optionalText(20) ?? "", token: row.optionalText(21) ?? "",
                    paymentID: row.optionalText(22))
            }, note: row.optionalText(23))
    }

    func loadReservation(_ id: String) throws(LedgerError) -> Reservation? {
        try database.first("SELECT \(Self.reservationColumns) FROM reservations WHERE id = ?", [.text(id)]) {
            Self.reservation(from: $0)
        }
    }

    private func checkRequest(_ request: ReservationRequest) throws(LedgerError) {
        try checkName(request.sessionID, "session id")
        try checkName(request.agent, "agent")
        try checkName(request.tool, "tool")
        try checkName(request.payee, "payee")
        try checkName(request.network, "network")
        try checkName(request.asset, "asset")
        try checkName(request.purpose, "purpose")
        try checkName(request.argumentsDigest, "arguments digest")
        if let approval = request.approvalID { try checkName(approval, "approval id") }
        if let plan = request.planID { try checkName(plan, "plan id") }
    }
}
