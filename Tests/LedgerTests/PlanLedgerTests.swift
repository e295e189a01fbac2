import JSONCore
import Ledger
import Testing

/// Each backend with each way it keeps writers apart (SQLite has one; PostgreSQL two).
private let writerModes: [(LedgerBackend, PostgresConcurrency)] = LedgerBackend.all.flatMap { backend in
    backend == .sqlite ? [(backend, .writerLock)] : [(backend, .writerLock), (backend, .serializable)]
}

@Suite("Spend plans in the ledger: reservation of the total, plan gates, close, expiry, wasted spend")
struct PlanLedgerTests {
    let clock = ManualClock()
    let limits = Fixtures.limits(.init(approvalAbove: 50_000))

    func open(_ store: any LedgerStore) throws -> Ledger {
        try Ledger.open(path: store.databasePath, clock: clock.ledgerClock)
    }

    func grant(_ ledger: Ledger, cap: Int64 = 1_000_000, requirePlan: Bool = true) async throws -> PaymentSession {
        try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 86_400_000,
            requirePlan: requirePlan)
    }

    func remaining(_ ledger: Ledger, _ session: PaymentSession) async throws -> Int64 {
        try #require(try await ledger.sessions().first { $0.session.id == session.id }).remaining
    }

    /// weather: at most 0.10 per call, 3 calls; total 0.25.
    func approvedPlan(_ ledger: Ledger, _ session: PaymentSession, total: Int64 = 250_000) async throws -> SpendPlan {
        let proposal = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "three forecasts", maxAmount: 100_000, count: 3)], total: total,
            argumentsDigest: "sha256:plan", lifetimeMilliseconds: 3_600_000)
        guard case .proposed(let plan) = proposal else {
            Issue.record("not proposed: \(proposal)")
            throw LedgerError(.invalidArgument, "not proposed")
        }
        guard case .approved(let status) = try await ledger.approvePlan(plan.id, by: "end_user") else {
            Issue.record("not approved")
            throw LedgerError(.invalidArgument, "not approved")
        }
        return status.plan
    }

    func pay(_ ledger: Ledger, _ session: PaymentSession, _ amount: Int64, plan: String?, tool: String = "weather")
        async throws -> ReserveOutcome
    {
        var request = Fixtures.request(session: session.id, amount: amount, tool: tool)
        request.planID = plan
        return try await ledger.reserve(request, limits: limits)
    }

    @Test(
        "the session remembers --require-plan across a reopen, and the grant's audit record says so",
        arguments: LedgerBackend.all)
    func requirePlanStored(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let session = try await grant(try open(store))
        let plain = try await grant(try open(store), requirePlan: false)
        let reopened = try open(store)
        #expect(try await reopened.session(id: session.id)?.requiresPlan == true)
        #expect(try await reopened.session(id: plain.id)?.requiresPlan == false)
        let grants = try await reopened.auditRecords().filter { $0.kind == "session.grant" }
        #expect(grants.map { $0.payloadJSON?["requirePlan"] } == [.bool(true), nil])
    }

    @Test(
        "a require-plan session refuses a payment without a plan in the reservation itself (gate plan)",
        arguments: LedgerBackend.all)
    func ledgerRefusesUnplanned(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let outcome = try await pay(ledger, session, 10_000, plan: nil)
        #expect(outcome.evaluation.outcome == .refused(.plan))
        #expect(outcome.evaluation.failures.first?.detail == "plan_required")
        // A session without the flag is untouched.
        let plain = try await grant(ledger, requirePlan: false)
        #expect(try await pay(ledger, plain, 10_000, plan: nil).reservation != nil)
    }

    @Test(
        "approving reserves the total against the session at once; closing returns only the unused part",
        arguments: LedgerBackend.all)
    func approvalReservesTotal(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let proposal = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "forecasts", maxAmount: 100_000, count: 3)], total: 250_000,
            argumentsDigest: "sha256:plan", lifetimeMilliseconds: 3_600_000)
        guard case .proposed(let proposed) = proposal else { throw LedgerError(.invalidArgument, "\(proposal)") }
        // Proposed reserves nothing.
        #expect(try await remaining(ledger, session) == 1_000_000)
        guard case .approved = try await ledger.approvePlan(proposed.id, by: "end_user") else {
            throw LedgerError(.invalidArgument, "not approved")
        }
        #expect(try await remaining(ledger, session) == 750_000)
        let inPlan = try #require(try await pay(ledger, session, 100_000, plan: proposed.id).reservation)
        _ = try await ledger.commit(inPlan.id, settledAmount: 100_000, transaction: "0xaa", payer: "0xme")
        // The payment came out of the plan: the session's remaining is unchanged.
        #expect(try await remaining(ledger, session) == 750_000)
        let held = try #require(
            try await pay(ledger, session, 50_000, plan: proposed.id).reservation)
        guard
            case .closed(let status, let returned) = try await ledger.closePlan(
                proposed.id, outcome: .done, by: "agent")
        else { throw LedgerError(.invalidArgument, "not closed") }
        #expect(returned == 100_000)  // 0.25 - 0.10 settled - 0.05 held
        #expect(status.usage.settled == 100_000 && status.usage.held == 50_000)
        // What was settled and what is held stay counted; only the unused 0.10 came back.
        #expect(try await remaining(ledger, session) == 850_000)
        #expect(try await ledger.reservation(id: held.id)?.state == .reserved)
        let close = try #require(try await ledger.auditRecords().last)
        #expect(close.kind == "plan.close" && close.payloadJSON?["returned"] == 100_000)
        #expect(try await ledger.verify().isValid)
    }

    @Test(
        "a total above what the session has left is refused at proposal and again at approval",
        arguments: LedgerBackend.all)
    func totalMustFit(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger, cap: 200_000)
        let big = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "p", maxAmount: 100_000, count: 3)], total: 250_000,
            argumentsDigest: "sha256:x", lifetimeMilliseconds: 3_600_000)
        #expect(big == .refused(.exceedsSession(remaining: 200_000)))
        let fits = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "p", maxAmount: 100_000, count: 2)], total: 150_000,
            argumentsDigest: "sha256:x", lifetimeMilliseconds: 3_600_000)
        guard case .proposed(let plan) = fits else { throw LedgerError(.invalidArgument, "\(fits)") }
        // One open plan per session: a second proposal names the open one.
        let usedElsewhere = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "p", maxAmount: 1, count: 1)], total: 1,
            argumentsDigest: "sha256:y", lifetimeMilliseconds: 1000)
        if case .refused(.planOpen(let open)) = usedElsewhere {
            #expect(open.id == plan.id)
        } else {
            Issue.record("a second open plan was accepted: \(usedElsewhere)")
        }
        let outcome = try await ledger.approvePlan(plan.id, by: "end_user")
        guard case .approved = outcome else { throw LedgerError(.invalidArgument, "\(outcome)") }
        #expect(try await remaining(ledger, session) == 50_000)
    }

    @Test(
        "plan gates: another tool, a larger amount, an exhausted count or total are refused; inside runs unasked",
        arguments: LedgerBackend.all)
    func planGates(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let plan = try await approvedPlan(ledger, session)
        // 0.10 is above approvalAbove (0.05): the plan's approval stands in for it.
        let first = try await pay(ledger, session, 100_000, plan: plan.id)
        #expect(first.reservation != nil)
        #expect(first.evaluation.checks.first { $0.gate == .approval }?.detail == "plan")
        #expect(
            try await pay(ledger, session, 10_000, plan: plan.id, tool: "search").evaluation.failures.first?.detail
                == "tool_not_in_plan")
        #expect(try await pay(ledger, session, 100_001, plan: plan.id).evaluation.outcome == .refused(.planStepAmount))
        #expect(try await pay(ledger, session, 100_000, plan: plan.id).reservation != nil)  // 0.20 of 0.25
        #expect(try await pay(ledger, session, 60_000, plan: plan.id).evaluation.outcome == .refused(.planTotal))
        #expect(try await pay(ledger, session, 50_000, plan: plan.id).reservation != nil)  // third call, 0.25
        #expect(try await pay(ledger, session, 1, plan: plan.id).evaluation.outcome == .refused(.planStepCount))
    }

    @Test("a released payment gives its count and amount back to the plan", arguments: LedgerBackend.all)
    func releasedDoesNotCount(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let plan = try await approvedPlan(ledger, session, total: 100_000)
        let held = try #require(try await pay(ledger, session, 100_000, plan: plan.id).reservation)
        #expect(try await pay(ledger, session, 100_000, plan: plan.id).evaluation.outcome == .refused(.planTotal))
        _ = try await ledger.release(held.id, reason: "not_signed")
        #expect(try await pay(ledger, session, 100_000, plan: plan.id).reservation != nil)
    }

    @Test(
        "an expired plan returns its unused part and refuses further steps; the ledger then closes it",
        arguments: LedgerBackend.all)
    func expiry(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let plan = try await approvedPlan(ledger, session)
        #expect(try await remaining(ledger, session) == 750_000)
        clock.advance(3_600_000)
        #expect(try await remaining(ledger, session) == 1_000_000)
        #expect(
            try await pay(ledger, session, 10_000, plan: plan.id).evaluation.failures.first?.detail == "plan_expired")
        // A new proposal closes the expired plan (audited) instead of refusing it as open.
        let next = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "p", maxAmount: 10_000, count: 1)], total: 10_000,
            argumentsDigest: "sha256:z", lifetimeMilliseconds: 60_000)
        guard case .proposed = next else { throw LedgerError(.invalidArgument, "\(next)") }
        #expect(try await ledger.plan(id: plan.id)?.plan.outcome == .expired)
    }

    @Test(
        "a proposal approved after its deadline is closed as expired and reserves nothing", arguments: LedgerBackend.all
    )
    func lateApproval(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let proposal = try await ledger.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "p", maxAmount: 10_000, count: 1)], total: 10_000,
            argumentsDigest: "sha256:z", lifetimeMilliseconds: 60_000)
        guard case .proposed(let plan) = proposal else { throw LedgerError(.invalidArgument, "\(proposal)") }
        clock.advance(Ledger.planApprovalWindowMilliseconds)
        guard case .expired = try await ledger.approvePlan(plan.id, by: "end_user") else {
            Issue.record("a late approval was accepted")
            return
        }
        #expect(try await remaining(ledger, session) == 1_000_000)
    }

    @Test(
        "proposals are checked: no steps, duplicate tools, a total above the steps, another agent, no flag",
        arguments: LedgerBackend.all)
    func proposalChecks(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let step = SpendPlan.Step(tool: "weather", purpose: "p", maxAmount: 10_000, count: 2)
        for (steps, total) in [([SpendPlan.Step](), Int64(1)), ([step, step], 10_000), ([step], 20_001), ([step], 0)] {
            await #expect(throws: LedgerError.self) {
                _ = try await ledger.proposePlan(
                    sessionID: session.id, agent: "agent-1", steps: steps, total: total, argumentsDigest: "d",
                    lifetimeMilliseconds: 1000)
            }
        }
        #expect(
            try await ledger.proposePlan(
                sessionID: session.id, agent: "agent-2", steps: [step], total: 10_000, argumentsDigest: "d",
                lifetimeMilliseconds: 1000) == .refused(.sessionUnusable("wrong_agent")))
        let plain = try await grant(ledger, requirePlan: false)
        #expect(
            try await ledger.proposePlan(
                sessionID: plain.id, agent: "agent-1", steps: [step], total: 10_000, argumentsDigest: "d",
                lifetimeMilliseconds: 1000) == .refused(.planNotRequired))
    }

    @Test(
        "a plan closed as failed reports its settled steps as wasted, once each, with receipts",
        arguments: LedgerBackend.all)
    func failedPlanIsWasted(backend: LedgerBackend) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let ledger = try open(store)
        let session = try await grant(ledger)
        let plan = try await approvedPlan(ledger, session)
        let paid = try #require(try await pay(ledger, session, 100_000, plan: plan.id).reservation)
        _ = try await ledger.commit(paid.id, settledAmount: 100_000, transaction: "0xpaid", payer: "0xme")
        let inDoubt = try #require(try await pay(ledger, session, 50_000, plan: plan.id).reservation)
        _ = try await ledger.markInDoubt(inDoubt.id, validBefore: clock.now / 1000 + 60)
        #expect(try await ledger.wastedPayments().isEmpty)
        _ = try await ledger.closePlan(plan.id, outcome: .failed, by: "agent")
        let wasted = try await ledger.wastedPayments()
        #expect(wasted.map(\.receiptID) == ["rcp_" + paid.id])
        #expect(wasted.first?.reason == "plan_failed" && wasted.first?.plan == plan.id)
        #expect(wasted.first?.transaction == "0xpaid" && wasted.first?.amount == 100_000)
        // The in-doubt step is still held after the close (never freed by closing) and becomes wasted once settled.
        #expect(try await remaining(ledger, session) == 850_000)
        _ = try await ledger.commit(inDoubt.id, settledAmount: 50_000, transaction: "0xlate", payer: "0xme")
        #expect(try await ledger.wastedPayments().count == 2)
        // A plan closed as done wastes nothing.
        #expect(
            try await ledger.closePlan(plan.id, outcome: .done, by: "agent")
                == .alreadyClosed(
                    try #require(try await ledger.plan(id: plan.id)?.plan)))
    }

    @Test(
        "four connections racing on one plan: its total and step count hold, checked in the writer transaction",
        arguments: writerModes)
    func concurrentPlanSteps(backend: LedgerBackend, concurrency: PostgresConcurrency) async throws {
        let store = try backend.store()
        defer { store.remove() }
        let configuration = Ledger.Configuration(postgresConcurrency: concurrency)
        let ledgers = try (0..<4).map { _ in
            try Ledger.open(path: store.databasePath, clock: clock.ledgerClock, configuration: configuration)
        }
        let session = try await grant(ledgers[0])
        // weather: at most 0.01 per call, 40 calls; total 0.25, so the total stops the 26th payment.
        let proposal = try await ledgers[0].proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [.init(tool: "weather", purpose: "forecasts", maxAmount: 10_000, count: 40)], total: 250_000,
            argumentsDigest: "sha256:race", lifetimeMilliseconds: 3_600_000)
        guard case .proposed(let plan) = proposal else { throw LedgerError(.invalidArgument, "\(proposal)") }
        guard case .approved = try await ledgers[0].approvePlan(plan.id, by: "end_user") else {
            throw LedgerError(.invalidArgument, "not approved")
        }
        let limits = limits
        let reserved = try await withThrowingTaskGroup(of: Int.self) { group in
            for ledger in ledgers {
                group.addTask {
                    var count = 0
                    for _ in 0..<15 {
                        var request = Fixtures.request(session: session.id, amount: 10_000)
                        request.planID = plan.id
                        if try await ledger.reserve(request, limits: limits).reservation != nil { count += 1 }
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(reserved == 25)
        let status = try #require(try await ledgers[1].plan(id: plan.id))
        #expect(status.usage.held == 250_000 && status.usage.reservations.count == 25)
        // The plan's payments came out of its reservation: the session lost 0.25 in all, not 0.50.
        #expect(try await remaining(ledgers[2], session) == 750_000)
        #expect(try await ledgers[3].verify().isValid)
    }
}
