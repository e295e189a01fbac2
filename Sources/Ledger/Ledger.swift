import Glibc
public import JSONCore

/// The durable spend ledger: payment sessions, reservations, idempotency records and the hash-chained
/// audit trail, in one SQLite database shared safely by every Purser process on the machine.
///
/// Every state change and the audit record describing it are written in the same transaction.
/// A reservation checks every gate and holds the amount in one `BEGIN IMMEDIATE` transaction, so
/// concurrent processes can never overspend a session. Budget refusals and invalid transitions are
/// returned as values; only storage failures and malformed arguments throw.
///
/// ```swift
/// let ledger = try Ledger.open(path: home + "/ledger.sqlite", clock: .system)
/// try await ledger.recover()
/// guard let session = try await ledger.activeSession(agent: "agent-1", asset: "USDC") else { … }
/// switch try await ledger.reserve(request, limits: limits) {
/// case .reserved(let reservation, _): … sign, then markInDoubt, send, then commit or release
/// case .approvalRequired(let evaluation), .refused(let evaluation): … evaluation.explanation()
/// }
/// ```
public actor Ledger {
    /// Settings that rarely change.
    public struct Configuration: Sendable {
        /// How long a writer waits for another process's write lock before failing with `.busy`.
        public var busyTimeoutMilliseconds: Int32
        /// How long an idempotency record counts.
        public var idempotencyTTLMilliseconds: Int64
        /// How PostgreSQL writers are kept from overspending (ignored for SQLite).
        public var postgresConcurrency: PostgresConcurrency

        /// Creates a configuration.
        public init(
            busyTimeoutMilliseconds: Int32 = 10_000, idempotencyTTLMilliseconds: Int64 = 86_400_000,
            postgresConcurrency: PostgresConcurrency = .writerLock
        ) {
            self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
            self.idempotencyTTLMilliseconds = idempotencyTTLMilliseconds
            self.postgresConcurrency = postgresConcurrency
        }
    }

    /// The newest schema this build knows.
    public static let schemaVersion: Int64 = 6

    /// The ledger database's path inside a state home (`$PURSER_HOME`).
    public static func path(inHome home: String) -> String {
        home.hasSuffix("/") ? home + "ledger.sqlite" : home + "/ledger.sqlite"
    }

    let database: any LedgerDatabase
    let clock: LedgerClock
    private let configuration: Configuration
    private let owners: any LedgerOwners
    /// Path of the database file, or the PostgreSQL connection URL (which never holds a password).
    public nonisolated let path: String
    /// This process's owner id (recorded on its reservations).
    public nonisolated let ownerID: String

    private init(
        path: String, database: any LedgerDatabase, clock: LedgerClock, configuration: Configuration,
        owners: any LedgerOwners
    ) {
        self.path = path
        self.database = database
        self.clock = clock
        self.configuration = configuration
        self.owners = owners
        self.ownerID = owners.id
    }

    /// Opens (creating if needed, mode 0600) the ledger at `path` and brings its schema up to date.
    ///
    /// Each open ledger holds an owner lock (an `flock` released by the kernel when the process dies),
    /// which lets `recover()` in another process tell a crashed owner's reservations from a live one's.
    /// - Throws: `LedgerError` when the file cannot be created or opened, or its schema is newer than this build.
    ///
    /// A `postgres://` or `postgresql://` URL instead of a path opens that PostgreSQL ledger
    /// (`open(location:)`).
    public static func open(path: String, clock: LedgerClock = .system, configuration: Configuration = Configuration())
        throws(LedgerError) -> Ledger
    {
        try open(location: LedgerLocation(path), clock: clock, configuration: configuration)
    }

    /// Opens the ledger at `location`, creating its schema if needed, and brings the schema up to date.
    ///
    /// PostgreSQL: each open ledger holds a session advisory lock named after its owner id, which the
    /// server drops when the connection ends (the process died, or the network between them did), so
    /// `recover()` on any machine tells a gone owner's unsigned reservations from a live one's.
    public static func open(
        location: LedgerLocation, clock: LedgerClock = .system, configuration: Configuration = Configuration()
    ) throws(LedgerError) -> Ledger {
        switch location {
        case .sqlite(let path):
            try LedgerFile.prepare(path)
            let ownerLock = try OwnerLock.acquire(directory: path + ".owners")
            ownerLock.sweep()
            let database = try SQLiteDatabase(
                path: path, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
            try migrate(database)
            return Ledger(path: path, database: database, clock: clock, configuration: configuration, owners: ownerLock)
        case .postgres(let url):
            let database = try PostgresDatabase(
                url: url, lockTimeoutMilliseconds: configuration.busyTimeoutMilliseconds,
                concurrency: configuration.postgresConcurrency)
            try migrate(database)
            let owners = try PostgresOwners.acquire(database)
            return Ledger(path: url, database: database, clock: clock, configuration: configuration, owners: owners)
        }
    }

    // MARK: Schema

    static func migrate(_ database: any LedgerDatabase) throws(LedgerError) {
        try database.transaction(immediate: true) { () throws(LedgerError) in
            let version = try database.schemaVersion()
            guard version <= schemaVersion else {
                throw LedgerError(
                    .schema, "the ledger has schema version \(version); this build knows up to \(schemaVersion)")
            }
            for step in database.dialect.migrations where step.version > version {
                try database.execute(step.sql)
            }
            if version < schemaVersion { try database.setSchemaVersion(schemaVersion) }
        }
    }

    // MARK: Sessions

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

    private func loadSession(_ id: String) throws(LedgerError) -> PaymentSession? {
        try database.first("SELECT \(Self.sessionColumns) FROM sessions WHERE id = ?", [.text(id)]) {
            Self.session(from: $0)
        }
    }

    // MARK: Gates and reservations

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
            (usage.sessionUsed, usage.sessionInFlight) = try sessionUsage(session.id, tool: nil)
            if limits.limits(for: request.asset).perTool[request.tool] != nil {
                (usage.toolUsed, usage.toolInFlight) = try sessionUsage(session.id, tool: request.tool)
            }
        }
        let plan = try planUsageLocked(request, session: session, usage: &usage, now: now)
        if let velocity = limits.limits(for: request.asset).velocity {
            let since = now - velocity.windowMilliseconds
            try database.query(
                """
                SELECT COUNT(*), COALESCE(SUM(CASE WHEN state != 'committed' THEN 1 ELSE 0 END), 0),
                       COALESCE(SUM(CASE WHEN state = 'committed' THEN settled_amount ELSE amount END), 0),
                       COALESCE(SUM(CASE WHEN state = 'committed' THEN 0 ELSE amount END), 0)
                FROM reservations WHERE agent = ? AND asset = ? AND created_ms > ? AND state != 'released'
                """,
                [.text(request.agent), .text(request.asset), .integer(since)]
            ) { row throws(LedgerError) in
                usage.windowCount = row.int64(0)
                usage.windowCountInFlight = row.int64(1)
                usage.windowAmount = row.int64(2)
                usage.windowAmountInFlight = row.int64(3)
            }
        }
        return GateEvaluator.evaluate(request, session: session, usage: usage, limits: limits, now: now, plan: plan)
    }

    /// (used including in flight, in flight) for a session, optionally for one tool.
    func sessionUsage(_ sessionID: String, tool: String?) throws(LedgerError) -> (Int64, Int64) {
        var result: (Int64, Int64) = (0, 0)
        let sums = """
            SELECT COALESCE(SUM(CASE WHEN state = 'committed' THEN settled_amount ELSE amount END), 0),
                   COALESCE(SUM(CASE WHEN state = 'committed' THEN 0 ELSE amount END), 0)
            FROM reservations WHERE session_id = ? AND state != 'released'
            """
        let values: [SQLValue] = tool.map { [.text(sessionID), .text($0)] } ?? [.text(sessionID)]
        try database.query(tool == nil ? sums : sums + " AND tool = ?", values) { row throws(LedgerError) in
            result = (row.int64(0), row.int64(1))
        }
        return result
    }

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

    /// The reservations not released that count toward `session`'s facts: those of the session itself and
    /// those of `agent` in `asset` created after `since` (unix milliseconds, the velocity window), in any
    /// session. Both halves are served by partial indexes, so a pay decision reads only what it counts,
    /// never the whole ledger.
    public func unreleasedReservations(session sessionID: String, agent: String, asset: String, since: Int64)
        throws(LedgerError) -> [Reservation]
    {
        try database.rows(
            """
            SELECT \(Self.reservationColumns) FROM reservations WHERE state != 'released' AND session_id = ?
            UNION
            SELECT \(Self.reservationColumns) FROM reservations
            WHERE state != 'released' AND agent = ? AND asset = ? AND created_ms > ?
            """, [.text(sessionID), .text(agent), .text(asset), .integer(since)]
        ) { Self.reservation(from: $0) }
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

    // MARK: Idempotency

    /// Starts a call under an idempotency key, or says why it must not run.
    ///
    /// A new key (or one whose record expired) is recorded as in progress with the tool and the arguments
    /// digest. The same key with another tool or other arguments is a conflict, never a replay.
    public func beginIdempotent(agent: String, key: String, tool: String, argumentsDigest: String)
        throws(LedgerError) -> IdempotencyBegin
    {
        try checkName(agent, "agent")
        try checkName(key, "idempotency key")
        try checkName(tool, "tool")
        try checkName(argumentsDigest, "arguments digest")
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> IdempotencyBegin in
            if let existing = try loadIdempotency(agent: agent, key: key), existing.expiresAt > now {
                guard existing.tool == tool, existing.argumentsDigest == argumentsDigest else { return .conflict }
                if existing.state == .completed, let result = existing.result { return .replay(result: result) }
                return .inProgress
            }
            try database.run(
                database.dialect.upsertIdempotency,
                [
                    .text(agent), .text(key), .text(tool), .text(argumentsDigest), .text(ownerID),
                    .integer(now), .integer(now &+ configuration.idempotencyTTLMilliseconds),
                ])
            return .started
        }
    }

    /// Stores the result of a call begun with `beginIdempotent`; later begins with the same arguments
    /// replay it. Returns false when there is no in-progress record for (agent, key).
    @discardableResult
    public func completeIdempotent(agent: String, key: String, result: String) throws(LedgerError) -> Bool {
        try database.transaction(immediate: true) { () throws(LedgerError) -> Bool in
            try database.run(
                "UPDATE idempotency SET state = 'completed', result = ? WHERE agent = ? AND key = ? AND state = 'in_progress'",
                [.text(result), .text(agent), .text(key)]) == 1
        }
    }

    /// Forgets an in-progress record when the call provably paid nothing, so the key may be retried.
    @discardableResult
    public func abandonIdempotent(agent: String, key: String) throws(LedgerError) -> Bool {
        try database.transaction(immediate: true) { () throws(LedgerError) -> Bool in
            try database.run(
                "DELETE FROM idempotency WHERE agent = ? AND key = ? AND state = 'in_progress'",
                [.text(agent), .text(key)]) == 1
        }
    }

    /// The record for (agent, key), if one exists and has not expired.
    public func lookupIdempotent(agent: String, key: String) throws(LedgerError) -> IdempotencyRecord? {
        guard let record = try loadIdempotency(agent: agent, key: key), record.expiresAt > clock.now() else {
            return nil
        }
        return record
    }

    private func loadIdempotency(agent: String, key: String) throws(LedgerError) -> IdempotencyRecord? {
        try database.first(
            """
            SELECT args_digest, state, result, created_ms, expires_ms, tool FROM idempotency
            WHERE agent = ? AND key = ?
            """,
            [.text(agent), .text(key)]
        ) {
            IdempotencyRecord(
                agent: agent, key: key, tool: $0.text(5), argumentsDigest: $0.text(0),
                state: IdempotencyRecord.State(rawValue: $0.text(1)) ?? .inProgress, result: $0.optionalText(2),
                createdAt: $0.int64(3), expiresAt: $0.int64(4))
        }
    }

    // MARK: Audit

    /// Appends a record to the audit trail in its own transaction (for steps that change no ledger state:
    /// policy decisions, approvals, the finished call with its latency).
    ///
    /// - Parameters:
    ///   - kind: lower-case code, letters, digits, `.` and `_` (e.g. `policy.call`, `approval`, `call`).
    ///   - payload: codes, amounts and digests only; never raw arguments, prompts or secrets.
    public func appendAudit(kind: String, payload: JSONObject) throws(LedgerError) -> AuditRecord {
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> AuditRecord in
            try appendAuditLocked(kind: kind, payload: payload, now: now)
        }
    }

    @discardableResult
    func appendAuditLocked(kind: String, payload: JSONObject, now: Int64) throws(LedgerError) -> AuditRecord {
        precondition(database.inTransaction, "audit records are written with the change they describe")
        guard !kind.isEmpty, kind.utf8.count <= 64,
            kind.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 95 })
        else { throw LedgerError(.invalidArgument, "an audit kind is lower-case letters, digits, '.' and '_'") }
        let head = try database.first("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") {
            ($0.int64(0), $0.text(1))
        }
        let sequence = (head?.0 ?? 0) + 1
        let previous = head?.1 ?? AuditRecord.genesisHash
        let text = JSONValue.object(payload).serialized(sortedKeys: true)
        var record = AuditRecord(
            sequence: sequence, timestamp: now, kind: kind, payload: text, previousHash: previous, hash: "")
        record.hash = record.expectedHash
        try database.run(
            "INSERT INTO audit(seq, at_ms, kind, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
            [.integer(sequence), .integer(now), .text(kind), .text(text), .text(previous), .text(record.hash)])
        try database.run(database.dialect.upsertAuditHead, [.text("\(sequence):\(record.hash)")])
        return record
    }

    /// Audit records with `sequence > after`, oldest first, at most `limit`.
    public func auditRecords(after: Int64 = 0, limit: Int = 1000) throws(LedgerError) -> [AuditRecord] {
        try database.rows(
            "SELECT seq, at_ms, kind, payload, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
            [.integer(after), .integer(Int64(limit))]
        ) {
            AuditRecord(
                sequence: $0.int64(0), timestamp: $0.int64(1), kind: $0.text(2), payload: $0.text(3),
                previousHash: $0.text(4), hash: $0.text(5))
        }
    }

    /// Checks the whole audit trail: sequence numbers contiguous from 1, each record's hash recomputed
    /// from its fields, each record linked to its predecessor's hash, and the last record matching the
    /// head written with it. Reports the first record that fails.
    public func verify() throws(LedgerError) -> AuditVerification {
        try database.transaction(immediate: false) { () throws(LedgerError) -> AuditVerification in
            try verifyLocked()
        }
    }

    /// `verify`, inside the caller's transaction.
    func verifyLocked() throws(LedgerError) -> AuditVerification {
        var expectedSequence: Int64 = 1
        var previous = AuditRecord.genesisHash
        var problem: AuditVerification.Problem?
        try database.query("SELECT seq, at_ms, kind, payload, prev_hash, hash FROM audit ORDER BY seq") {
            row throws(LedgerError) in
            guard problem == nil else { return }
            let record = AuditRecord(
                sequence: row.int64(0), timestamp: row.int64(1), kind: row.text(2), payload: row.text(3),
                previousHash: row.text(4), hash: row.text(5))
            if record.sequence != expectedSequence {
                problem = .init(
                    sequence: expectedSequence,
                    message: "missing (found record \(record.sequence) next): a record was removed or reordered")
            } else if record.previousHash != previous {
                problem = .init(
                    sequence: record.sequence,
                    message: "does not link to the previous record: a record before it was removed or reordered")
            } else if record.expectedHash != record.hash {
                problem = .init(sequence: record.sequence, message: "content does not match its hash: edited")
            }
            previous = record.hash
            expectedSequence += 1
        }
        let records = expectedSequence - 1
        if problem == nil {
            let head = try database.first("SELECT value FROM meta WHERE key = 'audit_head'") { $0.text(0) }
            let expectedHead = records == 0 ? nil : "\(records):\(previous)"
            if head != expectedHead {
                problem = .init(
                    sequence: records + 1,
                    message: "the chain ends at record \(records) but its recorded head is \(head ?? "absent"): "
                        + "records were removed from the end or the head was edited")
            }
        }
        return AuditVerification(records: records, headHash: previous, problem: problem)
    }

    // MARK: Reports

    /// Spend by agent, tool, payee and session; refusals by reason; held-in-doubt, claimed-unverified and
    /// contradicted amounts apart from spend; latency percentiles.
    public func report() throws(LedgerError) -> LedgerReport {
        let dialect = database.dialect
        return try database.transaction(immediate: false) { () throws(LedgerError) -> LedgerReport in
            func spend(_ column: String) throws(LedgerError) -> [LedgerReport.Spend] {
                try database.rows(
                    """
                    SELECT r.\(column), r.asset, \(dialect.grouped("s.decimals")), SUM(r.settled_amount), COUNT(*)
                    FROM reservations r JOIN sessions s ON s.id = r.session_id
                    WHERE r.state = 'committed' GROUP BY r.\(column), r.asset ORDER BY 4 DESC, 1
                    """
                ) {
                    LedgerReport.Spend(
                        key: $0.text(0), asset: $0.text(1), decimals: Int($0.int64(2)), amount: $0.int64(3),
                        payments: $0.int64(4))
                }
            }
            let refusals = try database.rows(
                """
                SELECT COALESCE(\(dialect.auditField("reason")), 'unspecified'), COUNT(*) FROM audit
                WHERE \(dialect.auditValid()) AND \(dialect.auditField("outcome")) = 'refused'
                GROUP BY 1 ORDER BY 2 DESC, 1
                """
            ) { LedgerReport.Refusals(reason: $0.text(0), count: $0.int64(1)) }
            func held(_ condition: String, _ column: String) throws(LedgerError) -> [LedgerReport.InDoubt] {
                try database.rows(
                    """
                    SELECT r.asset, \(dialect.grouped("s.decimals")), SUM(r.\(column)), COUNT(*) FROM reservations r
                    JOIN sessions s ON s.id = r.session_id WHERE \(condition) GROUP BY r.asset ORDER BY 1
                    """
                ) {
                    LedgerReport.InDoubt(
                        asset: $0.text(0), decimals: Int($0.int64(1)), amount: $0.int64(2), reservations: $0.int64(3))
                }
            }
            let inDoubt = try held("r.state = 'in_doubt'", "amount")
            let claimed = try held("r.evidence = 'claimed'", "settled_amount")
            let contradicted = try held("r.state = 'contradicted'", "amount")
            let latencies = try database.rows(dialect.auditIntegers(AuditField.latencyMicroseconds)) { $0.int64(0) }
            let latency: LedgerReport.Latency? =
                latencies.isEmpty
                ? nil
                : LedgerReport.Latency(
                    count: Int64(latencies.count), p50: nearestRank(latencies, percent: 50),
                    p90: nearestRank(latencies, percent: 90), p99: nearestRank(latencies, percent: 99),
                    max: latencies[latencies.count - 1])
            return LedgerReport(
                byAgent: try spend("agent"), byTool: try spend("tool"), byPayee: try spend("payee"),
                bySession: try spend("session_id"), refusals: refusals, inDoubt: inDoubt,
                claimedUnverified: claimed, contradicted: contradicted, latency: latency)
        }
    }

    // MARK: Argument checks

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

    /// Identifiers and codes: 1–256 bytes, no control characters.
    func checkName(_ value: String, _ what: String) throws(LedgerError) {
        guard !value.isEmpty, value.utf8.count <= 256,
            !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw LedgerError(.invalidArgument, "the \(what) must be 1–256 characters without control characters") }
    }
}

/// Random lower-case hex from the system generator (ids only; not a secret).
func randomHex(_ byteCount: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return hexString((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

/// fsyncs the directory containing `path`, so a newly created file's name survives a crash.
func fsyncDirectory(of path: String) {
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let descriptor = Glibc.open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
}
