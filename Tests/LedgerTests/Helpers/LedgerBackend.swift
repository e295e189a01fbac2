import CPostgres
import CSQLite
import Foundation
import Ledger
import Testing

/// The backends the ledger contract suite runs against: SQLite always, PostgreSQL when
/// `PURSER_TEST_POSTGRES` names a server (`scripts/test` starts a throwaway one and sets it, with the
/// password in `PGPASSWORD`).
enum LedgerBackend: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgres

    /// The PostgreSQL URL the tests use, if any.
    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["PURSER_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Every backend available here.
    static var all: [LedgerBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    var testDescription: String { rawValue }

    /// A fresh, empty ledger location on this backend.
    func store() throws -> any LedgerStore {
        switch self {
        case .sqlite: return try SQLiteStore()
        case .postgres: return try PostgresStore()
        }
    }
}

/// A fresh ledger location for one test, removed by `remove()`.
protocol LedgerStore: Sendable {
    /// What `Ledger.open(path:)` takes: a file path, or a PostgreSQL URL.
    var databasePath: String { get }
    /// Runs SQL on the database behind the ledger's back, as an attacker with database access would.
    func execute(_ sql: String) throws
    func remove()
}

struct SQLiteStore: LedgerStore {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }

    var databasePath: String { directory.databasePath }

    func execute(_ sql: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open(databasePath, &handle) == SQLITE_OK else { throw LedgerError(.io, "open") }
        defer { sqlite3_close(handle) }
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        let text = message.map { String(cString: $0) } ?? ""
        sqlite3_free(message)
        guard status == SQLITE_OK else { throw LedgerError(.storage, text) }
    }

    func remove() { directory.remove() }
}

/// A schema of its own in the test database: the ledger's tables, the version table and the JSON
/// function all live in it (the connection's `search_path`), so tests run side by side.
struct PostgresStore: LedgerStore {
    let schema: String
    let baseURL: String

    init() throws {
        guard let url = LedgerBackend.postgresURL else { throw LedgerError(.configuration, "PURSER_TEST_POSTGRES") }
        baseURL = url
        schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try Self.run(url, "CREATE SCHEMA \(schema)")
    }

    /// The schema first in the search path; the schema's name as the application name too, so a test can
    /// find (and cut) the ledger's own connections.
    var databasePath: String {
        baseURL + (baseURL.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)&application_name=\(schema)"
    }

    func execute(_ sql: String) throws { try Self.run(databasePath, sql) }

    func remove() { try? Self.run(baseURL, "DROP SCHEMA \(schema) CASCADE") }

    static func run(_ url: String, _ sql: String) throws {
        guard let connection = PQconnectdb(url) else { throw LedgerError(.storage, "out of memory") }
        defer { PQfinish(connection) }
        guard PQstatus(connection) == CONNECTION_OK else {
            throw LedgerError(.storage, String(cString: PQerrorMessage(connection)))
        }
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw LedgerError(.storage, String(cString: PQresultErrorMessage(result)))
        }
    }
}

@Suite("Ledger backends")
struct LedgerBackendTests {
    @Test(
        "the PostgreSQL contract cases run",
        .enabled(
            if: LedgerBackend.postgresURL != nil
                || ProcessInfo.processInfo.environment["PURSER_REQUIRE_POSTGRES"] != nil,
            "PURSER_TEST_POSTGRES is not set: the PostgreSQL cases of the ledger contract suite are skipped (scripts/test starts a throwaway server and sets it)"
        ))
    func postgresConfigured() {
        #expect(LedgerBackend.postgresURL != nil, "PURSER_REQUIRE_POSTGRES is set but PURSER_TEST_POSTGRES is not")
    }
}
