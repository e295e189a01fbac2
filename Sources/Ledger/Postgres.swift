import CPostgres
import Glibc

/// How PostgreSQL writers are kept from overspending a session.
public enum PostgresConcurrency: Sendable, Hashable {
    /// Every writer transaction first takes one transaction-scoped advisory lock, so writers run one at a
    /// time, as SQLite's `BEGIN IMMEDIATE` makes them, in READ COMMITTED (each statement sees everything
    /// committed before the lock was granted). The default: see docs/ledger.md for why and the numbers.
    case writerLock
    /// SERIALIZABLE transactions, retried on serialization failures and deadlocks (SQLSTATE 40001, 40P01).
    case serializable
}

/// The advisory-lock class of the writer lock (`pg_advisory_xact_lock(class, 0)`): "PURW".
private let writerLockClass: Int32 = 0x5055_5257
/// The advisory-lock class of owner locks (`pg_advisory_lock(class, owner key)`): "PURS".
let ownerLockClass: Int32 = 0x5055_5253
/// `PG_DIAG_SQLSTATE` is a character macro Swift does not import.
private let sqlStateField = Int32(UInt8(ascii: "C"))

/// Server notices (e.g. "relation already exists, skipping") would go to stderr unasked; the ledger
/// reports what matters through its errors.
private func ignoreNotice(_ context: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) {}

/// One row of a PostgreSQL result (text format), valid only inside the row callback.
struct PostgresRow: SQLRow {
    fileprivate let pq: LibPQ
    fileprivate let result: OpaquePointer
    fileprivate let row: Int32

    func optionalText(_ column: Int32) -> String? {
        guard pq.PQgetisnull(result, row, column) == 0, let value = pq.PQgetvalue(result, row, column) else {
            return nil
        }
        return String(cString: value)
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        optionalText(column).flatMap { Int64($0) }
    }

    func int64(_ column: Int32) -> Int64 {
        optionalInt64(column) ?? 0
    }
}

/// A single PostgreSQL connection through libpq (loaded on the first open, see `LibPQ`) with a
/// prepared-statement cache.
///
/// Not thread-safe on its own: it is owned by the `Ledger` actor, which serialises every use. A lost
/// connection fails the statement or transaction it was in (the server rolls that transaction back,
/// exactly as a crash would); the next transaction reconnects and runs `sessionSetup` again.
final class PostgresDatabase: LedgerDatabase {
    let dialect = SQLDialect.postgres
    private let pq: LibPQ
    private let connection: OpaquePointer
    private let concurrency: PostgresConcurrency
    private let lockTimeoutMilliseconds: Int32
    private var statements: [String: String] = [:]
    private(set) var inTransaction = false
    /// The SQLSTATE of the last failed statement, for the serializable retry.
    private var lastState: String?
    /// Statements run after every (re)connection, after the ledger's own settings: the owner's lock.
    var sessionSetup: [String] = []
    /// Set when a reconnection's setup has not completed yet.
    private var needsSetup = false

    /// Connects to `url` (no password in it: libpq reads `PGPASSWORD` or `~/.pgpass`).
    init(url: String, lockTimeoutMilliseconds: Int32, concurrency: PostgresConcurrency) throws(LedgerError) {
        let pq = try LibPQ.loaded()
        // The URL comes last so its own settings win. A connect timeout keeps an unreachable server from
        // hanging the process; keepalives and a TCP user timeout make a connection whose network died
        // fail within about 30 s instead of waiting for the kernel's retransmissions (minutes).
        let keywords = [
            "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "tcp_user_timeout", "fallback_application_name", "dbname",
        ]
        let values = ["10", "1", "10", "5", "3", "30000", "purser", url]
        let opened = withCStringArray(keywords) { keys in
            withCStringArray(values) { values in pq.PQconnectdbParams(keys, values, 1) }
        }
        guard let opened else { throw LedgerError(.storage, "cannot connect to PostgreSQL: out of memory") }
        guard pq.PQstatus(opened) == CONNECTION_OK else {
            let message = Self.trimmed(pq.PQerrorMessage(opened))
            pq.PQfinish(opened)
            throw LedgerError(.storage, "cannot connect to the PostgreSQL ledger: \(message)")
        }
        self.pq = pq
        connection = opened
        self.concurrency = concurrency
        self.lockTimeoutMilliseconds = max(1, lockTimeoutMilliseconds)
        _ = pq.PQsetNoticeProcessor(connection, ignoreNotice, nil)  // returns the default processor, not needed
        do {
            try configure()
        } catch {
            pq.PQfinish(connection)
            throw error
        }
    }

