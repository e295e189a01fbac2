import Ledger
import Testing

/// The totals the ledger keeps beside its reservations (schema 7: `session_totals`, `window_totals`,
/// `paid_destinations`, kept by triggers): every read built on them must say what folding the reservations
/// one by one says, `verify` must recompute them and fail on a mismatch, a schema-6 ledger must get them
/// from its reservations, and the gates and the session facts must count one amount.
@Suite("Derived totals: kept with the reservations, recomputed by verify, migrated from schema 6")
struct DerivedTotalsTests {
    let clock = ManualClock()

    func open(_ directory: any LedgerStore) throws -> Ledger {
        try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
    }

    static let otherPayee = "0xf5e3d5b0e1a4c7e2f1b6a3d4c5e6f7a8b9c0d1e2"

    static let limits = LimitsConfiguration(
        assets: ["USDC": .init(symbol: "USDC", decimals: 6, contracts: [Fixtures.network: Fixtures.usdcBaseSepolia])],
        limits: [
            "USDC": .init(
                perTool: ["weather": 1_000_000_000, "news": 1_000_000_000],
                velocity: .init(windowMilliseconds: 3_600_000, maxPayments: 1_000_000, maxAmount: 1_000_000_000))
        ],
        allowedNetworks: [Fixtures.network], allowedAssets: ["USDC"],
        allowedPayees: .only([Fixtures.payee.lowercased(), otherPayee]))

    /// A ledger with payments in every state, over two sessions, two tools and two payees, created 13.337 s
    /// apart so they fall in several minutes (the window's buckets) and at odd places inside them.
    struct Scenario {
        var current: PaymentSession
        var older: PaymentSession
        var created: [Int64] = []
    }

