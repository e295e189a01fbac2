import Ledger
import Testing

@Suite(
    "PostgreSQL connections: a cut connection is a crash, then the ledger carries on",
    .enabled(if: LedgerBackend.postgresURL != nil, "PURSER_TEST_POSTGRES is not set"))
struct PostgresConnectionTests {
    let clock = ManualClock()

    /// Ends every server connection of the ledgers opened on `store`, as a server restart or a network
    /// cut would.
    func cutConnections(_ store: PostgresStore) throws {
        try PostgresStore.run(
            store.baseURL,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\(store.schema)'")
    }

    @Test("after its connection is cut, a ledger reconnects, writes again, and holds its owner lock again")
    func reconnects() async throws {
        let store = try PostgresStore()
        defer { store.remove() }
        let ledger = try Ledger.open(path: store.databasePath, clock: clock.ledgerClock)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        try cutConnections(store)
        // The connection was idle: the next transaction starts again on a new one.
        let reservation = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000), limits: Fixtures.limits())
                .reservation)
        #expect(reservation.state == .reserved)
        // Another process's recovery sees this owner alive again: its unsigned reservation is kept.
        let other = try Ledger.open(path: store.databasePath, clock: clock.ledgerClock)
        let recovery = try await other.recover()
        #expect(recovery.releasedUnsigned.isEmpty)
        #expect(try await other.reservation(id: reservation.id)?.state == .reserved)
        #expect(try await ledger.verify().isValid)
    }

    @Test("a ledger whose connection is gone for good is a dead owner: its unsigned reservations are released")
    func goneOwner() async throws {
        let store = try PostgresStore()
        defer { store.remove() }
        let ledger = try Ledger.open(path: store.databasePath, clock: clock.ledgerClock)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        let reservation = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000), limits: Fixtures.limits())
                .reservation)
        try cutConnections(store)
        let other = try Ledger.open(path: store.databasePath, clock: clock.ledgerClock)
        #expect(try await other.recover().releasedUnsigned == [reservation.id])
        // The cut owner comes back and tries to sign: refused, so it never signs a released reservation.
        let outcome = try await ledger.markInDoubt(reservation.id, validBefore: clock.now / 1000 + 60)
        guard case .notAllowed = outcome else {
            Issue.record("expected markInDoubt to be refused, got \(outcome)")
            return
        }
        #expect(try await other.sessions().first?.remaining == 1_000_000)
    }
}
