import Ledger
import Testing

@Suite("Budget gates: each limit, its arithmetic and its explanation")
struct GatesTests {
    let clock = ManualClock()

    func open(_ directory: any LedgerStore) throws -> Ledger {
        try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
    }

    func check(_ evaluation: GateEvaluation, _ gate: Gate) throws -> GateCheck {
        try #require(evaluation.checks.first { $0.gate == gate })
    }

    @Test(
        "session remaining counts committed and in-flight amounts and reports the shortfall",
        arguments: LedgerBackend.all)
    func sessionRemaining(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits()
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        let first = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 450_000), limits: limits).reservation
        )
        // Settles for less than was held: only the settled 0.40 counts from now on.
        _ = try await ledger.commit(first.id, settledAmount: 400_000, transaction: "0xt1", payer: "0xpayer")
        _ = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 300_000), limits: limits).reservation
        )

        let outcome = try await ledger.reserve(Fixtures.request(session: session.id, amount: 500_000), limits: limits)
        guard case .refused(let evaluation) = outcome else {
            Issue.record("expected a refusal, got \(outcome)")
            return
        }
        #expect(evaluation.outcome == .refused(.sessionRemaining))
        let remaining = try check(evaluation, .sessionRemaining)
        #expect(remaining.limit == 1_000_000)
        #expect(remaining.used == 700_000)
        #expect(remaining.inFlight == 300_000)
        #expect(remaining.requested == 500_000)
        #expect(remaining.shortfall == 200_000)
        #expect(!remaining.passed)
        #expect(
            evaluation.explanation()
                == "session budget: 0.50 USDC requested, 0.70 USDC used (0.30 USDC in flight), limit 1.00 USDC, short by 0.20 USDC"
        )

        // Exactly the remaining 0.30 fits.
        let exact = try await ledger.reserve(Fixtures.request(session: session.id, amount: 300_000), limits: limits)
        #expect(exact.reservation != nil)
        let full = try await ledger.reserve(Fixtures.request(session: session.id, amount: 1), limits: limits)
        #expect(full.evaluation.outcome == .refused(.sessionRemaining))
        #expect(try check(full.evaluation, .sessionRemaining).shortfall == 1)
    }

    @Test("the session's per-call cap and the configured per-call cap are separate gates", arguments: LedgerBackend.all)
    func perCall(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits(.init(perCall: 200_000))
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 5_000_000, ttlMilliseconds: 3_600_000,
            perCallCap: 100_000)
        let over = try await ledger.reserve(Fixtures.request(session: session.id, amount: 110_000), limits: limits)
        #expect(over.evaluation.outcome == .refused(.sessionPerCall))
        #expect(try check(over.evaluation, .sessionPerCall).shortfall == 10_000)
        #expect(try check(over.evaluation, .perCall).passed)

        let both = try await ledger.reserve(Fixtures.request(session: session.id, amount: 250_000), limits: limits)
        // Every failing gate is reported, the first one decides the reason.
        #expect(both.evaluation.failures.map { $0.gate } == [.sessionPerCall, .perCall])
        #expect(try check(both.evaluation, .perCall).shortfall == 50_000)
        #expect(both.evaluation.reason == "session_per_call")
        #expect(
            both.evaluation.explanation().contains(
                "per-call cap: 0.25 USDC requested, limit 0.20 USDC, short by 0.05 USDC"))
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits).reservation
                != nil)
    }

    @Test("the per-tool cap counts only that tool within the session, in-flight included", arguments: LedgerBackend.all)
    func perTool(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits(.init(perTool: ["weather": 500_000]))
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 5_000_000, ttlMilliseconds: 3_600_000)
        _ = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 300_000), limits: limits).reservation
        )
        let second = try await ledger.reserve(Fixtures.request(session: session.id, amount: 300_000), limits: limits)
        #expect(second.evaluation.outcome == .refused(.perTool))
        let perTool = try check(second.evaluation, .perTool)
        #expect(perTool.used == 300_000 && perTool.inFlight == 300_000 && perTool.limit == 500_000)
        #expect(perTool.shortfall == 100_000)
        let other = try await ledger.reserve(
            Fixtures.request(session: session.id, amount: 300_000, tool: "maps"), limits: limits)
        #expect(other.reservation != nil)
        #expect(!other.evaluation.checks.contains { $0.gate == .perTool })
    }

    @Test(
        "velocity counts payments and amount in a rolling window; released ones do not count",
        arguments: LedgerBackend.all)
    func velocity(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits(
            .init(velocity: .init(windowMilliseconds: 3_600_000, maxPayments: 2, maxAmount: 500_000)))
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 50_000_000, ttlMilliseconds: 86_400_000)
        let a = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits).reservation
        )
        _ = try await ledger.commit(a.id, settledAmount: 100_000, transaction: "0xa", payer: "0xp")
        clock.advance(1_000)
        let b = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits).reservation
        )
        clock.advance(1_000)
        let third = try await ledger.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits)
        #expect(third.evaluation.outcome == .refused(.velocityCount))
        let count = try check(third.evaluation, .velocityCount)
        #expect(
            count.used == 2 && count.inFlight == 1 && count.limit == 2 && count.requested == 1 && count.shortfall == 1)

        // Releasing frees the slot; the amount gate then decides.
        _ = try await ledger.release(b.id, reason: "not_signed")
        let big = try await ledger.reserve(Fixtures.request(session: session.id, amount: 450_000), limits: limits)
        #expect(big.evaluation.outcome == .refused(.velocityAmount))
        #expect(try check(big.evaluation, .velocityAmount).shortfall == 50_000)
        #expect(try check(big.evaluation, .velocityCount).passed)

        // The first payment leaves the window one hour after it was made.
        clock.advance(3_600_000 - 2_000)
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 450_000), limits: limits).reservation
                != nil)
    }

    @Test(
        "above the approval threshold is 'approval required', not a refusal; an approval lets it through",
        arguments: LedgerBackend.all)
    func approval(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits(.init(perCall: 1_000_000, approvalAbove: 250_000))
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 5_000_000, ttlMilliseconds: 3_600_000)
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 250_000), limits: limits).reservation
                != nil)
        let needs = try await ledger.reserve(Fixtures.request(session: session.id, amount: 300_000), limits: limits)
        guard case .approvalRequired(let evaluation) = needs else {
            Issue.record("expected approval required, got \(needs)")
            return
        }
        #expect(evaluation.explanation() == "approval threshold: 0.30 USDC is above 0.25 USDC")
        let approved = try await ledger.reserve(
            Fixtures.request(session: session.id, amount: 300_000, approval: "apv_1"), limits: limits)
        #expect(approved.reservation?.amount == 300_000)
        // A refusal wins over an approval requirement.
        let refused = try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_500_000), limits: limits)
        #expect(refused.evaluation.outcome == .refused(.perCall))
    }

    @Test("network, asset and payee outside the allow lists are refused", arguments: LedgerBackend.all)
    func allowLists(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits()
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 5_000_000, ttlMilliseconds: 3_600_000)
        let payee = try await ledger.reserve(
            Fixtures.request(session: session.id, amount: 1, payee: "0x0000000000000000000000000000000000000001"),
            limits: limits)
        #expect(payee.evaluation.outcome == .refused(.allowList))
        #expect(try check(payee.evaluation, .allowList).detail == "payee_not_allowed")
        let network = try await ledger.reserve(
            Fixtures.request(session: session.id, amount: 1, network: "eip155:8453"), limits: limits)
        #expect(try check(network.evaluation, .allowList).detail == "network_not_allowed")
        // Payee comparison ignores the checksum case.
        let lower = try await ledger.reserve(
            Fixtures.request(session: session.id, amount: 1, payee: Fixtures.payee.lowercased()), limits: limits)
        #expect(lower.reservation != nil)
    }

    @Test(
        "a revocation by another process and expiry take effect at the next reservation", arguments: LedgerBackend.all)
    func revocationAndExpiry(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let other = try open(directory)
        let limits = Fixtures.limits()
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 5_000_000, ttlMilliseconds: 3_600_000)
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1), limits: limits).reservation
                != nil)
        #expect(
            try await other.revokeSession(session.id)
                == .revoked(
                    {
                        var revoked = session
                        revoked.status = .revoked
                        revoked.revokedAt = clock.now
                        return revoked
                    }()))
        let refused = try await ledger.reserve(Fixtures.request(session: session.id, amount: 1), limits: limits)
        #expect(try check(refused.evaluation, .session).detail == "revoked")
        #expect(try await ledger.activeSession(agent: "agent-1", asset: "USDC") == nil)

        let fresh = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 5_000_000, ttlMilliseconds: 60_000)
        #expect(try await ledger.activeSession(agent: "agent-1", asset: "USDC")?.id == fresh.id)
        clock.advance(60_000)
        let expired = try await ledger.reserve(Fixtures.request(session: fresh.id, amount: 1), limits: limits)
        #expect(try check(expired.evaluation, .session).detail == "expired")
        let otherDecimals = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 18, cap: 5_000_000, ttlMilliseconds: 60_000)
        let mismatch = try await ledger.reserve(Fixtures.request(session: otherDecimals.id, amount: 1), limits: limits)
        #expect(try check(mismatch.evaluation, .session).detail == "asset_decimals_changed")
        let wrongAgent = try await ledger.reserve(
            Fixtures.request(session: fresh.id, amount: 1, agent: "agent-2"), limits: limits)
        #expect(try check(wrongAgent.evaluation, .session).detail == "wrong_agent")
    }

    @Test("evaluateGates holds nothing and records nothing", arguments: LedgerBackend.all)
    func previewOnly(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000, ttlMilliseconds: 3_600_000)
        let before = try await ledger.auditRecords().count
        let evaluation = try await ledger.evaluateGates(
            Fixtures.request(session: session.id, amount: 1_000), limits: Fixtures.limits())
        #expect(evaluation.outcome == .allowed)
        #expect(try await ledger.auditRecords().count == before)
        #expect(try await ledger.reservations().isEmpty)
    }

    @Test("malformed requests throw before anything is written", arguments: LedgerBackend.all)
    func malformed(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000, ttlMilliseconds: 3_600_000)
        var request = Fixtures.request(session: session.id, amount: 1)
        request.tool = "bad\ntool"
        await #expect(throws: LedgerError.self) { try await ledger.reserve(request, limits: Fixtures.limits()) }
        let negative = try await ledger.reserve(
            Fixtures.request(session: session.id, amount: -5), limits: Fixtures.limits())
        #expect(try check(negative.evaluation, .allowList).detail == "amount_not_positive")
        #expect(try await ledger.reservations().isEmpty)
    }

    @Test(
        "a sum of what was spent that does not fit 64 bits fails the read; it never counts as nothing spent",
        arguments: LedgerBackend.all)
    func overflowingSumFailsClosed(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let limits = Fixtures.limits()
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        for _ in 0..<2 {
            _ = try #require(
                try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000), limits: limits)
                    .reservation)
        }
        // Someone with database access makes the held amounts sum past 2^63 - 1: the derived totals refuse
        // the edit (their sum does not fit), so the reservations stay as they were.
        #expect(throws: (any Error).self) {
            try directory.execute("UPDATE reservations SET amount = 9223372036854775807")
        }
        #expect(try await ledger.reservations().allSatisfy { $0.amount == 1_000 })
        // Edited in the totals themselves: another tool's row holding 2^63 - 1 makes the session's sum overflow.
        try directory.execute(
            """
            INSERT INTO session_totals(session_id, tool, payments, held_payments, settled, held)
            VALUES ('\(session.id)', 'edited', 1, 1, 0, 9223372036854775807)
            """)
        // SQLite raises "integer overflow"; PostgreSQL's numeric sum must not read as 0 (everything left).
        await #expect(throws: LedgerError.self) { _ = try await ledger.sessions() }
        await #expect(throws: LedgerError.self) {
            _ = try await ledger.reserve(Fixtures.request(session: session.id, amount: 1), limits: limits)
        }
    }
}
