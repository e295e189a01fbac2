import Glibc
public import JSONCore

/// The hash-chained audit trail: appending, reading and verifying records.
extension Ledger {
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
    /// head written with it. Reports the first record that fails. Also recomputes the derived totals from
    /// the reservations (`totalsProblems`).
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
        return AuditVerification(
            records: records, headHash: previous, problem: problem, totalsProblems: try checkDerivedTotalsLocked())
    }

    /// Recomputes every derived total from the reservations (`DerivedTotals.checks`) and names the tables
    /// whose stored rows differ, with the first differing key.
    func checkDerivedTotalsLocked() throws(LedgerError) -> [String] {
        var problems: [String] = []
        for check in DerivedTotals.checks {
            let keys = check.keys.joined(separator: ", ")
            let differing = try database.rows(
                """
                SELECT \(keys) FROM (\(check.stored) EXCEPT \(check.expected)) stored_only
                UNION ALL
                SELECT \(keys) FROM (\(check.expected) EXCEPT \(check.stored)) expected_only
                """
            ) { row in (0..<Int32(check.keys.count)).map { row.optionalText($0) ?? "NULL" } }
            if let first = differing.first {
                problems.append(
                    "\(check.table): \(differing.count) row(s) differ from the reservations "
                        + "(first: \(first.joined(separator: " / ")))")
            }
        }
        return problems
    }
}
