import Ledger
import Testing

/// `Ledger.sessionTotals`: what a pay decision counts (`context.session` in policy), summed by the database.
/// It must say exactly what folding the session's reservations one by one says, on every backend.
@Suite("Session totals: what a pay decision counts, summed by the ledger")
struct SessionTotalsTests {
    let clock = ManualClock()

    func open(_ directory: any LedgerStore) throws -> Ledger {
        try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
    }

    static let eurc = "0x808456652fdb597867f38412077A9182bf77359F"

    /// USDC and EURC on one network, no limit but the sessions' caps.
    static let limits = LimitsConfiguration(
        assets: [
            "USDC": .init(symbol: "USDC", decimals: 6, contracts: [Fixtures.network: Fixtures.usdcBaseSepolia]),
            "EURC": .init(symbol: "EURC", decimals: 6, contracts: [Fixtures.network: eurc]),
        ],
        allowedNetworks: [Fixtures.network], allowedAssets: ["USDC", "EURC"],
        allowedPayees: .only([Fixtures.payee.lowercased()]))

    /// The totals a pay decision should see, folded here from every reservation of the ledger: released ones
    /// count nowhere; a committed one counts its settled amount, any other its full amount (held).
    static func folded(
        _ reservations: [Reservation], session: String, agent: String, asset: String, tool: String, since: Int64
    ) -> SessionTotals {
        var totals = SessionTotals()
        for reservation in reservations where reservation.state != .released {
            let committed = reservation.state == .committed
            let counted = committed ? (reservation.settledAmount ?? reservation.amount) : reservation.amount
            if reservation.sessionID == session {
                if committed { totals.spent += counted } else { totals.held += counted }
                if reservation.tool == tool {
                    totals.toolPayments += 1
                    totals.toolAmount += counted
                }
            }
            if reservation.agent == agent, reservation.asset == asset, reservation.createdAt > since {
                totals.windowPayments += 1
                totals.windowAmount += counted
                if reservation.tool == tool { totals.toolWindowPayments += 1 }
            }
        }
        return totals
    }