    deinit {
        pq.PQfinish(connection)
    }

    /// The ledger's session settings: a lock wait fails as `.busy` after the timeout, as SQLite's busy
    /// timeout does; a commit returns only once it is durable (whatever the server's default).
    private func configure() throws(LedgerError) {
        try execute("SET lock_timeout = \(lockTimeoutMilliseconds)")
        try execute("SET synchronous_commit = on")
        try execute("SET client_min_messages = warning")
        for statement in sessionSetup { try execute(statement) }
    }

    /// Reconnects when the connection was lost (only between transactions), and finishes a setup that
    /// failed after a reconnection (the owner's lock must be held before this connection writes again).
    private func ensureConnected() throws(LedgerError) {
        guard !inTransaction else { return }
        if pq.PQstatus(connection) != CONNECTION_OK {
            statements = [:]
            pq.PQreset(connection)
            guard pq.PQstatus(connection) == CONNECTION_OK else {
                throw LedgerError(
                    .storage,
                    "the PostgreSQL ledger connection was lost: \(Self.trimmed(pq.PQerrorMessage(connection)))")
            }
            needsSetup = true
        }
        guard needsSetup else { return }
        needsSetup = false
        do {
            try configure()
        } catch {
            needsSetup = true
            throw error
        }
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        let text = String(cString: message)
        return String(text.reversed().drop(while: { $0.isWhitespace }).reversed())
            .replacingNewlines()
    }

    private func failure(_ result: OpaquePointer?, _ context: String) -> LedgerError {
        let state = result.flatMap { pq.PQresultErrorField($0, sqlStateField) }.map { String(cString: $0) }
        lastState = state
        guard pq.PQstatus(connection) == CONNECTION_OK else {
            return LedgerError(
                .storage,
                "\(context): the PostgreSQL connection was lost: \(Self.trimmed(pq.PQerrorMessage(connection)))")
        }
        let message = Self.trimmed(result.flatMap { pq.PQresultErrorMessage($0) } ?? pq.PQerrorMessage(connection))
        // Serialization failures, deadlocks and lock timeouts are contention, like SQLite's SQLITE_BUSY.
        let code: LedgerError.Code = ["40001", "40P01", "55P03"].contains(state ?? "") ? .busy : .storage
        return LedgerError(code, "\(context): \(message) (PostgreSQL \(state ?? "?"))")
    }

