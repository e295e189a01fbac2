/// A value bound to or read from a ledger statement. Money columns are always `integer`.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
}

/// One row of a result set, valid only inside the row callback.
protocol SQLRow {
    func int64(_ column: Int32) -> Int64
    func optionalInt64(_ column: Int32) -> Int64?
    func text(_ column: Int32) -> String
    func optionalText(_ column: Int32) -> String?
}

extension SQLRow {
    func text(_ column: Int32) -> String { optionalText(column) ?? "" }
}

/// The storage seam: one connection to the ledger's database, owned by the `Ledger` actor (which
/// serialises every use), whatever the backend.
///
/// Statements are written once with `?` placeholders; a backend translates them. What differs beyond
/// that between the dialects is in `SQLDialect`.
protocol LedgerDatabase: AnyObject {
    /// Which SQL the backend speaks.
    var dialect: SQLDialect { get }
    /// True inside `transaction`.
    var inTransaction: Bool { get }
    /// Runs SQL without parameters or results (DDL, settings).
    func execute(_ sql: String) throws(LedgerError)
    /// Runs a statement, calling `row` for each result row.
    func query(_ sql: String, _ values: [SQLValue], row: (any SQLRow) throws(LedgerError) -> Void)
        throws(LedgerError)
    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue]) throws(LedgerError) -> Int
    /// Runs `body` in one transaction. `immediate`: a writer, serialised against every other writer of
    /// this ledger (in any process, on any machine) from its first read, so a read-check-write sequence
    /// is atomic. Otherwise a read-only, consistent snapshot. Rolls back when `body` throws.
    func transaction<T>(immediate: Bool, _ body: () throws(LedgerError) -> T) throws(LedgerError) -> T
    /// The schema version recorded in the database (0 for a new one). Inside a writer transaction.
    func schemaVersion() throws(LedgerError) -> Int64
    /// Records the schema version. Inside a writer transaction.
    func setSchemaVersion(_ version: Int64) throws(LedgerError)
}

extension LedgerDatabase {
    func query(_ sql: String, row: (any SQLRow) throws(LedgerError) -> Void) throws(LedgerError) {
        try query(sql, [], row: row)
    }

    @discardableResult
    func run(_ sql: String) throws(LedgerError) -> Int {
        try run(sql, [])
    }

    /// The rows of a query, mapped.
    func rows<T>(_ sql: String, _ values: [SQLValue] = [], _ map: (any SQLRow) -> T) throws(LedgerError) -> [T] {
        var result: [T] = []
        try query(sql, values) { row throws(LedgerError) in result.append(map(row)) }
        return result
    }

    /// The first row of a query, mapped, or nil.
    func first<T>(_ sql: String, _ values: [SQLValue] = [], _ map: (any SQLRow) -> T) throws(LedgerError) -> T? {
        var result: T?
        try query(sql, values) { row throws(LedgerError) in
            if result == nil { result = map(row) }
        }
        return result
    }
}