    @Test(
        "the totals equal the fold of the reservations: every state, tool, session, agent, asset and window edge",
        arguments: LedgerBackend.all)
    func equalsTheFold(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Self.limits
        let day: Int64 = 86_400_000
        let old = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 10_000_000, ttlMilliseconds: day)
        let current = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 10_000_000, ttlMilliseconds: day)
        let other = try await ledger.grantSession(
            agent: "agent-2", asset: "USDC", decimals: 6, cap: 10_000_000, ttlMilliseconds: day)
        let euro = try await ledger.grantSession(
            agent: "agent-1", asset: "EURC", decimals: 6, cap: 10_000_000, ttlMilliseconds: day)

        func hold(_ session: PaymentSession, _ tool: String, _ amount: Int64) async throws -> Reservation {
            let request = ReservationRequest(
                sessionID: session.id, agent: session.agent, tool: tool, payee: Fixtures.payee,
                network: Fixtures.network, asset: session.asset, amount: amount, purpose: "data.weather",
                argumentsDigest: String(repeating: "ab", count: 32))
            let reservation = try #require(try await ledger.reserve(request, limits: limits).reservation)
            clock.advance(1)
            return reservation
        }
        func commit(_ reservation: Reservation, _ settled: Int64) async throws {
            let outcome = try await ledger.commit(
                reservation.id, settledAmount: settled, transaction: "0x" + reservation.id, payer: "0xpayer")
            guard case .applied = outcome else { throw LedgerError(.storage, "commit: \(outcome)") }
        }
        func inDoubt(_ reservation: Reservation) async throws {
            let outcome = try await ledger.markInDoubt(reservation.id, validBefore: clock.now / 1000 + 60)
            guard case .applied = outcome else { throw LedgerError(.storage, "markInDoubt: \(outcome)") }
        }
        func release(_ reservation: Reservation) async throws {
            guard case .applied = try await ledger.release(reservation.id, reason: "not_signed") else {
                throw LedgerError(.storage, "release")
            }
        }

        // An hour and more ago, in the agent's older session: committed, in doubt, released.
        let t0 = clock.now
        try await commit(try await hold(old, "weather", 100), 90)
        try await inDoubt(try await hold(old, "news", 200))
        try await release(try await hold(old, "weather", 300))
        clock.advance(3_600_000)
        // Now, one millisecond apart: every state in the current session, and the other agent's and asset's.
        let t1 = clock.now
        try await commit(try await hold(current, "weather", 1_000), 1_000)  // t1
        try await commit(try await hold(current, "weather", 2_000), 2_500)  // t1 + 1: settled above the hold
        _ = try await hold(current, "news", 4_000)  // t1 + 2: reserved
        let contradicted = try await hold(current, "weather", 8_000)  // t1 + 3
        try await inDoubt(contradicted)
        _ = try await ledger.contradict(contradicted.id, claimedTransaction: "0xclaimed", reason: "wrong payer")
        try await release(try await hold(current, "weather", 16_000))  // t1 + 4
        try await commit(try await hold(current, "news", 32_000), 0)  // t1 + 5: settled for nothing
        try await commit(try await hold(other, "weather", 64_000), 64_000)  // t1 + 6
        _ = try await hold(other, "news", 128_000)  // t1 + 7
        _ = try await hold(euro, "weather", 256_000)  // t1 + 8
        try await inDoubt(try await hold(current, "weather", 512_000))  // t1 + 9
        let states = Set(try await ledger.reservations().map(\.state))
        #expect(states == Set(ReservationState.allCases))

        // Worked by hand for the current session, tool weather, window after t1 (created_ms > t1).
        let byHand = try await ledger.sessionTotals(
            session: current.id, agent: "agent-1", asset: "USDC", tool: "weather", since: t1)
        #expect(
            byHand
                == SessionTotals(
                    spent: 1_000 + 2_500 + 0, held: 4_000 + 8_000 + 512_000, toolPayments: 4,
                    toolAmount: 1_000 + 2_500 + 8_000 + 512_000, windowPayments: 5,
                    windowAmount: 2_500 + 4_000 + 8_000 + 0 + 512_000, toolWindowPayments: 3))

        // Every session (and none) against every tool and every window edge, on either side of each creation.
        let all = try await ledger.reservations()
        let edges: [Int64] = [t0 - 1, t0, t0 + 1, t0 + 2, t1 - 1, t1, t1 + 1, t1 + 3, t1 + 4, t1 + 8, t1 + 9, t1 + 10]
        let cases: [(session: String, agent: String, asset: String)] =
            [old, current, other, euro].map { ($0.id, $0.agent, $0.asset) } + [("ses_none", "agent-1", "USDC")]
        for (session, agent, asset) in cases {
            for tool in ["weather", "news", "other"] {
                for since in edges {
                    let totals = try await ledger.sessionTotals(
                        session: session, agent: agent, asset: asset, tool: tool, since: since)
                    let expected = Self.folded(
                        all, session: session, agent: agent, asset: asset, tool: tool, since: since)
                    #expect(totals == expected, "session \(session), \(agent), \(asset), \(tool), since \(since)")
                }
            }
        }
    }

    @Test(
        "a sum that does not fit 64 bits fails the read, in the session or only in the agent's window",
        arguments: LedgerBackend.all)
    func overflowFailsClosed(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits()
        let older = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        let mine = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000), limits: limits).reservation)
        for _ in 0..<2 {
            _ = try #require(
                try await ledger.reserve(Fixtures.request(session: older.id, amount: 1_000), limits: limits)
                    .reservation)
        }
        let since = clock.now - 3_600_000
        // Someone with database access makes the older session's holds sum past 2^63 - 1. The derived totals
        // refuse that edit of the reservations (their own sum does not fit)...
        #expect(throws: (any Error).self) {
            try directory.execute(
                "UPDATE reservations SET amount = 9223372036854775807 WHERE session_id = '\(older.id)'")
        }
        // ...so the edit goes into the totals: the current session's own sums fit, the agent's window does not.
        try directory.execute(
            """
            INSERT INTO session_totals(session_id, tool, payments, held_payments, settled, held)
            VALUES ('\(older.id)', 'edited', 1, 1, 0, 9223372036854775807);
            INSERT INTO window_totals(agent, asset, bucket_ms, tool, payments, held_payments, settled, held)
            VALUES ('agent-1', 'USDC', \(clock.now), 'edited', 1, 1, 0, 9223372036854775807);
            """)
        let fits = try await ledger.sessionTotals(
            session: session.id, agent: "agent-2", asset: "USDC", tool: "weather", since: since)
        #expect(fits.held == mine.amount)
        await #expect(throws: LedgerError.self) {
            _ = try await ledger.sessionTotals(
                session: session.id, agent: "agent-1", asset: "USDC", tool: "weather", since: since)
        }
        await #expect(throws: LedgerError.self) {
            _ = try await ledger.sessionTotals(
                session: older.id, agent: "agent-2", asset: "USDC", tool: "news", since: since)
        }
    }
}