    /// Takes ownership of `result`: returns it when it succeeded, clears it and throws otherwise.
    private func checked(_ result: OpaquePointer?, _ context: String) throws(LedgerError) -> OpaquePointer {
        if let result {
            let status = pq.PQresultStatus(result)
            if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return result }
        }
        let error = failure(result, context)
        pq.PQclear(result)
        throw error
    }

    func execute(_ sql: String) throws(LedgerError) {
        try ensureConnected()
        pq.PQclear(try checked(pq.PQexec(connection, sql), "SQL failed"))
    }

    /// `?` placeholders become `$1`, `$2`, …; a `?` inside a quoted literal stays.
    static func numberingPlaceholders(_ sql: String) -> String {
        var output = ""
        var quoted = false
        var number = 0
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                number += 1
                output += "$\(number)"
            } else {
                output.append(character)
            }
        }
        return output
    }

    private func prepared(_ sql: String) throws(LedgerError) -> String {
        if let name = statements[sql] { return name }
        let name = "purser_\(statements.count + 1)"
        pq.PQclear(
            try checked(
                pq.PQprepare(connection, name, Self.numberingPlaceholders(sql), 0, nil), "cannot prepare a statement"))
        statements[sql] = name
        return name
    }

    /// Runs a prepared statement; the caller clears the result.
    private func perform(_ sql: String, _ values: [SQLValue]) throws(LedgerError) -> OpaquePointer {
        try ensureConnected()
        let name = try prepared(sql)
        let texts: [String?] = values.map {
            switch $0 {
            case .null: return nil
            case .integer(let number): return String(number)
            case .text(let text): return text
            }
        }
        let result = withOptionalCStringArray(texts) { pointers in
            pq.PQexecPrepared(connection, name, Int32(texts.count), pointers, nil, nil, 0)
        }
        return try checked(result, "statement failed")
    }

    func query(_ sql: String, _ values: [SQLValue], row: (any SQLRow) throws(LedgerError) -> Void)
        throws(LedgerError)
    {
        let result = try perform(sql, values)
        defer { pq.PQclear(result) }
        try checkIntegers(result)
        for index in 0..<pq.PQntuples(result) {
            try row(PostgresRow(pq: pq, result: result, row: index))
        }
    }

    /// The PostgreSQL types whose values the ledger reads as 64-bit integers: int2, int4, int8 and numeric
    /// (what `SUM` over a BIGINT column returns).
    private static let integerTypes: Set<UInt32> = [21, 23, 20, 1700]

    /// Refuses a result with an integer or numeric value that does not fit 64 bits (or is not whole).
    /// The row reader has no error channel; without this check such a value (a `SUM` past 2^63 − 1)
    /// would read as nil, and a sum of what was spent would count as nothing — failing open, where
    /// SQLite raises "integer overflow". So the whole statement fails instead, before any row is used.
    private func checkIntegers(_ result: OpaquePointer) throws(LedgerError) {
        for column in 0..<pq.PQnfields(result) where Self.integerTypes.contains(pq.PQftype(result, column)) {
            for index in 0..<pq.PQntuples(result) where pq.PQgetisnull(result, index, column) == 0 {
                guard let value = pq.PQgetvalue(result, index, column), Int64(String(cString: value)) != nil else {
                    throw LedgerError(
                        .storage, "an integer read from the ledger does not fit 64 bits (integer overflow)")
                }
            }
        }
    }

    @discardableResult
    func run(_ sql: String, _ values: [SQLValue]) throws(LedgerError) -> Int {
        let result = try perform(sql, values)
        defer { pq.PQclear(result) }
        return pq.PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
    }

    /// True when the database holds a ledger: its version table `purser_schema` is in the search path.
    /// Reads only: a caller that must not create a ledger asks this before `Ledger.migrate`.
    func hasLedger() throws(LedgerError) -> Bool {
        try first("SELECT to_regclass('purser_schema') IS NOT NULL") { $0.text(0) == "t" } ?? false
    }

    /// The version table `purser_schema`, one row; created on first use, under the writer lock.
    func schemaVersion() throws(LedgerError) -> Int64 {
        precondition(inTransaction, "the schema version is read under the writer lock")
        try execute("CREATE TABLE IF NOT EXISTS purser_schema(version BIGINT NOT NULL)")
        return try first("SELECT COALESCE(MAX(version), 0) FROM purser_schema") { $0.int64(0) } ?? 0
    }

    func setSchemaVersion(_ version: Int64) throws(LedgerError) {
        try run("DELETE FROM purser_schema")
        try run("INSERT INTO purser_schema(version) VALUES (?)", [.integer(version)])
    }

    /// How many times a serializable writer is tried before its `.busy` error is returned.
    private static let serializableAttempts = 50

    func transaction<T>(immediate: Bool, _ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        precondition(!inTransaction, "ledger transactions do not nest")
        var attempt = 0
        while true {
            attempt += 1
            lastState = nil
            do {
                return try attemptTransaction(immediate: immediate, body)
            } catch {
                let retriable = lastState == "40001" || lastState == "40P01"
                guard immediate, concurrency == .serializable, retriable, attempt < Self.serializableAttempts else {
                    throw error
                }
                // The whole transaction runs again from its first read: nothing of the failed attempt
                // was committed. Jittered, growing pauses keep the retries from colliding again.
                usleep(UInt32(min(5000, 50 * attempt)) + UInt32.random(in: 0...200))
            }
        }
    }

    private func attemptTransaction<T>(immediate: Bool, _ body: () throws(LedgerError) -> T) throws(LedgerError)
        -> T
    {
        let begin: String
        switch (immediate, concurrency) {
        case (false, _): begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        case (true, .writerLock): begin = "BEGIN ISOLATION LEVEL READ COMMITTED"
        case (true, .serializable): begin = "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
        do {
            try execute(begin)
        } catch  where pq.PQstatus(connection) != CONNECTION_OK {
            // The connection died while idle (a server restart, a network cut): nothing of this
            // transaction has happened yet, so it starts again on a new connection, once.
            try ensureConnected()
            try execute(begin)
        }
        inTransaction = true
        defer { inTransaction = false }
        let result: T
        do {
            if immediate && concurrency == .writerLock {
                try execute("SELECT pg_advisory_xact_lock(\(writerLockClass), 0)")
            }
            result = try body()
        } catch {
            rollBack()
            throw error
        }
        let commit = try checked(pq.PQexec(connection, "COMMIT"), "cannot commit")
        defer { pq.PQclear(commit) }
        // COMMIT of a transaction the server had already aborted answers ROLLBACK, not an error.
        guard let status = pq.PQcmdStatus(commit), String(cString: status) == "COMMIT" else {
            throw LedgerError(.storage, "the transaction was rolled back by the server")
        }
        return result
    }

    /// Ends a failed transaction. Its outcome needs no check: if ROLLBACK cannot reach the server, the
    /// connection is gone and the server rolls the transaction back itself.
    private func rollBack() {
        if pq.PQstatus(connection) == CONNECTION_OK { pq.PQclear(pq.PQexec(connection, "ROLLBACK")) }
    }
}

