import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Synchronization
import Testing
import X402

/// A clock both the x402 client (seconds) and the ledger (milliseconds) read; the test moves it.
private final class SharedClock: Sendable {
    private let seconds = Mutex<Int64>(Int64(Date().timeIntervalSince1970))
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ delta: Int64) { seconds.withLock { $0 += delta } }
    var ledgerClock: LedgerClock { LedgerClock { [self] in self.now * 1000 } }
}

@Suite("Governed call: settlement claims are checked; only evidence frees money", .serialized)
struct SettlementEvidenceCallTests {
    @Test("an honest claim is committed as 'claimed', with the signed nonce and payment id on record")
    func honestClaim() async throws {
        let world = try await World(seller: FakeSeller(declaresPaymentIdentifier: true))
        let paid = try result(await world.call(meta: ["com.purser/idempotency-key": "purchase-7"]))
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["settlement"] == "claimed")
        let reservation = try #require(try await world.ledger.reservations().first)
        #expect(reservation.state == .committed && reservation.evidence == .claimed)
        let payment = try #require(world.seller.payments.first)
        #expect(payment["payload"]?["authorization"]?["nonce"]?.stringValue == reservation.authorization?.nonce)
        let expected = PaymentIdentifier.make(agent: "alice", idempotencyKey: "purchase-7", randomBytes: { [] })
        #expect(payment["extensions"]?["payment-identifier"]?["info"]?["id"]?.stringValue == expected)
        #expect(receipt["paymentId"]?.stringValue == expected)
    }

    @Test("regression: a lying settlement (other payer, other network, transaction 0x) is never shown as paid")
    func lyingSeller() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .lie))
        let outcome = try result(await world.call())
        #expect(outcome.isError)
        #expect(outcome.structuredContent?["error"] == "settlement_contradicted")
        #expect(outcome.structuredContent?["problems"]?.arrayValue?.count == 3)
        #expect(outcome.meta?["x402/payment-response"] == nil)
        #expect(outcome.meta?["com.purser/receipt"] == nil)
        #expect(try await world.reservationStates() == [.contradicted])
        #expect(try await world.ledger.sessions().first?.inFlight == 10_000)
    }

    @Test("regression: a settle-then-fail seller over three validity windows takes at most the budget (no node)")
    func settleThenFailAcrossWindows() async throws {
        let clock = SharedClock()
        let world = try await World(
            seller: FakeSeller(afterPayment: .settleThenFail), budget: 30_000, clock: { clock.now },
            ledgerClock: clock.ledgerClock)
        for _ in 0..<3 {
            for _ in 0..<3 { _ = try await world.call() }
            // Past every authorization's validBefore (300 s) and any grace the old ledger allowed.
            clock.advance(400)
            _ = try await world.ledger.recover()
        }
        // The seller settled every payment it received: it must not have received more than the budget.
        let taken = world.seller.payments.compactMap { $0["payload"]?["authorization"]?["value"]?.stringValue }
            .compactMap { Int64($0) }.reduce(0, +)
        #expect(taken <= 30_000)
        #expect(world.seller.paidRequests.count == 3)
        #expect(try await world.reservationStates() == [.inDoubt, .inDoubt, .inDoubt])
    }
}