    func populate(_ ledger: Ledger) async throws -> Scenario {
        let day: Int64 = 86_400_000
        let older = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000_000, ttlMilliseconds: day)
        let current = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000_000, ttlMilliseconds: day)
        var scenario = Scenario(current: current, older: older)
        for index in 0..<24 {
            let session = index % 5 == 0 ? older : current
            let tool = index % 3 == 0 ? "news" : "weather"
            let payee = index % 4 == 0 ? Self.otherPayee : Fixtures.payee
            let amount = Int64(1_000 * (index + 1))
            let request = ReservationRequest(
                sessionID: session.id, agent: "agent-1", tool: tool, payee: payee, network: Fixtures.network,
                asset: "USDC", amount: amount, purpose: "data.weather",
                argumentsDigest: String(repeating: "ab", count: 32))
            let reservation = try #require(try await ledger.reserve(request, limits: Self.limits).reservation)
            scenario.created.append(clock.now)
            switch index % 6 {
            case 0: break  // reserved
            case 1: _ = try await ledger.markInDoubt(reservation.id, validBefore: clock.now / 1000 + 60)
            case 2:  // settled for less
                _ = try await ledger.commit(
                    reservation.id, settledAmount: amount / 3, transaction: "0x" + reservation.id, payer: "0xp")
            case 3:  // settled, then contradicted by the chain
                _ = try await ledger.commit(
                    reservation.id, settledAmount: amount, transaction: "0x" + reservation.id, payer: "0xp")
                _ = try await ledger.contradict(reservation.id, claimedTransaction: nil, reason: "chain disagrees")
            case 4: _ = try await ledger.release(reservation.id, reason: "not_signed")
            default:  // settled above the hold
                _ = try await ledger.commit(
                    reservation.id, settledAmount: amount + 7, transaction: "0x" + reservation.id, payer: "0xp")
            }
            clock.advance(13_337)
        }
        return scenario
    }

    /// What the derived reads must say, folded here from the reservations.
    static func folded(
        _ reservations: [Reservation], session: String, agent: String, tool: String, since: Int64
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
            if reservation.agent == agent, reservation.asset == "USDC", reservation.createdAt > since {
                totals.windowPayments += 1
                totals.windowAmount += counted
                if reservation.tool == tool { totals.toolWindowPayments += 1 }
            }
        }
        return totals
    }

    /// A tool's destinations folded from its committed reservations, in the order of their first payment.
    static func foldedHistory(_ reservations: [Reservation], tool: String) -> [PaidDestination] {
        var destinations: [PaidDestination] = []
        var first: [Int64] = []
        for reservation in reservations where reservation.state == .committed && reservation.tool == tool {
            if let index = destinations.firstIndex(where: {
                $0.payee.lowercased() == reservation.payee.lowercased() && $0.network == reservation.network
                    && $0.asset == reservation.asset
            }) {
                destinations[index].payments += 1
                destinations[index].highestAmount = max(destinations[index].highestAmount, reservation.amount)
                first[index] = min(first[index], reservation.createdAt)
            } else {
                destinations.append(
                    PaidDestination(
                        payee: reservation.payee, network: reservation.network, asset: reservation.asset, payments: 1,
                        highestAmount: reservation.amount))
                first.append(reservation.createdAt)
            }
        }
        return zip(first, destinations).sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Every read against the fold: both sessions, both tools, windows starting on and beside every creation
    /// and every minute boundary of the run.
    func expectReadsMatchTheFold(_ ledger: Ledger, _ scenario: Scenario) async throws {
        let all = try await ledger.reservations()
        var edges: Set<Int64> = []
        for created in scenario.created { edges.formUnion([created - 1, created, created + 1]) }
        var minute = (scenario.created[0] / 60_000 - 1) * 60_000
        while minute <= clock.now + 60_000 {
            edges.formUnion([minute - 1, minute, minute + 1])
            minute += 60_000
        }
        for session in [scenario.current, scenario.older] {
            for tool in ["weather", "news"] {
                for since in edges.sorted() {
                    let totals = try await ledger.sessionTotals(
                        session: session.id, agent: "agent-1", asset: "USDC", tool: tool, since: since)
                    let expected = Self.folded(all, session: session.id, agent: "agent-1", tool: tool, since: since)
                    #expect(totals == expected, "session \(session.id), \(tool), since \(since)")
                }
            }
        }
        for tool in ["weather", "news", "none"] {
            #expect(try await ledger.paymentHistory(tool: tool) == Self.foldedHistory(all, tool: tool), "\(tool)")
        }
    }

    @Test(
        "session totals, velocity windows and payment history equal the fold of the reservations, minute edges included",
        arguments: LedgerBackend.all)
    func readsEqualTheFold(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let scenario = try await populate(ledger)
        try await expectReadsMatchTheFold(ledger, scenario)
        #expect(try await ledger.verify().isValid)

        // A committed payment leaving `committed` takes its destination's count and highest amount with it.
        let all = try await ledger.reservations()
        let highest = try #require(
            all.filter { $0.state == .committed && $0.tool == "weather" && $0.payee == Fixtures.payee }
                .max { $0.amount < $1.amount })
        #expect(try await ledger.void(highest.id, evidence: "unused after validBefore").applied != nil)
        try await expectReadsMatchTheFold(ledger, scenario)
        #expect(try await ledger.verify().isValid)

        // Rows deleted behind the ledger's back (a committed one and a held one) leave the totals in step too.
        let remaining = try await ledger.reservations()
        let committed = try #require(remaining.first { $0.state == .committed })
        let held = try #require(remaining.first { $0.state == .inDoubt })
        try directory.execute("DELETE FROM reservations WHERE id IN ('\(committed.id)', '\(held.id)')")
        try await expectReadsMatchTheFold(ledger, scenario)
        #expect(try await ledger.verify().isValid)
    }

    @Test(
        "verify recomputes each derived table from the reservations and names the one that differs",
        arguments: LedgerBackend.all)
    func verifyRecomputes(backend: LedgerBackend) async throws {
        let edits: [(table: String, edit: String, undo: String)] = [
            (
                "session_totals", "UPDATE session_totals SET held = held + 1",
                "UPDATE session_totals SET held = held - 1"
            ),
            (
                "window_totals", "UPDATE window_totals SET payments = payments + 1",
                "UPDATE window_totals SET payments = payments - 1"
            ),
            (
                "paid_destinations", "UPDATE paid_destinations SET highest = highest + 1",
                "UPDATE paid_destinations SET highest = highest - 1"
            ),
        ]
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        _ = try await populate(ledger)
        let clean = try await ledger.verify()
        #expect(clean.isValid && clean.totalsProblems.isEmpty)
        for (table, edit, undo) in edits {
            try directory.execute(edit)
            let verification = try await ledger.verify()
            #expect(!verification.isValid, "\(table)")
            #expect(verification.problem == nil, "the audit chain itself is intact")
            #expect(verification.totalsProblems.count == 1 && verification.totalsProblems[0].hasPrefix(table + ":"))
            try directory.execute(undo)
            #expect(try await ledger.verify().isValid, "\(table) restored")
        }
        // A stored row that is missing is a mismatch too; a row that counts nothing is not.
        try directory.execute("DELETE FROM session_totals WHERE tool = 'news'")
        #expect(try await ledger.verify().totalsProblems.first?.hasPrefix("session_totals:") == true)
    }

    @Test(
        "a schema-6 ledger migrates to 7: its totals are computed from its reservations, then kept by its writes",
        arguments: LedgerBackend.all)
    func migratesFromSchema6(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        var scenario: Scenario
        do {
            let ledger = try open(directory)
            scenario = try await populate(ledger)
        }
        // Back to schema 6 exactly: the derived tables and their triggers are all that step 7 added.
        switch backend {
        case .sqlite:
            try directory.execute(
                """
                DROP TRIGGER reservations_totals_insert; DROP TRIGGER reservations_totals_update_old;
                DROP TRIGGER reservations_totals_update_new; DROP TRIGGER reservations_totals_delete;
                DROP TRIGGER reservations_paid_insert; DROP TRIGGER reservations_paid_commit;
                DROP TRIGGER reservations_paid_change_old; DROP TRIGGER reservations_paid_change_new;
                DROP TRIGGER reservations_paid_delete;
                DROP TABLE session_totals; DROP TABLE window_totals; DROP TABLE paid_destinations;
                PRAGMA user_version = 6;
                """)
        case .postgres:
            try directory.execute(
                """
                DROP TRIGGER reservations_totals ON reservations; DROP FUNCTION purser_reservation_totals();
                DROP TABLE session_totals; DROP TABLE window_totals; DROP TABLE paid_destinations;
                UPDATE purser_schema SET version = 6;
                """)
        }
        // Written while at schema 6 (an older build's payment): no trigger counts it, the migration must.
        try directory.execute(
            """
            INSERT INTO reservations(id, session_id, agent, tool, payee, network, asset, amount, state, purpose,
                args_digest, owner, created_ms, updated_ms, settled_amount, tx_hash, payer, evidence)
            VALUES ('res_written_by_6', '\(scenario.current.id)', 'agent-1', 'weather', '\(Fixtures.payee)',
                '\(Fixtures.network)', 'USDC', 900000, 'committed', 'data.weather', 'ab', 'old-build',
                \(clock.now), \(clock.now), 400000, '0xold', '0xp', 'claimed')
            """)
        scenario.created.append(clock.now)
        clock.advance(1)

        let ledger = try open(directory)
        try await expectReadsMatchTheFold(ledger, scenario)
        #expect(try await ledger.verify().isValid)
        // The migrated totals are kept by the next writes.
        let request = Fixtures.request(session: scenario.current.id, amount: 5_000)
        let reservation = try #require(try await ledger.reserve(request, limits: Self.limits).reservation)
        scenario.created.append(clock.now)
        _ = try await ledger.commit(reservation.id, settledAmount: 4_000, transaction: "0xnew", payer: "0xp")
        try await expectReadsMatchTheFold(ledger, scenario)
        #expect(try await ledger.verify().isValid)
    }

    @Test(
        "the gates and the session facts count one amount: settled for less, and a commit without a settled amount",
        arguments: LedgerBackend.all)
    func oneCountedAmount(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 10_000_000, ttlMilliseconds: 3_600_000)
        let less = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 300_000), limits: Self.limits)
                .reservation)
        _ = try await ledger.commit(less.id, settledAmount: 100_000, transaction: "0xless", payer: "0xp")
        let bare = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 50_000), limits: Self.limits)
                .reservation)
        _ = try await ledger.commit(bare.id, settledAmount: 50_000, transaction: "0xbare", payer: "0xp")
        // A committed row without a settled amount (imported or edited): it counts its full amount, never 0.
        try directory.execute("UPDATE reservations SET settled_amount = NULL WHERE id = '\(bare.id)'")
        clock.advance(1)

        let counted: Int64 = 100_000 + 50_000  // worked by hand: settled for less, and the bare commit's amount
        let facts = try await ledger.sessionTotals(
            session: session.id, agent: "agent-1", asset: "USDC", tool: "weather", since: clock.now - 3_600_000)
        #expect(facts.spent == counted && facts.held == 0)
        #expect(facts.toolAmount == counted && facts.windowAmount == counted)
        let evaluation = try await ledger.evaluateGates(
            Fixtures.request(session: session.id, amount: 1_000), limits: Self.limits)
        for gate in [Gate.sessionRemaining, .perTool, .velocityAmount] {
            let check = try #require(evaluation.checks.first { $0.gate == gate })
            #expect(check.used == counted && check.inFlight == 0, "\(gate)")
        }
        #expect(try await ledger.sessions().first?.committed == counted)
        #expect(try await ledger.verify().isValid)
    }
}
