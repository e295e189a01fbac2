import Cedar
import Foundation
import JSONCore
import Ledger
import MCP
import PurserTesting
import Synchronization
import Testing

@testable import Purser

/// History rules as policy: pay decisions see `context.session` (spent, held, remaining, window and per-tool
/// counts) computed from the ledger.
@Suite("Session state in pay policy", .serialized)
struct SessionPolicyTests {
    @Test("\"at most 3 paid calls of a tool an hour\" refuses the 4th, before anything is signed")
    func threeAnHour() async throws {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action, resource);
                @id("three-an-hour")
                forbid (principal, action == Action::"pay", resource == Tool::"weather")
                when { context has session && context.session.toolWindowPayments >= 3 };
                """)
        for city in ["Paris", "Rome", "Oslo"] {
            #expect(try !result(await world.call(city: city)).isError)
        }
        #expect(try errorCode(await world.call(city: "Bern")) == "payment_policy_denied")
        #expect(world.seller.paidRequests.count == 3)
        #expect(try await world.reservationStates() == [.committed, .committed, .committed])
    }

    @Test("the window is the velocity window: an hour later the rule allows again")
    func windowMoves() async throws {
        let offset = Mutex<Int64>(0)
        let world = try await World(
            clock: { Int64(Date().timeIntervalSince1970) + offset.withLock { $0 } },
            policy: """
                permit (principal == Agent::"alice", action, resource);
                forbid (principal, action == Action::"pay", resource)
                when { context has session && context.session.toolWindowPayments >= 1 };
                """)
        #expect(try !result(await world.call(city: "Paris")).isError)
        #expect(try errorCode(await world.call(city: "Rome")) == "payment_policy_denied")
        offset.withLock { $0 = 3_601 }
        #expect(try !result(await world.call(city: "Rome")).isError)
        // The session total still counts both.
        #expect(world.seller.paidRequests.count == 2)
    }

    @Test("spent and remaining: a rule on the session's spending refuses once 0.02 has gone")
    func spending() async throws {
        let world = try await World(
            budget: 1_000_000,
            policy: """
                permit (principal == Agent::"alice", action, resource);
                forbid (principal, action == Action::"pay", resource)
                unless { context has session && context.session.spent.lessThan(decimal("0.02"))
                         && context.session.remaining.greaterThanOrEqual(context.amount) };
                """)
        #expect(try !result(await world.call(city: "Paris")).isError)
        #expect(try !result(await world.call(city: "Rome")).isError)
        #expect(try errorCode(await world.call(city: "Oslo")) == "payment_policy_denied")
        #expect(world.seller.paidRequests.count == 2)
    }

    @Test("a call decision sees the session too: after two paid calls the third is refused before the seller")
    func callSeesSession() async throws {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action, resource);
                forbid (principal, action == Action::"call_tool", resource == Tool::"weather")
                when { context has session && context.session.toolPayments >= 2 };
                """)
        #expect(try !result(await world.call(city: "Paris")).isError)
        #expect(try !result(await world.call(city: "Rome")).isError)
        #expect(try errorCode(await world.call(city: "Oslo")) == "policy_denied")
        #expect(world.seller.requests.count == 4)
    }

    @Test("an unreadable ledger refuses the call (session read by the call policy) and contacts nothing")
    func unreadableLedger() async throws {
        let box = FaultyLedgerBox()
        let world = try await World(ledger: { box.make($0, failAt: 1) })
        #expect(try errorCode(await world.call()) == "ledger_unavailable")
        #expect(world.seller.requests.isEmpty)
        #expect(box.ledger?.failedOperations == ["activeSession"])
    }

    @Test("amounts are rounded against the agent: spent up, remaining down")
    func rounding() throws {
        #expect(SessionFacts.decimal(10_001, decimals: 6, roundUp: true) == CedarDecimal(scaled: 101))
        #expect(SessionFacts.decimal(10_001, decimals: 6, roundUp: false) == CedarDecimal(scaled: 100))
        #expect(SessionFacts.decimal(5, decimals: 2, roundUp: true) == CedarDecimal(scaled: 500))
        #expect(SessionFacts.decimal(.max, decimals: 6, roundUp: true) == nil)
        var facts = SessionFacts(decimals: 6)
        facts.spent = .max
        #expect(throws: PolicyContextError.self) { try facts.cedarValue().get() }
    }
}
