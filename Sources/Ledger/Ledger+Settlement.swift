public import JSONCore

/// Settlement evidence: the only ways a signed payment leaves the held states.
///
/// The budget counts evidence, not hope. A signed authorization's amount stays counted against every
/// limit until one of these decides it:
/// - `commit(…, evidence:)`: settled, verified on chain, claimed by the seller, or decided by the user;
/// - `contradict`: the seller's claim disagrees with what was signed or with the chain (stays held);
/// - `void`: proved unused on chain once it can no longer be used, or provably never delivered;
/// - `resolve`: the end user's decision, with a note, audited.
extension Ledger {
    /// Release reasons that prove a signature never left this process or never reached anyone: the only
    /// ones accepted by `release` for an `in_doubt` reservation.
    public static let provablyUnpaidReasons: Set<String> = ["not_signed", "not_sent", "not_delivered"]

    /// Void reason for an authorization the chain shows unused after its `validBefore`.
    public static let unusedOnChainReason = "unused_on_chain"
    /// Release reason for the end user's `resolve --void`.
    public static let userVoidReason = "user_void"

    /// Marks a seller's settlement claim as contradicted: the payment stays held at its full amount and is
    /// never presented as paid, until reconciliation or the end user decides.
    ///
    /// Allowed from `reserved`, `in_doubt` and a `claimed` commit (the chain disagreed afterwards).
    /// - Parameters:
    ///   - claimedTransaction: the transaction the seller named, when it fits the ledger (≤ 256 bytes).
    ///   - reason: a short description of the contradiction (≤ 512 bytes, no control characters).
    public func contradict(_ reservationID: String, claimedTransaction: String?, reason: String)
        throws(LedgerError) -> TransitionOutcome
    {
        try checkNote(reason)
        if let claimedTransaction { try checkName(claimedTransaction, "transaction") }
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> TransitionOutcome in
            guard let current = try loadReservation(reservationID) else { return .unknownReservation }
            switch current.state {
            case .contradicted: return .alreadyApplied(current)
            case .committed where current.evidence != .claimed:
                return .notAllowed(current, reason: "settled with \(current.evidence?.rawValue ?? "unknown") evidence")
            case .released:
                return .notAllowed(current, reason: "released (\(current.releaseReason ?? "unknown"))")
            case .reserved, .inDoubt, .committed: break
            }
            try database.run(
                """
                UPDATE reservations SET state = 'contradicted', evidence = NULL, settled_amount = NULL,
                    tx_hash = COALESCE(?, tx_hash), note = ?, updated_ms = ? WHERE id = ?
                """,
                [
                    claimedTransaction.map { .text($0) } ?? .null, .text(reason), .integer(now),
                    .text(reservationID),
                ])
            var payload = Self.auditPayload(current)
            payload["from"] = .string(current.state.rawValue)
            payload["reason"] = .string(reason)
            if let claimedTransaction { payload["claimedTransaction"] = .string(claimedTransaction) }
            try appendAuditLocked(kind: "contradict", payload: payload, now: now)
            var updated = current
            updated.state = .contradicted
            updated.evidence = nil
            updated.settledAmount = nil
            if let claimedTransaction { updated.transaction = claimedTransaction }
            updated.note = reason
            updated.updatedAt = now
            return .applied(updated)
        }
    }

    /// Frees a signed payment that the chain proves was never used and never can be (its authorization
    /// is unused after `validBefore`). The caller is the reconciler, which holds that evidence.
    ///
    /// Allowed from `in_doubt`, `contradicted` and a `claimed` commit (a seller that claimed a settlement
    /// the chain never saw). A verified or user-decided settlement is never voided.
    public func void(_ reservationID: String, evidence note: String) throws(LedgerError) -> TransitionOutcome {
        try checkNote(note)
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> TransitionOutcome in
            guard let current = try loadReservation(reservationID) else { return .unknownReservation }
            switch current.state {
            case .released: return .alreadyApplied(current)
            case .reserved: return .notAllowed(current, reason: "not signed; release it instead")
            case .committed where current.evidence != .claimed:
                return .notAllowed(current, reason: "settled with \(current.evidence?.rawValue ?? "unknown") evidence")
            case .inDoubt, .contradicted, .committed: break
            }
            return .applied(try voidLocked(current, reason: Self.unusedOnChainReason, note: note, now: now))
        }
    }

    /// The end user's decision about a held or claimed payment, with a note; audited as `resolve`.
    ///
    /// `.settled(transaction:)` commits the full amount with `.user` evidence; `.void` releases it with
    /// reason `user_void`. Allowed from `in_doubt`, `contradicted` and a `claimed` commit; never from a
    /// verified settlement, and never for a reservation that was not signed (`reserved`).
    public func resolve(_ reservationID: String, _ resolution: Resolution, note: String) throws(LedgerError)
        -> TransitionOutcome
    {
        try checkNote(note)
        if case .settled(let transaction) = resolution { try checkName(transaction, "transaction") }
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> TransitionOutcome in
            guard let current = try loadReservation(reservationID) else { return .unknownReservation }
            switch current.state {
            case .reserved: return .notAllowed(current, reason: "not signed yet; nothing to resolve")
            case .released: return .notAllowed(current, reason: "already released (\(current.releaseReason ?? ""))")
            case .committed where current.evidence != .claimed:
                return .notAllowed(current, reason: "already settled (\(current.evidence?.rawValue ?? "unknown"))")
            case .inDoubt, .contradicted, .committed: break
            }
            switch resolution {
            case .void:
                return .applied(try voidLocked(current, reason: Self.userVoidReason, note: note, now: now))
            case .settled(let transaction):
                let payer = current.authorization?.authorizer ?? current.payer ?? "unknown"
                try database.run(
                    """
                    UPDATE reservations SET state = 'committed', evidence = 'user', settled_amount = ?, tx_hash = ?,
                        payer = ?, note = ?, updated_ms = ? WHERE id = ?
                    """,
                    [
                        .integer(current.amount), .text(transaction), .text(payer), .text(note), .integer(now),
                        .text(reservationID),
                    ])
                var payload = Self.auditPayload(current)
                payload["from"] = .string(current.state.rawValue)
                payload["resolution"] = "settled"
                payload["transaction"] = .string(transaction)
                payload["note"] = .string(note)
                try appendAuditLocked(kind: "resolve", payload: payload, now: now)
                var updated = current
                updated.state = .committed
                updated.evidence = .user
                updated.settledAmount = current.amount
                updated.transaction = transaction
                updated.payer = payer
                updated.note = note
                updated.updatedAt = now
                return .applied(updated)
            }
        }
    }

    /// `reserve` without an authorization record (the shape the pipeline's `PaymentLedger` protocol names).
    public func reserve(_ request: ReservationRequest, limits: LimitsConfiguration, holdUntil: Int64?)
        throws(LedgerError) -> ReserveOutcome
    {
        try reserve(request, limits: limits, holdUntil: holdUntil, authorization: nil)
    }

    /// `commit` of a seller's claim (`claimed` evidence) with an extra audit record.
    public func commit(
        _ reservationID: String, settledAmount: Int64, transaction: String, payer: String,
        alsoRecord: (kind: String, payload: JSONObject)?
    ) throws(LedgerError) -> (outcome: TransitionOutcome, record: AuditRecord?) {
        try commit(
            reservationID, settledAmount: settledAmount, transaction: transaction, payer: payer, evidence: .claimed,
            note: nil, alsoRecord: alsoRecord)
    }

    /// Payments evidence has not decided yet, oldest first: in doubt, contradicted, or committed on the
    /// seller's claim only. `reconcile` walks these.
    public func unsettled(limit: Int = 10_000) throws(LedgerError) -> [Reservation] {
        try database.rows(
            """
            SELECT \(Self.reservationColumns) FROM reservations
            WHERE state IN ('in_doubt', 'contradicted') OR evidence = 'claimed'
            ORDER BY created_ms, id LIMIT ?
            """,
            [.integer(Int64(max(0, limit)))]
        ) { Self.reservation(from: $0) }
    }

    private func voidLocked(_ current: Reservation, reason: String, note: String, now: Int64) throws(LedgerError)
        -> Reservation
    {
        try database.run(
            """
            UPDATE reservations SET state = 'released', release_reason = ?, evidence = NULL, settled_amount = NULL,
                note = ?, updated_ms = ? WHERE id = ?
            """,
            [.text(reason), .text(note), .integer(now), .text(current.id)])
        var payload = Self.auditPayload(current)
        payload["from"] = .string(current.state.rawValue)
        payload["reason"] = .string(reason)
        payload["note"] = .string(note)
        try appendAuditLocked(kind: reason == Self.userVoidReason ? "resolve" : "void", payload: payload, now: now)
        var updated = current
        updated.state = .released
        updated.releaseReason = reason
        updated.evidence = nil
        updated.settledAmount = nil
        updated.note = note
        updated.updatedAt = now
        return updated
    }

    /// Earlier builds released in-doubt payments when `validBefore` passed (`in_doubt_expired`), as if
    /// expiry proved they never settled. It does not: such reservations are held again, audited, until
    /// reconciliation or the end user decides. Idempotent; `recover()` runs it.
    func reholdTimerReleases() throws(LedgerError) {
        let now = clock.now()
        try database.transaction(immediate: true) { () throws(LedgerError) in
            let released = try database.rows(
                """
                SELECT \(Self.reservationColumns) FROM reservations
                WHERE state = 'released' AND release_reason = 'in_doubt_expired'
                """
            ) { Self.reservation(from: $0) }
            for reservation in released {
                try database.run(
                    "UPDATE reservations SET state = 'in_doubt', release_reason = NULL, updated_ms = ? WHERE id = ?",
                    [.integer(now), .text(reservation.id)])
                var payload = Self.auditPayload(reservation)
                payload["from"] = "released"
                payload["reason"] = "timer_release_undone"
                try appendAuditLocked(kind: "in_doubt", payload: payload, now: now)
            }
        }
    }

    static func authorizationValues(_ authorization: SignedAuthorization?) -> [SQLValue] {
        guard let authorization else { return [.null, .null, .null, .null] }
        return [
            .text(authorization.nonce), .text(authorization.authorizer), .text(authorization.token),
            authorization.paymentID.map { .text($0) } ?? .null,
        ]
    }

    func checkAuthorization(_ authorization: SignedAuthorization) throws(LedgerError) {
        try checkName(authorization.nonce, "nonce")
        try checkName(authorization.authorizer, "authorizer")
        try checkName(authorization.token, "token")
        if let id = authorization.paymentID { try checkName(id, "payment id") }
    }

    /// Notes and reasons: 1–512 bytes, no control characters.
    func checkNote(_ note: String) throws(LedgerError) {
        guard !note.isEmpty, note.utf8.count <= 512,
            !note.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw LedgerError(.invalidArgument, "a note must be 1–512 characters without control characters") }
    }
}
