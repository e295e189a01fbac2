import JSONCore
import Ledger
import Testing

@Suite("Reservations: reserve, commit, release, in doubt, recover")
struct ReservationTests {
    let clock = ManualClock()
    let limits = Fixtures.limits()

    func open(_ directory: any LedgerStore) throws -> Ledger {
        try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
    }

    func grant(_ ledger: Ledger, cap: Int64 = 1_000_000) async throws -> PaymentSession {
        try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 86_400_000)
    }

    func remaining(_ ledger: Ledger, _ session: PaymentSession) async throws -> Int64 {
        try #require(try await ledger.sessions().first { $0.session.id == session.id }).remaining
    }

    @Test(
        "a reservation held in doubt from the start stays held past holdUntil: time is not evidence",
        arguments: LedgerBackend.all)
    func reserveInDoubt(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger, cap: 300_000)
        let holdUntil = clock.now / 1000 + 600
        let held = try #require(
            try await ledger.reserve(
                Fixtures.request(session: session.id, amount: 200_000), limits: limits, holdUntil: holdUntil
            ).reservation)
        #expect(held.state == .inDoubt && held.validBefore == holdUntil)
        // Recovery does not free it: it may have been signed.
        _ = try await ledger.recover()
        #expect(try await ledger.reservation(id: held.id)?.state == .inDoubt)
        #expect(try await remaining(ledger, session) == 100_000)
        // Long past holdUntil, the budget is still held: only evidence (commit, void, resolve) frees it.
        clock.advance(10 * 600_000)
        _ = try await ledger.recover()
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 250_000), limits: limits).reservation
                == nil)
        #expect(try await ledger.reservation(id: held.id)?.state == .inDoubt)
    }

    @Test(
        "commit records the settlement once; repeats are recognised; conflicting ones refused",
        arguments: LedgerBackend.all)
    func commit(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger)
        let reservation = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 200_000), limits: limits).reservation
        )
        #expect(reservation.state == .reserved)
        #expect(try await remaining(ledger, session) == 800_000)
        let committed = try #require(
            try await ledger.commit(reservation.id, settledAmount: 200_000, transaction: "0xabc", payer: "0xpayer")
                .applied)
        #expect(committed.state == .committed && committed.settledAmount == 200_000 && committed.transaction == "0xabc")
        #expect(try await ledger.reservation(id: reservation.id) == committed)
        #expect(
            try await ledger.commit(reservation.id, settledAmount: 200_000, transaction: "0xabc", payer: "0xpayer")
                == .alreadyApplied(committed))
        guard
            case .notAllowed = try await ledger.commit(
                reservation.id, settledAmount: 1, transaction: "0xdef", payer: "0xpayer")
        else {
            Issue.record("a second, different settlement was accepted")
            return
        }
        guard case .notAllowed = try await ledger.release(reservation.id, reason: "failed") else {
            Issue.record("a committed payment was released")
            return
        }
        #expect(
            try await ledger.commit("res_missing", settledAmount: 1, transaction: "0x1", payer: "0x2")
                == .unknownReservation)
        #expect(try await remaining(ledger, session) == 800_000)
    }

    @Test("release frees the amount and a released reservation cannot be committed", arguments: LedgerBackend.all)
    func release(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger)
        let reservation = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000_000), limits: limits)
                .reservation)
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1), limits: limits).reservation
                == nil)
        let released = try #require(try await ledger.release(reservation.id, reason: "not_signed").applied)
        #expect(released.state == .released && released.releaseReason == "not_signed")
        #expect(try await ledger.release(reservation.id, reason: "not_signed") == .alreadyApplied(released))
        guard
            case .notAllowed = try await ledger.commit(
                reservation.id, settledAmount: 1, transaction: "0x1", payer: "0x2")
        else {
            Issue.record("a released reservation was committed")
            return
        }
        #expect(try await remaining(ledger, session) == 1_000_000)
    }

    @Test(
        "in doubt holds the amount past validBefore; a late settlement commits; chain proof frees it",
        arguments: LedgerBackend.all)
    func inDoubt(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger)
        let reservation = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 600_000), limits: limits).reservation
        )
        let validBefore = clock.now / 1000 + 120
        let marked = try #require(try await ledger.markInDoubt(reservation.id, validBefore: validBefore).applied)
        #expect(marked.state == .inDoubt && marked.validBefore == validBefore)
        #expect(try await ledger.markInDoubt(reservation.id, validBefore: validBefore) == .alreadyApplied(marked))
        guard case .notAllowed = try await ledger.markInDoubt(reservation.id, validBefore: validBefore + 1) else {
            Issue.record("a second authorization was accepted for one reservation")
            return
        }

        // Still held long after validBefore.
        clock.advance(3_600_000)
        let blocked = try await ledger.reserve(Fixtures.request(session: session.id, amount: 500_000), limits: limits)
        #expect(blocked.evaluation.outcome == .refused(.sessionRemaining))
        let check = try #require(blocked.evaluation.checks.first { $0.gate == .sessionRemaining })
        #expect(check.used == 600_000 && check.inFlight == 600_000)

        // Chain proof that it was never used frees it; a late verified settlement still records the truth.
        #expect(try await ledger.void(reservation.id, evidence: "authorizationState false").applied?.state == .released)
        #expect(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 500_000), limits: limits).reservation
                != nil)
        guard
            case .notAllowed = try await ledger.commit(
                reservation.id, settledAmount: 600_000, transaction: "0xlate", payer: "0xp")
        else {
            Issue.record("a seller's claim re-opened a voided payment")
            return
        }
        let late = try #require(
            try await ledger.commit(
                reservation.id, settledAmount: 600_000, transaction: "0xlate", payer: "0xp", evidence: .verified
            ).applied)
        #expect(late.state == .committed && late.evidence == .verified)
        #expect(try await ledger.sessions().first?.committed == 600_000)
    }

    @Test("in doubt can be committed or released explicitly", arguments: LedgerBackend.all)
    func inDoubtResolution(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        let session = try await grant(ledger)
        let a = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits).reservation
        )
        let b = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits).reservation
        )
        _ = try await ledger.markInDoubt(a.id, validBefore: clock.now / 1000 + 60)
        _ = try await ledger.markInDoubt(b.id, validBefore: clock.now / 1000 + 60)
        #expect(
            try await ledger.commit(a.id, settledAmount: 100_000, transaction: "0xa", payer: "0xp").applied?.state
                == .committed)
        // A failure the seller reports is not evidence; "never delivered" is.
        guard case .notAllowed = try await ledger.release(b.id, reason: "settlement_failed") else {
            Issue.record("an in-doubt payment was released on the seller's word")
            return
        }
        #expect(try await ledger.release(b.id, reason: "not_delivered").applied?.state == .released)
        #expect(try await remaining(ledger, session) == 900_000)
        await #expect(throws: LedgerError.self) { try await ledger.markInDoubt(a.id, validBefore: 0) }
    }

    @Test(
        "recover releases a dead process's unsigned reservations, keeps its in-doubt ones and a live process's",
        arguments: LedgerBackend.all)
    func recover(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        var crashed: Ledger? = try open(directory)
        let survivor = try open(directory)
        let session = try await grant(survivor)
        let unsigned = try #require(
            try await crashed!.reserve(Fixtures.request(session: session.id, amount: 100_000), limits: limits)
                .reservation)
        let signed = try #require(
            try await crashed!.reserve(Fixtures.request(session: session.id, amount: 200_000), limits: limits)
                .reservation)
        _ = try await crashed!.markInDoubt(signed.id, validBefore: clock.now / 1000 + 300)
        let live = try #require(
            try await survivor.reserve(Fixtures.request(session: session.id, amount: 50_000), limits: limits)
                .reservation)
        crashed = nil  // closing drops the owner lock, as the kernel does when a process dies

        let recovery = try await survivor.recover()
        #expect(recovery.releasedUnsigned == [unsigned.id])
        #expect(try await survivor.reservation(id: unsigned.id)?.releaseReason == "not_signed_owner_gone")
        #expect(try await survivor.reservation(id: signed.id)?.state == .inDoubt)
        #expect(try await survivor.reservation(id: live.id)?.state == .reserved)

        // A third process starting up must not release the survivor's in-flight reservation.
        let starter = try open(directory)
        let second = try await starter.recover()
        #expect(second.releasedUnsigned.isEmpty)
        #expect(second.heldByLiveOwners == 1)
        #expect(try await survivor.reservation(id: live.id)?.state == .reserved)

        clock.advance(10 * 300_000)
        _ = try await starter.recover()
        #expect(try await starter.reservation(id: signed.id)?.state == .inDoubt)

        let releases = try await starter.auditRecords().filter { $0.kind == "release" }.compactMap {
            $0.payloadJSON?["reason"]?.stringValue
        }
        #expect(releases == ["not_signed_owner_gone"])
        #expect(try await starter.verify().isValid)
    }

    @Test("the SQLite database file is private to its owner")
    func fileMode() async throws {
        let directory = try LedgerBackend.sqlite.store()
        defer { directory.remove() }
        _ = try open(directory)
        let attributes = try FileManagerAttributes.mode(directory.databasePath)
        #expect(attributes & 0o777 == 0o600)
    }
}
