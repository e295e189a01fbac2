import JSONCore

/// The ledger as JSON Lines, for moving it between backends (`purser ledger export` / `import`).
///
/// Line 1 is a header `{"format":"purser-ledger","version":1,"schema":N}`; every other line is one row,
/// `{"table":"…","row":{column: value, …}}`, tables in dependency order and rows in a fixed order, with
/// every column of the table and nothing else. Integers are JSON integers, text is JSON strings, NULL is
/// `null`. Rows are copied verbatim, the audit trail included, so the imported chain has the same records
/// and the same head hash and `verify` passes on it exactly when it passed on the source.
enum LedgerExport {
    static let format = "purser-ledger"
    static let version: Int64 = 1

    enum Kind { case integer, text }

    /// Every table, its columns with their kinds, and the order rows are written in.
    static let tables: [(name: String, columns: [(String, Kind)], order: String)] = [
        (
            "sessions",
            [
                ("id", .text), ("agent", .text), ("asset", .text), ("decimals", .integer), ("cap", .integer),
                ("per_call_cap", .integer), ("created_ms", .integer), ("expires_ms", .integer), ("status", .text),
                ("revoked_ms", .integer), ("require_plan", .integer),
            ], "id"
        ),
        (
            "approvals",
            [
                ("id", .text), ("agent", .text), ("tool", .text), ("args_digest", .text), ("amount", .integer),
                ("asset", .text), ("payee", .text), ("state", .text), ("created_ms", .integer),
                ("expires_ms", .integer), ("redeemed_ms", .integer),
            ], "id"
        ),
        (
            "plans",
            [
                ("id", .text), ("session_id", .text), ("agent", .text), ("asset", .text), ("total", .integer),
                ("state", .text), ("outcome", .text), ("args_digest", .text), ("created_ms", .integer),
                ("expires_ms", .integer), ("lifetime_ms", .integer), ("approved_ms", .integer),
                ("approved_by", .text), ("closed_ms", .integer),
            ], "created_ms, id"
        ),
        (
            "plan_steps",
            [
                ("plan_id", .text), ("position", .integer), ("tool", .text), ("purpose", .text),
                ("max_amount", .integer), ("count", .integer),
            ], "plan_id, position"
        ),
        (
            "reservations",
            [
                ("id", .text), ("session_id", .text), ("agent", .text), ("tool", .text), ("payee", .text),
                ("network", .text), ("asset", .text), ("amount", .integer), ("state", .text), ("purpose", .text),
                ("args_digest", .text), ("owner", .text), ("created_ms", .integer), ("updated_ms", .integer),
                ("valid_before", .integer), ("settled_amount", .integer), ("tx_hash", .text), ("payer", .text),
                ("release_reason", .text), ("evidence", .text), ("nonce", .text), ("authorizer", .text),
                ("token", .text), ("payment_id", .text), ("note", .text),
            ], "created_ms, id"
        ),
        ("plan_payments", [("reservation_id", .text), ("plan_id", .text)], "reservation_id"),
        (
            "idempotency",
            [
                ("agent", .text), ("key", .text), ("tool", .text), ("args_digest", .text), ("state", .text),
                ("result", .text), ("owner", .text), ("created_ms", .integer), ("expires_ms", .integer),
            ], "agent, key"
        ),
        (
            "audit",
            [
                ("seq", .integer), ("at_ms", .integer), ("kind", .text), ("payload", .text), ("prev_hash", .text),
                ("hash", .text),
            ], "seq"
        ),
        ("meta", [("key", .text), ("value", .text)], "key"),
    ]
}

extension Ledger {
    /// Writes the whole ledger, one line at a time (without newlines), from one consistent snapshot.
    public func export(_ write: (String) throws(LedgerError) -> Void) throws(LedgerError) {
        try database.transaction(immediate: false) { () throws(LedgerError) in
            let header: JSONValue = [
                "format": .string(LedgerExport.format), "version": .number(JSONNumber(LedgerExport.version)),
                "schema": .number(JSONNumber(Self.schemaVersion)),
            ]
            try write(header.serialized(sortedKeys: true))
            for table in LedgerExport.tables {
                let names = table.columns.map(\.0).joined(separator: ", ")
                var lines: [String] = []
                try database.query("SELECT \(names) FROM \(table.name) ORDER BY \(table.order)", []) {
                    row throws(LedgerError) in
                    var object = JSONObject()
                    for (index, (name, kind)) in table.columns.enumerated() {
                        let column = Int32(index)
                        switch kind {
                        case .integer: object[name] = row.optionalInt64(column).map { .number(JSONNumber($0)) } ?? .null
                        case .text: object[name] = row.optionalText(column).map { .string($0) } ?? .null
                        }
                    }
                    let line: JSONValue = ["table": .string(table.name), "row": .object(object)]
                    lines.append(line.serialized(sortedKeys: true))
                }
                for line in lines { try write(line) }
            }
        }
    }