/// Owner liveness on PostgreSQL: each open ledger holds a session advisory lock keyed by its owner id;
/// the server drops it when the connection ends, so it is held exactly while the owner can still write.
final class PostgresOwners: LedgerOwners {
    let id: String
    private let database: PostgresDatabase

    private init(id: String, database: PostgresDatabase) {
        self.id = id
        self.database = database
    }

    /// A new owner id, locked on `database` now and again after every reconnection.
    static func acquire(_ database: PostgresDatabase) throws(LedgerError) -> PostgresOwners {
        let id = "own_" + randomHex(12)
        let lock = "SELECT pg_advisory_lock(\(ownerLockClass), \(key(id)))"
        try database.execute(lock)
        database.sessionSetup.append(lock)
        return PostgresOwners(id: id, database: database)
    }

    /// The advisory-lock key of an owner id: its first 32 bits. Two live owners sharing a key only make a
    /// gone one look alive, which holds its reservations longer, never frees them early.
    static func key(_ owner: String) -> Int32 {
        Int32(bitPattern: UInt32(owner.dropFirst(4).prefix(8), radix: 16) ?? 0)
    }

    /// Nothing is left behind: the server drops a gone owner's lock.
    func sweep() {}

    func isOwnerAlive(_ owner: String) throws(LedgerError) -> Bool {
        if owner == id { return true }
        // Owner ids come from the database: only our own format names an owner.
        guard owner.hasPrefix("own_"), owner.utf8.count == 28,
            owner.utf8.dropFirst(4).allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { return false }
        let key = Self.key(owner)
        if key == Self.key(id) { return true }
        let taken = try database.first(
            "SELECT pg_try_advisory_lock(CAST(? AS INTEGER), CAST(? AS INTEGER))",
            [.integer(Int64(ownerLockClass)), .integer(Int64(key))]
        ) { $0.text(0) == "t" }
        guard taken == true else { return true }
        try database.run(
            "SELECT pg_advisory_unlock(CAST(? AS INTEGER), CAST(? AS INTEGER))",
            [.integer(Int64(ownerLockClass)), .integer(Int64(key))])
        return false
    }
}

extension String {
    /// Server messages can span lines (DETAIL, HINT); errors here are one line.
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\n" ? " " : $0 })
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } } + [nil])
}

/// Calls `body` with a C array of the strings, NULL for nil (an SQL NULL parameter).
private func withOptionalCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
