import CSQLite
import Glibc

/// `SQLITE_TRANSIENT` is a C macro Swift cannot import: SQLite copies the bound bytes before returning.
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Sleeps 20–220 µs at first, growing to at most ~1.2 ms, and gives up after roughly the timeout
/// (carried as the context pointer's bit pattern, in milliseconds).
private func busyHandler(_ context: UnsafeMutableRawPointer?, _ attempts: Int32) -> Int32 {
    let timeoutMilliseconds = Int(bitPattern: context)
    // Each attempt sleeps at most ~1.2 ms, so this many attempts is at least the timeout.
    guard Int(attempts) < timeoutMilliseconds + 50 else { return 0 }
    let base = UInt32(min(1000, 20 + Int(attempts) * 20))
    usleep(base + UInt32.random(in: 0...200))
    return 1
}

/// One row of an SQLite result set, valid only inside the row callback.
struct SQLiteRow: SQLRow {
    fileprivate let statement: OpaquePointer

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, column)
    }

    func optionalText(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

/// A single SQLite connection with a statement cache.
///
/// Not thread-safe on its own: it is owned by the `Ledger` actor, which serialises every use.
final class SQLiteDatabase: LedgerDatabase {
    let dialect = SQLDialect.sqlite
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    private(set) var inTransaction = false
    /// A file whose `flock` queues this machine's ledger writers in the kernel (see `transaction`).
    private let writeQueue: Int32

    /// Opens (creating if needed) the database at `path` with the ledger's durability settings.
    init(path: String, busyTimeoutMilliseconds: Int32) throws(LedgerError) {
        var pointer: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &pointer, flags, nil)
        guard status == SQLITE_OK, let pointer else {
            let message = pointer.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(pointer)
            throw LedgerError(.storage, "cannot open the ledger database: \(message)")
        }
        handle = pointer
        writeQueue = open(path + ".writers", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        sqlite3_extended_result_codes(handle, 1)
        // SQLite's own busy timeout backs off to sleeps of 25–100 ms, so under contention one unlucky
        // process can wait seconds while others take the lock again and again. Short, jittered sleeps
        // keep waits close to the time the lock is actually held.
        sqlite3_busy_handler(
            handle, busyHandler, UnsafeMutableRawPointer(bitPattern: Int(max(1, busyTimeoutMilliseconds))))
        do {
            // WAL lets readers proceed during a write; FULL syncs the WAL on every commit, so a
            // committed reservation survives power loss, not only a process crash.
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=FULL")
            try execute("PRAGMA foreign_keys=ON")
        } catch {
            sqlite3_close_v2(handle)
            if writeQueue >= 0 { close(writeQueue) }
            throw error
        }
    }

    deinit {
        if writeQueue >= 0 { close(writeQueue) }
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    private func failure(_ status: Int32, _ context: String) -> LedgerError {
        let message = String(cString: sqlite3_errmsg(handle))
        let code: LedgerError.Code = (status & 0xFF) == SQLITE_BUSY ? .busy : .storage
        return LedgerError(code, "\(context): \(message) (SQLite \(status))")
    }

    /// Runs SQL without parameters or results (pragmas, DDL, transaction control).
    func execute(_ sql: String) throws(LedgerError) {
        let status = sqlite3_exec(handle, sql, nil, nil, nil)
        guard status == SQLITE_OK else { throw failure(status, "SQL failed") }
    }

    private func prepared(_ sql: String) throws(LedgerError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw failure(status, "cannot prepare a statement") }
        statements[sql] = statement
        return statement
    }

    private func bind(_ values: [SQLValue], to statement: OpaquePointer) throws(LedgerError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let number): status = sqlite3_bind_int64(statement, index, number)
            case .text(let text): status = sqlite3_bind_text(statement, index, text, -1, transientDestructor)
            }
            guard status == SQLITE_OK else { throw failure(status, "cannot bind parameter \(index)") }
        }
    }

    /// Runs a statement, calling `row` for each result row.
    func query(_ sql: String, _ values: [SQLValue], row: (any SQLRow) throws(LedgerError) -> Void)
        throws(LedgerError)
    {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try bind(values, to: statement)
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_ROW {
                try row(SQLiteRow(statement: statement))
            } else if status == SQLITE_DONE {
                return
            } else {
                throw failure(status, "statement failed")
            }
        }
    }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue]) throws(LedgerError) -> Int {
        try query(sql, values) { _ throws(LedgerError) in }
        return Int(sqlite3_changes(handle))
    }

    /// `PRAGMA user_version`: the version slot in the database header.
    func schemaVersion() throws(LedgerError) -> Int64 {
        try first("PRAGMA user_version") { $0.int64(0) } ?? 0
    }

    func setSchemaVersion(_ version: Int64) throws(LedgerError) {
        try execute("PRAGMA user_version = \(version)")
    }

    /// Runs `body` in one transaction; `immediate` takes the write lock up front, so a read-check-write
    /// sequence is atomic across processes. Rolls back when `body` throws.
    func transaction<T>(immediate: Bool, _ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        precondition(!inTransaction, "ledger transactions do not nest")
        // SQLite's write lock is what makes the transaction safe; this kernel queue only orders the
        // waiting writers, which otherwise poll the lock and can starve one another. If the queue file
        // could not be opened the transaction still runs, just without the queue.
        let queued = immediate && writeQueue >= 0
        if queued {
            while flock(writeQueue, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { if queued { flock(writeQueue, LOCK_UN) } }
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        inTransaction = true
        defer { inTransaction = false }
        let result: T
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        return result
    }
}
