import Foundation
import Glibc
import Ledger
import Testing

/// POSIX `fcntl` locks belong to the process and the file: closing any descriptor of the database file
/// drops every lock the process's SQLite connections hold on it. Opening a ledger must never do that to
/// another ledger already open on the same file in this process.
@Suite("Ledger files: opening keeps this process's SQLite locks; owner-only modes", .serialized)
struct FileLockTests {
    /// Asks another process to take the database out of WAL mode, which SQLite allows only to a
    /// connection that gets an exclusive lock on the database file, i.e. when no other connection holds
    /// its shared lock. Returns the new journal mode, or `locked`.
    private func leaveWALFromAnotherProcess(_ path: String) throws -> String {
        let script = """
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
            try:
                print(connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
            except sqlite3.OperationalError as error:
                print("locked" if "locked" in str(error) else "error: " + str(error))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python3 is needed for this test")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("regression: opening a second ledger on the file does not drop the first one's locks")
    func secondOpenKeepsLocks() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try Ledger.open(path: directory.databasePath)
        let session = try await first.grantSession(
            agent: "a", asset: "USDC", decimals: 6, cap: 5, ttlMilliseconds: 60_000)
        // While `first` is open its connection holds a shared lock on the file: no one may leave WAL mode.
        #expect(try leaveWALFromAnotherProcess(directory.databasePath) == "locked")

        let second = try Ledger.open(path: directory.databasePath)
        #expect(try leaveWALFromAnotherProcess(directory.databasePath) == "locked")
        #expect(FileManager.default.fileExists(atPath: directory.databasePath + "-wal"))
        #expect(try await first.session(id: session.id) == session)
        #expect(try await second.verify().records == 1)
    }

    @Test("an existing ledger file open to others is tightened to 0600, and so are its WAL files")
    func existingFilesTightened() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try Ledger.open(path: directory.databasePath)
        _ = try await first.grantSession(agent: "a", asset: "USDC", decimals: 6, cap: 5, ttlMilliseconds: 60_000)
        for suffix in ["", "-wal", "-shm"] {
            #expect(chmod(directory.databasePath + suffix, 0o644) == 0)
        }
        let second = try Ledger.open(path: directory.databasePath)
        for suffix in ["", "-wal", "-shm"] {
            #expect(try FileManagerAttributes.mode(directory.databasePath + suffix) & 0o777 == 0o600, "\(suffix)")
        }
        #expect(try await second.verify().records == 1)
    }

    @Test("a new ledger file is created owner-only even under a permissive umask")
    func createdPrivate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let previous = umask(0)
        defer { umask(previous) }
        _ = try Ledger.open(path: directory.databasePath)
        #expect(try FileManagerAttributes.mode(directory.databasePath) & 0o777 == 0o600)
    }

    @Test("a ledger path that is a dangling symbolic link is refused with the path, and nothing is created")
    func danglingSymlink() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let target = directory.path + "/elsewhere.sqlite"
        #expect(symlink(target, directory.databasePath) == 0)
        #expect {
            _ = try Ledger.open(path: directory.databasePath)
        } throws: { error in
            (error as? LedgerError)?.code == .io && "\(error)".contains(directory.databasePath)
        }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("concurrent opens of a new ledger in one process all succeed on one private file")
    func concurrentOpens() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.databasePath
        let ledgers = try await withThrowingTaskGroup(of: Ledger.self) { group in
            for _ in 0..<8 { group.addTask { try Ledger.open(path: path) } }
            return try await group.reduce(into: [Ledger]()) { $0.append($1) }
        }
        #expect(ledgers.count == 8)
        #expect(try FileManagerAttributes.mode(path) & 0o777 == 0o600)
        #expect(try leaveWALFromAnotherProcess(path) == "locked")
    }
}
