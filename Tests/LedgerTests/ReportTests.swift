import JSONCore
import Ledger
import Testing

@Suite("Reports")
struct ReportTests {
    @Test(
        "spend by agent, tool, payee and session; refusals by reason; in doubt; latency percentiles",
        arguments: LedgerBackend.all)
    func report(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let clock = ManualClock()
        let ledger = try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
        let limits = Fixtures.limits(.init(perCall: 500_000))
        let one = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        let two = try await ledger.grantSession(
            agent: "agent-2", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        func pay(_ session: PaymentSession, _ amount: Int64, tool: String, settle: Int64?) async throws {
            let reservation = try #require(
                try await ledger.reserve(
                    Fixtures.request(session: session.id, amount: amount, agent: session.agent, tool: tool),
                    limits: limits
                ).reservation)
            if let settle {
                _ = try await ledger.commit(reservation.id, settledAmount: settle, transaction: "0x1", payer: "0x2")
            } else {
                _ = try await ledger.markInDoubt(reservation.id, validBefore: clock.now / 1000 + 600)
            }
        }
        try await pay(one, 100_000, tool: "weather", settle: 100_000)
        try await pay(one, 200_000, tool: "maps", settle: 150_000)
        try await pay(two, 300_000, tool: "weather", settle: 300_000)
        try await pay(two, 50_000, tool: "weather", settle: nil)
        _ = try await ledger.reserve(Fixtures.request(session: one.id, amount: 600_000), limits: limits)  // per_call
        _ = try await ledger.reserve(Fixtures.request(session: one.id, amount: 900_000, tool: "maps"), limits: limits)
        _ = try await ledger.appendAudit(
            kind: "policy.call", payload: ["outcome": "refused", "reason": "policy_denied"])
        for latency in 1...100 {
            _ = try await ledger.appendAudit(kind: "call", payload: ["latency_us": .number(JSONNumber(latency * 10))])
        }

        let report = try await ledger.report()
        #expect(
            report.byAgent.map { [$0.key, "\($0.amount)", "\($0.payments)"] } == [
                ["agent-2", "300000", "1"], ["agent-1", "250000", "2"],
            ])
        #expect(report.byTool.map { [$0.key, "\($0.amount)"] } == [["weather", "400000"], ["maps", "150000"]])
        #expect(report.byPayee.map { $0.amount } == [550_000])
        #expect(report.bySession.map { $0.key } == [two.id, one.id])
        // 600_000 > per-call 500_000. 900_000 fails per-call too, but the session budget (250_000 used of
        // 1_000_000) is checked first, so it names the reason.
        #expect(
            report.refusals.map { [$0.reason, "\($0.count)"] } == [
                ["per_call", "1"], ["policy_denied", "1"], ["session_remaining", "1"],
            ])
        #expect(report.inDoubt.map { [$0.asset, "\($0.amount)", "\($0.reservations)"] } == [["USDC", "50000", "1"]])
        // Nearest rank over 10, 20, …, 1000 µs.
        let latency = try #require(report.latency)
        #expect([latency.count, latency.p50, latency.p90, latency.p99, latency.max] == [100, 500, 900, 990, 1000])
    }
}