    /// Reads an export into this ledger, which must be empty, in one transaction: either every row is
    /// imported and the audit trail verifies, or nothing is written.
    ///
    /// - Parameter lines: the export's lines, in order (blank lines are skipped).
    /// - Returns: the verification of the imported audit trail.
    /// - Throws: `LedgerError.Code.invalidArgument` naming the line (1-based) for a malformed line, an
    ///   unknown table or column, a missing column, a value of the wrong kind, an export of another schema,
    ///   a ledger that is not empty, or an audit trail that does not verify; `.storage` when a row breaks a
    ///   constraint (also with its line).
    public func importExport(_ lines: [String]) throws(LedgerError) -> AuditVerification {
        func bad(_ number: Int, _ message: String) -> LedgerError {
            LedgerError(.invalidArgument, "line \(number): \(message)")
        }
        return try database.transaction(immediate: true) { () throws(LedgerError) -> AuditVerification in
            for table in LedgerExport.tables {
                let rows = try database.first("SELECT COUNT(*) FROM \(table.name)") { $0.int64(0) } ?? 0
                guard rows == 0 else {
                    throw LedgerError(
                        .invalidArgument, "the target ledger is not empty (\(table.name) has \(rows) rows)")
                }
            }
            var sawHeader = false
            for (offset, line) in lines.enumerated() {
                let number = offset + 1
                if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
                let value: JSONValue
                do {
                    value = try JSONParser.parse(Array(line.utf8))
                } catch {
                    throw bad(number, "not JSON: \(error)")
                }
                guard let object = value.objectValue else { throw bad(number, "not a JSON object") }
                if !sawHeader {
                    guard object["format"]?.stringValue == LedgerExport.format, object.count == 3,
                        object["version"]?.int64Value == LedgerExport.version
                    else { throw bad(number, "not a Purser ledger export (version \(LedgerExport.version)) header") }
                    guard object["schema"]?.int64Value == Self.schemaVersion else {
                        throw bad(
                            number,
                            "the export has schema \(object["schema"].map { "\($0)" } ?? "?"); "
                                + "this build imports schema \(Self.schemaVersion)")
                    }
                    sawHeader = true
                    continue
                }
                guard object.count == 2, let name = object["table"]?.stringValue, let row = object["row"]?.objectValue
                else { throw bad(number, "a row line is {\"table\": NAME, \"row\": {…}}") }
                guard let table = LedgerExport.tables.first(where: { $0.name == name }) else {
                    throw bad(number, "unknown table \"\(name)\"")
                }
                let known = Set(table.columns.map(\.0))
                if let unknown = row.keys.first(where: { !known.contains($0) }) {
                    throw bad(number, "unknown column \"\(unknown)\" in \(name)")
                }
                var values: [SQLValue] = []
                for (column, kind) in table.columns {
                    guard let field = row[column] else { throw bad(number, "\(name) row without \"\(column)\"") }
                    switch (kind, field) {
                    case (_, .null): values.append(.null)
                    case (.integer, .number(let number)) where number.int64 != nil:
                        values.append(.integer(number.int64!))
                    case (.text, .string(let text)): values.append(.text(text))
                    default:
                        throw bad(
                            number, "\(name).\(column) must be \(kind == .integer ? "an integer" : "a string") or null")
                    }
                }
                let names = table.columns.map(\.0).joined(separator: ", ")
                let placeholders = Array(repeating: "?", count: values.count).joined(separator: ", ")
                do throws(LedgerError) {
                    try database.run("INSERT INTO \(name)(\(names)) VALUES (\(placeholders))", values)
                } catch {
                    throw LedgerError(error.code, "line \(number): \(error.message)")
                }
            }
            guard sawHeader else { throw LedgerError(.invalidArgument, "the export is empty") }
            let verification = try verifyLocked()
            if let problem = verification.problem {
                throw LedgerError(.invalidArgument, "the imported audit trail does not verify: \(problem)")
            }
            if let problem = verification.totalsProblems.first {
                throw LedgerError(.invalidArgument, "the imported ledger's totals do not add up: \(problem)")
            }
            return verification
        }
    }
}
