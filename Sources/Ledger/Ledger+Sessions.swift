import Glibc
import JSONCore

/// Payment sessions: the budget an agent spends from, granted and revoked by the user.
extension Ledger {
    /// Grants a payment session and records the grant in the audit trail.
    /// - Parameters:
    ///   - cap: budget in atomic units (≥ 0).
    ///   - ttlMilliseconds: lifetime from now (> 0).
    ///   - perCallCap: optional largest single payment, atomic units.
    ///   - requirePlan: paid calls need an approved spend plan (`purser session grant --require-plan`).
    /// - Throws: `LedgerError.Code.invalidArgument` for a bad argument; nothing is written then.
    public func grantSession(
        agent: String, asset: String, decimals: Int, cap: Int64, ttlMilliseconds: Int64, perCallCap: Int64? = nil,
        requirePlan: Bool = false
    ) throws(LedgerError) -> PaymentSession {
        try checkName(agent, "agent")
        try checkName(asset, "asset")
        guard cap >= 0, (perCallCap ?? 0) >= 0 else {
            throw LedgerError(.invalidArgument, "amounts must not be negative")
        }
        guard (0...AssetAmount.maximumDecimals).contains(decimals) else {
            throw LedgerError(.invalidArgument, "decimals must be 0…\(AssetAmount.maximumDecimals)")
        }
        let now = clock.now()
        let (expires, overflow) = now.addingReportingOverflow(ttlMilliseconds)
        guard ttlMilliseconds > 0, !overflow else { throw LedgerError(.invalidArgument, "the ttl must be positive") }
        let session = PaymentSession(
            id: "ses_" + randomHex(12), agent: agent, asset: asset, decimals: decimals, cap: cap,
            perCallCap: perCallCap,
            createdAt: now, expiresAt: expires, status: .active, revokedAt: nil, requiresPlan: requirePlan)
        try database.transaction(immediate: true) { () throws(LedgerError) in
            try database.run(
                """
                INSERT INTO sessions(
                    id, agent, asset, decimals, cap, per_call_cap, created_ms, expires_ms, status, require_plan)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)
                """,
                [
                    .text(session.id), .text(agent), .text(asset), .integer(Int64(decimals)), .integer(cap),
                    perCallCap.map { .integer($0) } ?? .null, .integer(now), .integer(expires),
                    .integer(requirePlan ? 1 : 0),
                ])
            var payload: JSONObject = [
                "session": .string(session.id), "agent": .string(agent), "asset": .string(asset),
                "cap": .number(JSONNumber(cap)), "expiresAt": .number(JSONNumber(expires)),
            ]
            if let perCallCap { payload["perCallCap"] = .number(JSONNumber(perCallCap)) }
            if requirePlan { payload["requirePlan"] = .bool(true) }
            try appendAuditLocked(kind: "session.grant", payload: payload, now: now)
        }
        return session
    }

    /// Revokes a session; every process sees it at its next reservation.
    public func revokeSession(_ id: String) throws(LedgerError) -> RevokeOutcome {
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> RevokeOutcome in
            guard let session = try loadSession(id) else { return .unknownSession }
            if session.status == .revoked { return .alreadyRevoked(session) }
            try database.run(
                "UPDATE sessions SET status = 'revoked', revoked_ms = ? WHERE id = ?", [.integer(now), .text(id)])
            try appendAuditLocked(kind: "session.revoke", payload: ["session": .string(id)], now: now)
            var revoked = session
            revoked.status = .revoked
            revoked.revokedAt = now
            return .revoked(revoked)
        }
    }

    /// Every session with what it has spent, newest first.
    public func sessions() throws(LedgerError) -> [SessionUsage] {
        try database.transaction(immediate: false) { () throws(LedgerError) -> [SessionUsage] in
            let sessions = try database.rows("SELECT \(Self.sessionColumns) FROM sessions ORDER BY created_ms DESC, id")
            {
                Self.session(from: $0)
            }
            var result: [SessionUsage] = []
            let now = clock.now()
            for session in sessions {
                let (used, inFlight) = try sessionUsage(session.id, tool: nil)
                // An approved plan's unused reservation is held against the session like a payment in flight.
                let planned = try openPlanHoldsLocked(session: session.id, excluding: nil, now: now)
                result.append(
                    SessionUsage(
                        session: session, committed: used - inFlight, inFlight: saturatingAdd(inFlight, planned)))
            }
            return result
        }
    }

    /// The session with this id, if any.
    public func session(id: String) throws(LedgerError) -> PaymentSession? {
        try loadSession(id)
    }

    /// The newest session of `agent` in `asset` that is active and not expired now, if any.
    public func activeSession(agent: String, asset: String) throws(LedgerError) -> PaymentSession? {
        try database.first(
            """
            SELECT \(Self.sessionColumns) FROM sessions
            WHERE agent = ? AND asset = ? AND status = 'active' AND expires_ms > ?
            ORDER BY created_ms DESC, id LIMIT 1
            """,
            [.text(agent), .text(asset), .integer(clock.now())]
        ) { Self.session(from: $0) }
    }

    private static let sessionColumns =
        "id, agent, asset, decimals, cap, per_call_cap, created_ms, expires_ms, status, revoked_ms, require_plan"

    private static func session(from row: any SQLRow) -> PaymentSession {
        PaymentSession(
            id: row.text(0), agent: row.text(1), asset: row.text(2), decimals: Int(row.int64(3)), cap: row.int64(4),
            perCallCap: row.optionalInt64(5), createdAt: row.int64(6), expiresAt: row.int64(7),
            status: PaymentSession.Status(rawValue: row.text(8)) ?? .revoked, revokedAt: row.optionalInt64(9),
            requiresPlan: row.int64(10) != 0)
    }

    func loadSession(_ id: String) throws(LedgerError) -> PaymentSession? {
        try database.first("SELECT \(Self.sessionColumns) FROM sessions WHERE id = ?", [.text(id)]) {
            Self.session(from: $0)
        }
    }
}
