import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Synchronization
import Testing
import X402

@Suite("Governed paid call", .serialized)
struct GovernedCallTests {
    @Test("a paid call signs once, commits, and returns a receipt")
    func paidCall() async throws {
        let world = try await World()
        let paid = try result(await world.call())
        #expect(!paid.isError)
        #expect(paid.meta?["x402/payment-response"]?["success"] == true)
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["amount"] == "0.01" && receipt["amountAtomic"] == "10000")
        #expect(receipt["sessionRemaining"] == "0.99")
        #expect(receipt["payee"] == .string(FakeSeller.payee))
        #expect(receipt["traceId"]?.stringValue?.hasPrefix("trc_") == true)
        #expect(world.seller.paidRequests.count == 1)
        #expect(try await world.reservationStates() == [.committed])
        #expect(try await world.ledger.verify().isValid)
    }

    @Test("a paid call leaves exactly one call trace, the one its receipt names")
    func paidCallTracedOnce() async throws {
        let world = try await World()
        let paid = try result(await world.call())
        let traces = try await world.ledger.auditRecords().filter { $0.kind == "call" }
        #expect(traces.count == 1)
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["traceId"]?.stringValue == traces.first.map { "trc_\($0.sequence)" })
        #expect(traces.first?.payloadJSON?["outcome"] == "paid")
    }

    @Test("a call policy denial contacts nothing upstream")
    func policyDenied() async throws {
        let world = try await World()
        #expect(try errorCode(await world.call(agent: "bob")) == "policy_denied")
        #expect(world.seller.requests.isEmpty)
    }

    @Test("a budget refusal signs nothing and holds nothing")
    func budgetRefusal() async throws {
        let world = try await World(budget: 5_000)
        let refused = try result(await world.call())
        #expect(refused.structuredContent?["error"] == "budget_exceeded")
        #expect(refused.structuredContent?["shortfall"] != nil)
        #expect(world.seller.requests.count == 1 && world.seller.paidRequests.isEmpty)
        #expect(try await world.reservationStates().isEmpty)
    }

    @Test("a payee outside the allow list is refused before signing")
    func payeeNotAllowed() async throws {
        let world = try await World(seller: FakeSeller(payTo: "0x1111111111111111111111111111111111111111"))
        #expect(try errorCode(await world.call()) == "payment_unserviceable")
        #expect(world.seller.paidRequests.isEmpty)
    }

    @Test("a pay policy forbid stops the payment after the 402")
    func payPolicyDenied() async throws {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action, resource);
                @id("no-pay") forbid (principal, action == Action::"pay", resource);
                """)
        #expect(try errorCode(await world.call()) == "payment_policy_denied")
        #expect(world.seller.requests.count == 1 && world.seller.paidRequests.isEmpty)
    }

    @Test("an ambiguous outcome stays in doubt, and the same key never pays twice")
    func inDoubtAndIdempotency() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .timeout))
        let meta: JSONObject = ["com.purser/idempotency-key": "purchase-1"]
        #expect(try errorCode(await world.call(meta: meta)) == "outcome_unknown")
        #expect(try await world.reservationStates() == [.inDoubt])
        let again = try result(await world.call(meta: meta))
        #expect(again.structuredContent?["error"] == "outcome_unknown")
        #expect(again.meta?["com.purser/replayed"] == true)
        #expect(world.seller.paidRequests.count == 1)
        #expect(try errorCode(await world.call(city: "Rome", meta: meta)) == "idempotency_conflict")
    }

    @Test("a failed settlement keeps the amount held and the key bound: a retry signs nothing new")
    func failedSettlementKeepsKey() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .settlementFailed))
        let meta: JSONObject = ["com.purser/idempotency-key": "purchase-2"]
        #expect(try errorCode(await world.call(meta: meta)) == "payment_failed")
        #expect(try await world.reservationStates() == [.inDoubt])
        let again = try result(await world.call(meta: meta))
        #expect(again.meta?["com.purser/replayed"] == true)
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("a second 402 after payment is never paid again")
    func secondChallenge() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .secondPaymentRequired))
        let outcome = try errorCode(await world.call())
        #expect(outcome == "outcome_unknown" || outcome == "payment_failed")
        #expect(world.seller.paidRequests.count == 1)
        #expect(try await world.reservationStates() == [.inDoubt])
    }

    @Test("fallback approval: pending until the user approves, then usable exactly once")
    func fallbackApproval() async throws {
        let world = try await World(approvalAbove: "0.005")
        let first = try result(await world.call())
        #expect(first.structuredContent?["error"] == "approval_required")
        let id = try #require(first.structuredContent?["approvalId"]?.stringValue)
        let meta: JSONObject = ["com.purser/approval": .string(id)]
        #expect(try errorCode(await world.call(meta: meta)) == "approval_required")
        #expect(try await world.ledger.approve(id))
        #expect(try !result(await world.call(meta: meta)).isError)
        #expect(try errorCode(await world.call(meta: meta)) == "approval_invalid")
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("a pay policy marked @approval(\"required\") asks the human even below the threshold")
    func policyMarkedApproval() async throws {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action == Action::"call_tool", resource);
                @approval("required")
                permit (principal == Agent::"alice", action == Action::"pay", resource);
                """)
        let held = try result(await world.call())
        #expect(held.structuredContent?["error"] == "approval_required")
        #expect(world.seller.paidRequests.isEmpty)
        let id = try #require(held.structuredContent?["approvalId"]?.stringValue)
        #expect(try await world.ledger.approve(id))
        #expect(try !result(await world.call(meta: ["com.purser/approval": .string(id)])).isError)
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("MRTR approval: input_required, accepted once; replayed or tampered states are refused")
    func mrtrApproval() async throws {
        let world = try await World(approvalAbove: "0.005")
        guard case .inputRequired(let requests, let state) = try await world.call(channel: .inputRequired) else {
            Issue.record("expected input_required")
            return
        }
        #expect(requests["approval"]?["method"] == "elicitation/create")
        let accept: JSONObject = ["approval": ["action": "accept", "content": ["approve": true]]]
        var tampered = Array(state)
        tampered[tampered.count - 1] = tampered.last == "0" ? "1" : "0"
        #expect(
            try errorCode(
                await world.call(channel: .inputRequired, requestState: String(tampered), inputResponses: accept))
                == "approval_invalid")
        #expect(
            try errorCode(
                await world.call(
                    city: "Rome", channel: .inputRequired, requestState: state, inputResponses: accept))
                == "approval_invalid")
        let declined: JSONObject = ["approval": ["action": "decline"]]
        #expect(
            try errorCode(await world.call(channel: .inputRequired, requestState: state, inputResponses: declined))
                == "approval_declined")
        #expect(
            try !result(await world.call(channel: .inputRequired, requestState: state, inputResponses: accept)).isError)
        #expect(
            try errorCode(await world.call(channel: .inputRequired, requestState: state, inputResponses: accept))
                == "approval_invalid")
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("an MRTR approval state is refused once it has expired (5 minutes)")
    func mrtrExpiry() async throws {
        let now = Mutex<Int64>(Int64(Date().timeIntervalSince1970))
        let world = try await World(approvalAbove: "0.005", clock: { now.withLock { $0 } })
        guard case .inputRequired(_, let state) = try await world.call(channel: .inputRequired) else {
            Issue.record("expected input_required")
            return
        }
        now.withLock { $0 += 301 }
        let accept: JSONObject = ["approval": ["action": "accept", "content": ["approve": true]]]
        #expect(
            try errorCode(await world.call(channel: .inputRequired, requestState: state, inputResponses: accept))
                == "approval_invalid")
        #expect(world.seller.paidRequests.isEmpty)
    }

    @Test("legacy elicitation: a decline pays nothing, an accept pays once")
    func elicitation() async throws {
        let world = try await World(approvalAbove: "0.005")
        let decline = CallerContext.ApprovalChannel.elicitation { _ async throws(MCPError) -> JSONObject in
            ["action": "decline"]
        }
        #expect(try errorCode(await world.call(channel: decline)) == "approval_declined")
        #expect(world.seller.paidRequests.isEmpty)
        let accept = CallerContext.ApprovalChannel.elicitation { form async throws(MCPError) -> JSONObject in
            // The human sees the amount, asset, payee and network.
            let message = form["message"]?.stringValue ?? ""
            guard message.contains("0.01 USDC"), message.contains(FakeSeller.payee), message.contains("eip155:84532")
            else { return ["action": "decline"] }
            return ["action": "accept", "content": ["approve": true]]
        }
        #expect(try !result(await world.call(channel: accept)).isError)
        #expect(world.seller.paidRequests.count == 1)
    }
}
