import CSQLite
import Foundation
import Ledger
import Testing

@Suite("Storage: schema version, durability settings")
struct StorageTests {
    func pragma(_ path: String, _ sql: String) throws -> String {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK else { throw LedgerError(.io, "open") }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw LedgerError(.io, "prepare")
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return "" }
        return String(cString: text)
    }

    @Test("a new SQLite ledger is in WAL mode at the current schema version")
    func settings() throws {
        let directory = try LedgerBackend.sqlite.store()
        defer { directory.remove() }
        _ = try Ledger.open(path: directory.databasePath)
        #expect(try pragma(directory.databasePath, "PRAGMA journal_mode") == "wal")
        #expect(try pragma(directory.databasePath, "PRAGMA user_version") == "\(Ledger.schemaVersion)")
    }

    @Test(
        "opening without create where there is no ledger says so and creates nothing; with one it opens",
        arguments: LedgerBackend.all)
    func openWithoutCreate(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        #expect {
            _ = try Ledger.open(path: directory.databasePath, create: false)
        } throws: { error in
            (error as? LedgerError)?.code == .notFound
        }
        // Nothing was made: no file, no version table (a second try says the same).
        if backend == .sqlite {
            #expect(!FileManager.default.fileExists(atPath: directory.databasePath))
        } else {
            #expect(throws: LedgerError.self) { try directory.execute("SELECT 1 FROM purser_schema") }
        }
        #expect(throws: LedgerError.self) { _ = try Ledger.open(path: directory.databasePath, create: false) }

        let session = try await Ledger.open(path: directory.databasePath).grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000, ttlMilliseconds: 60_000)
        let reopened = try Ledger.open(path: directory.databasePath, create: false)
        #expect(try await reopened.session(id: session.id) == session)
    }

    @Test("a ledger written by a newer build is refused, not misread", arguments: LedgerBackend.all)
    func newerSchema(backend: LedgerBackend) throws {
        let directory = try backend.store()
        defer { directory.remove() }
        _ = try Ledger.open(path: directory.databasePath)
        try directory.execute(
            backend == .sqlite ? "PRAGMA user_version = 99" : "UPDATE purser_schema SET version = 99")
        #expect {
            _ = try Ledger.open(path: directory.databasePath)
        } throws: { error in
            (error as? LedgerError)?.code == .schema
        }
        if backend == .sqlite {
            #expect(try pragma(directory.databasePath, "PRAGMA user_version") == "99")
        }
    }

    @Test("reopening keeps the data and does not migrate twice", arguments: LedgerBackend.all)
    func reopen(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let session = try await Ledger.open(path: directory.databasePath).grantSession(
            agent: "a", asset: "USDC", decimals: 6, cap: 5, ttlMilliseconds: 60_000)
        let again = try Ledger.open(path: directory.databasePath)
        #expect(try await again.session(id: session.id) == session)
        #expect(try await again.verify().records == 1)
    }

    @Test("bad session arguments throw and write nothing", arguments: LedgerBackend.all)
    func badGrant(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try Ledger.open(path: directory.databasePath)
        await #expect(throws: LedgerError.self) {
            try await ledger.grantSession(agent: "", asset: "USDC", decimals: 6, cap: 5, ttlMilliseconds: 1)
        }
        await #expect(throws: LedgerError.self) {
            try await ledger.grantSession(agent: "a", asset: "USDC", decimals: 6, cap: -1, ttlMilliseconds: 1)
        }
        await #expect(throws: LedgerError.self) {
            try await ledger.grantSession(agent: "a", asset: "USDC", decimals: 6, cap: 1, ttlMilliseconds: 0)
        }
        #expect(try await ledger.sessions().isEmpty)
        #expect(try await ledger.verify().records == 0)
    }
}
