import JSONCore
import Ledger
import Testing

@Suite("Settlement evidence: only evidence moves a signed payment's amount")
struct SettlementTests {
    let clock = ManualClock()
    let limits = Fixtures.limits()

    func open(_ directory: any LedgerStore) throws -> Ledger {
        try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
    }

    func grant(_ ledger: Ledger, cap: Int64) async throws -> PaymentSession {
        try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 86_400_000)
    }

    /// Holds `amount` in doubt the way the governed call does (reserve with holdUntil = validBefore).
    func signed(_ ledger: Ledger, _ session: PaymentSession, amount: Int64, validFor seconds: Int64 = 60)
        async throws -> Reservation?
    {
        try await ledger.reserve(
            Fixtures.request(session: session.id, amount: amount), limits: limits,
            holdUntil: clock.now / 1000 + seconds,
            authorization: SignedAuthorization(
                nonce: "0x" + String(repeating: "11", count: 32), authorizer: "0x" + String(repeating: "aa", count: 20),
                token: Fixtures.usdcBaseSepolia, paymentID: "pay_0123456789abcdef")
        ).reservation
    }

    @Test(
        "regression: a settle-then-fail seller cannot drain a session one validity window at a time",
        arguments: LedgerBackend.all)
    func drainAfterExpiry(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 30_000)
        var held = 0
        // Three rounds, each after the previous authorizations' validBefore has long passed (the old ledger
        // released them then and let each round spend the whole budget again).
        for _ in 0..<3 {
            for _ in 0..<3 where try await signed(ledger, session, amount: 10_000) != nil { held += 1 }
            clock.advance(90_000)
            _ = try await ledger.recover()
        }
        #expect(held == 3)
        let usage = try #require(try await ledger.sessions().first)
        #expect(usage.inFlight == 30_000 && usage.remaining == 0)
    }

    @Test(
        "regression: a commit that fails (a transaction id the ledger refuses) leaves the amount held",
        arguments: LedgerBackend.all)
    func commitFailureStaysHeld(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 10_000)
        let reservation = try #require(try await signed(ledger, session, amount: 10_000))
        let longTransaction = "0x" + String(repeating: "ab", count: 400)
        await #expect(throws: LedgerError.self) {
            _ = try await ledger.commit(
                reservation.id, settledAmount: 10_000, transaction: longTransaction, payer: "0xp")
        }
        clock.advance(3_600_000)
        _ = try await ledger.recover()
        #expect(try await ledger.reservation(id: reservation.id)?.state == .inDoubt)
        #expect(try await signed(ledger, session, amount: 1) == nil)
    }

    @Test(
        "a contradicted claim stays held, cannot be committed on a claim, and is settled only by evidence",
        arguments: LedgerBackend.all)
    func contradicted(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 20_000)
        let reservation = try #require(try await signed(ledger, session, amount: 10_000))
        let contradicted = try #require(
            try await ledger.contradict(reservation.id, claimedTransaction: "0x", reason: "payer is not the signer")
                .applied)
        #expect(contradicted.state == .contradicted && contradicted.note == "payer is not the signer")
        #expect(try await ledger.sessions().first?.inFlight == 10_000)
        guard
            case .notAllowed = try await ledger.commit(
                reservation.id, settledAmount: 10_000, transaction: "0x1", payer: "0xp")
        else {
            Issue.record("a contradicted claim was committed on another claim")
            return
        }
        guard case .notAllowed = try await ledger.release(reservation.id, reason: "not_delivered") else {
            Issue.record("a contradicted payment was released without evidence")
            return
        }
        let report = try await ledger.report()
        #expect(report.contradicted.map { [$0.asset, "\($0.amount)"] } == [["USDC", "10000"]])
        let verified = try #require(
            try await ledger.commit(
                reservation.id, settledAmount: 10_000, transaction: "0x" + String(repeating: "cd", count: 32),
                payer: "0xp", evidence: .verified
            ).applied)
        #expect(verified.state == .committed && verified.evidence == .verified)
        #expect(try await ledger.report().contradicted.isEmpty)
    }

    @Test(
        "a claimed settlement counts as spent, shows as claimed-unverified, and is upgraded or contradicted",
        arguments: LedgerBackend.all)
    func claimedThenVerified(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 20_000)
        let a = try #require(try await signed(ledger, session, amount: 10_000))
        let b = try #require(try await signed(ledger, session, amount: 5_000))
        _ = try await ledger.commit(a.id, settledAmount: 10_000, transaction: "0xa", payer: "0xp")
        _ = try await ledger.commit(b.id, settledAmount: 5_000, transaction: "0xb", payer: "0xp")
        var report = try await ledger.report()
        #expect(report.claimedUnverified.map { "\($0.amount)/\($0.reservations)" } == ["15000/2"])
        #expect(report.byAgent.first?.amount == 15_000)
        #expect(
            try await ledger.commit(a.id, settledAmount: 10_000, transaction: "0xa", payer: "0xp", evidence: .verified)
                .applied?.evidence == .verified)
        // The chain disagrees with b's claim: held again at its full amount, out of the spend.
        #expect(
            try await ledger.contradict(b.id, claimedTransaction: nil, reason: "no such transaction").applied?.state
                == .contradicted)
        report = try await ledger.report()
        #expect(report.claimedUnverified.isEmpty)
        #expect(report.byAgent.first?.amount == 10_000)
        #expect(try await ledger.sessions().first?.remaining == 5_000)
        #expect(try await ledger.unsettled().map(\.id) == [b.id])
    }

    @Test(
        "void needs a signed payment and never undoes a verified settlement; it restores the budget",
        arguments: LedgerBackend.all)
    func void(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 10_000)
        let unsigned = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000), limits: limits).reservation)
        guard case .notAllowed = try await ledger.void(unsigned.id, evidence: "x") else {
            Issue.record("an unsigned reservation was voided")
            return
        }
        _ = try await ledger.release(unsigned.id, reason: "not_signed")
        let reservation = try #require(try await signed(ledger, session, amount: 10_000))
        #expect(
            try await ledger.void(reservation.id, evidence: "unused after validBefore").applied?.releaseReason
                == "unused_on_chain")
        #expect(try await ledger.sessions().first?.remaining == 10_000)
        let settled = try #require(try await signed(ledger, session, amount: 10_000))
        _ = try await ledger.commit(
            settled.id, settledAmount: 10_000, transaction: "0xs", payer: "0xp", evidence: .verified)
        guard case .notAllowed = try await ledger.void(settled.id, evidence: "x") else {
            Issue.record("a verified settlement was voided")
            return
        }
        #expect(try await ledger.verify().isValid)
    }

    @Test("the end user resolves a held payment as settled or void, with a note, audited", arguments: LedgerBackend.all)
    func resolve(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 20_000)
        let a = try #require(try await signed(ledger, session, amount: 10_000))
        let b = try #require(try await signed(ledger, session, amount: 10_000))
        let settled = try #require(
            try await ledger.resolve(a.id, .settled(transaction: "0xuser"), note: "seen on basescan").applied)
        #expect(settled.evidence == .user && settled.settledAmount == 10_000 && settled.note == "seen on basescan")
        #expect(try await ledger.resolve(b.id, .void, note: "seller refunded").applied?.releaseReason == "user_void")
        await #expect(throws: LedgerError.self) { _ = try await ledger.resolve(a.id, .void, note: "") }
        guard case .notAllowed = try await ledger.resolve(a.id, .void, note: "changed my mind") else {
            Issue.record("a user-settled payment was voided")
            return
        }
        let resolutions = try await ledger.auditRecords().filter { $0.kind == "resolve" }.compactMap {
            $0.payloadJSON?["note"]?.stringValue
        }
        #expect(resolutions == ["seen on basescan", "seller refunded"])
        #expect(try await ledger.sessions().first?.committed == 10_000)
    }

    @Test("what was signed is stored with the hold, for reconciliation", arguments: LedgerBackend.all)
    func authorizationStored(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 20_000)
        let reservation = try #require(try await signed(ledger, session, amount: 10_000))
        let stored = try #require(try await ledger.reservation(id: reservation.id))
        #expect(stored.authorization?.nonce == "0x" + String(repeating: "11", count: 32))
        #expect(stored.authorization?.paymentID == "pay_0123456789abcdef")
        #expect(stored.authorization?.token == Fixtures.usdcBaseSepolia)
    }

    @Test("an old timer release (in_doubt_expired) is held again at recovery, audited", arguments: LedgerBackend.all)
    func timerReleaseUndone(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 10_000)
        let reservation = try #require(try await signed(ledger, session, amount: 10_000))
        // What an earlier build wrote when validBefore passed.
        try directory.execute(
            "UPDATE reservations SET state = 'released', release_reason = 'in_doubt_expired' WHERE id = '\(reservation.id)'"
        )
        #expect(try await ledger.sessions().first?.remaining == 10_000)
        _ = try await ledger.recover()
        #expect(try await ledger.reservation(id: reservation.id)?.state == .inDoubt)
        #expect(try await ledger.sessions().first?.remaining == 0)
        #expect(try await ledger.auditRecords().last?.payloadJSON?["reason"]?.stringValue == "timer_release_undone")
    }
}
