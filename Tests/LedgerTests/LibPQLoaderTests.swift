import CPostgres
import Testing

@testable import Ledger

@Suite("libpq is loaded at run time: a missing or wrong library is a clear error, not a crash")
struct LibPQLoaderTests {
    @Test("a library that cannot be found is named in a storage error")
    func missingLibrary() {
        #expect {
            _ = try LibPQ(library: "libpq-purser-test-missing.so.5")
        } throws: { error in
            guard let error = error as? LedgerError else { return false }
            return error.code == .storage && error.message.contains("cannot load libpq-purser-test-missing.so.5")
                && error.message.contains("PostgreSQL")
        }
    }

    @Test("a library without libpq's functions is refused, naming the library and the missing function")
    func notLibpq() {
        #expect {
            _ = try LibPQ(library: "libc.so.6")
        } throws: { error in
            guard let error = error as? LedgerError else { return false }
            return error.code == .storage && error.message.contains("libc.so.6")
                && error.message.contains("no function PQclear")
        }
    }

    @Test("the system libpq resolves every function the ledger uses")
    func systemLibrary() throws {
        let pq = try LibPQ(library: LibPQ.libraryName)
        // A call through the table reaches libpq: a NULL connection reports itself as bad.
        #expect(pq.PQstatus(nil) == CONNECTION_BAD)
        #expect(try LibPQ.loaded() === LibPQ.loaded())
    }
}
