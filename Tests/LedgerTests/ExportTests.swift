import Foundation
import JSONCore
import Ledger
import Testing

/// Every pair of backends, the same one included: SQLite → SQLite always; with PostgreSQL, all four.
private let backendPairs: [(LedgerBackend, LedgerBackend)] = LedgerBackend.all.flatMap { from in
    LedgerBackend.all.map { (from, $0) }
}

@Suite("Export and import: a ledger moves between backends with its audit chain")
struct ExportTests {
    let clock = ManualClock()

    /// A ledger with every table populated and every reservation state.
    func populated(_ directory: any LedgerStore) async throws -> Ledger {
        let ledger = try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
        let limits = Fixtures.limits()
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000,
            perCallCap: 600_000)
        func reserve(_ amount: Int64) async throws -> Reservation {
            clock.advance(7)
            return try #require(
                try await ledger.reserve(Fixtures.request(session: session.id, amount: amount), limits: limits)
                    .reservation)
        }
        _ = try await ledger.commit(try await reserve(1_000).id, settledAmount: 900, transaction: "0xt1", payer: "0xp")
        _ = try await ledger.release(try await reserve(2_000).id, reason: "not_signed")
        _ = try await ledger.markInDoubt(try await reserve(3_000).id, validBefore: clock.now / 1000 + 60)
        _ = try await reserve(4_000)
        let binding = ApprovalBinding(
            agent: "agent-1", tool: "weather", argumentsDigest: "d", amount: 5, asset: "USDC", payee: "0xp")
        _ = try await ledger.createApproval(binding, ttlMilliseconds: 60_000)
        _ = try await ledger.beginIdempotent(agent: "agent-1", key: "k1", tool: "weather", argumentsDigest: "d")
        _ = try await ledger.completeIdempotent(agent: "agent-1", key: "k1", result: #"{"ok":"ünïcode ✓"}"#)
        _ = try await ledger.appendAudit(kind: "call", payload: ["latency_us": 1234, "note": "quote \" and \\"])
        return ledger
    }

    func lines(_ ledger: Ledger) async throws -> [String] {
        var lines: [String] = []
        try await ledger.export { line throws(LedgerError) in lines.append(line) }
        return lines
    }

    @Test("export, import elsewhere, export again: the same lines, the same chain head", arguments: backendPairs)
    func roundTrip(from: LedgerBackend, to: LedgerBackend) async throws {
        let source = try from.store()
        defer { source.remove() }
        let target = try to.store()
        defer { target.remove() }
        let original = try await populated(source)
        let exported = try await lines(original)
        // One header, then rows of every table.
        #expect(exported.count > 10)
        for table in ["sessions", "approvals", "reservations", "idempotency", "audit", "meta"] {
            #expect(exported.contains { $0.contains(#""table":"\#(table)""#) }, "no \(table) rows")
        }
        let imported = try Ledger.open(path: target.databasePath, clock: clock.ledgerClock)
        let verification = try await imported.importExport(exported)
        let sourceVerification = try await original.verify()
        #expect(verification.isValid)
        #expect(verification.records == sourceVerification.records)
        #expect(verification.headHash == sourceVerification.headHash)
        #expect(try await lines(imported) == exported)
        // The imported ledger works as a ledger: its state is the source's, and it takes new records.
        #expect(try await imported.sessions() == original.sessions())
        #expect(try await imported.reservations() == original.reservations())
        _ = try await imported.appendAudit(kind: "after.import", payload: [:])
        #expect(try await imported.verify().isValid)
    }

    @Test(
        "a require-plan session with an approved plan round-trips: plans, steps and their payments, still enforced",
        arguments: backendPairs)
    func planRoundTrip(from: LedgerBackend, to: LedgerBackend) async throws {
        let source = try from.store()
        defer { source.remove() }
        let target = try to.store()
        defer { target.remove() }
        let original = try Ledger.open(path: source.databasePath, clock: clock.ledgerClock)
        let limits = Fixtures.limits()
        let session = try await original.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000,
            requirePlan: true)
        let proposal = try await original.proposePlan(
            sessionID: session.id, agent: "agent-1",
            steps: [
                .init(tool: "weather", purpose: "forecasts", maxAmount: 100_000, count: 2),
                .init(tool: "maps", purpose: "a map", maxAmount: 50_000, count: 1),
            ], total: 200_000, argumentsDigest: "sha256:plan", lifetimeMilliseconds: 600_000)
        guard case .proposed(let plan) = proposal else { throw LedgerError(.invalidArgument, "\(proposal)") }
        guard case .approved = try await original.approvePlan(plan.id, by: "end_user") else {
            throw LedgerError(.invalidArgument, "not approved")
        }
        func pay(_ ledger: Ledger, _ amount: Int64, plan: String?) async throws -> ReserveOutcome {
            clock.advance(7)
            var request = Fixtures.request(session: session.id, amount: amount)
            request.planID = plan
            return try await ledger.reserve(request, limits: limits)
        }
        let settled = try #require(try await pay(original, 100_000, plan: plan.id).reservation)
        _ = try await original.commit(settled.id, settledAmount: 100_000, transaction: "0xt1", payer: "0xp")
        let exported = try await lines(original)
        for table in ["plans", "plan_steps", "plan_payments"] {
            #expect(exported.contains { $0.contains(#""table":"\#(table)""#) }, "no \(table) rows")
        }

        let imported = try Ledger.open(path: target.databasePath, clock: clock.ledgerClock)
        let verification = try await imported.importExport(exported)
        #expect(verification.isValid)
        #expect(verification.headHash == (try await original.verify().headHash))
        #expect(try await lines(imported) == exported)
        #expect(try await imported.session(id: session.id)?.requiresPlan == true)
        #expect(try await imported.plan(id: plan.id) == original.plan(id: plan.id))
        // The plan still holds its unused 0.10 of the 1.00 cap beside the settled 0.10.
        #expect(try await imported.sessions() == original.sessions())
        #expect(try await imported.sessions().first?.remaining == 800_000)
        // Still a plan session: a payment without the plan is refused; the plan's step count carried over.
        #expect(try await pay(imported, 10_000, plan: nil).evaluation.failures.first?.detail == "plan_required")
        #expect(try await pay(imported, 100_000, plan: plan.id).reservation != nil)
        #expect(try await pay(imported, 1, plan: plan.id).evaluation.outcome == .refused(.planStepCount))
        #expect(try await imported.verify().isValid)
    }

    @Test(
        "importing refuses a non-empty ledger, a bad line (by number) and a broken chain, and writes nothing",
        arguments: LedgerBackend.all)
    func refusals(backend: LedgerBackend) async throws {
        let source = try LedgerBackend.sqlite.store()
        defer { source.remove() }
        let exported = try await lines(try await populated(source))

        let target = try backend.store()
        defer { target.remove() }
        let ledger = try Ledger.open(path: target.databasePath, clock: clock.ledgerClock)
        func refused(_ lines: [String], _ fragment: String) async {
            await #expect {
                _ = try await ledger.importExport(lines)
            } throws: { error in
                (error as? LedgerError)?.message.contains(fragment) == true
            }
        }
        var unknownColumn = exported
        unknownColumn[1] = unknownColumn[1].replacingOccurrences(of: #""agent":"#, with: #""agnet":"#)
        await refused(unknownColumn, "line 2: unknown column \"agnet\"")
        var fractional = exported
        fractional[1] = fractional[1].replacingOccurrences(of: #""cap":1000000"#, with: #""cap":1000000.5"#)
        await refused(fractional, "line 2: sessions.cap must be an integer")
        await refused(Array(exported.dropFirst()), "line 1: not a Purser ledger export")
        await refused(exported + ["{"], "line \(exported.count + 1): not JSON")
        // An edited payload keeps its old hash: the chain no longer verifies, so nothing is imported.
        var edited = exported
        let call = try #require(edited.lastIndex { $0.contains(#""kind":"call""#) })
        edited[call] = edited[call].replacingOccurrences(of: "1234", with: "1")
        await refused(edited, "does not verify")
        #expect(try await ledger.sessions().isEmpty)
        #expect(try await ledger.verify().records == 0)

        _ = try await ledger.importExport(exported)
        await refused(exported, "not empty")
    }
}
