import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Testing

@Suite("report --explain: why one payment was allowed, from the audit trail alone", .serialized)
struct ExplainTests {
    @Test("a receipt and its trace id explain the same chain: policies, gates, approval with channel, settlement")
    func explainsApprovedPayment() async throws {
        let world = try await World(approvalAbove: "0.005")
        let first = try result(await world.call())
        let id = try #require(first.structuredContent?["approvalId"]?.stringValue)
        #expect(try await world.ledger.approve(id))
        let paid = try result(await world.call(meta: ["com.purser/approval": .string(id)]))
        let receipt = try #require(paid.meta?["com.purser/receipt"]?.objectValue)
        let receiptID = try #require(receipt["receiptId"]?.stringValue)
        let traceID = try #require(receipt["traceId"]?.stringValue)

        guard case .success(let byReceipt) = try await world.ledger.explain(receiptID),
            case .success(let byTrace) = try await world.ledger.explain(traceID)
        else {
            Issue.record("the payment was not explained")
            return
        }
        #expect(byReceipt.steps == byTrace.steps)
        #expect(byReceipt.auditIntact)
        let kinds = byReceipt.steps.map(\.kind)
        #expect(
            kinds == [
                "session.grant", "approval.created", "approval.granted", "approval.redeem", "reserve", "commit", "call",
            ])
        let call = try #require(byReceipt.steps.last?.payload)
        #expect(call["pay_policy"] == "allowed" && call["call_policy"] == "allowed")
        #expect(call["approval"]?.stringValue == id)
        #expect(call["approval_channel"] == "fallback_token")
        #expect(call["change_facts"]?["payeeIsNew"] == false)
        let reserve = try #require(byReceipt.steps.first { $0.kind == "reserve" }?.payload)
        let gates = reserve["checks"]?.arrayValue?.compactMap { $0["gate"]?.stringValue } ?? []
        #expect(gates.contains("session_remaining"))
        let commit = try #require(byReceipt.steps.first { $0.kind == "commit" }?.payload)
        #expect(commit["transaction"] == receipt["transaction"])
        // No raw argument anywhere in the chain.
        for step in byReceipt.steps {
            #expect(!JSONValue.object(step.payload).serialized().contains("Paris"), "\(step.kind)")
        }
    }

    @Test("an unknown id, a trace that paid nothing and a malformed id are explained as such")
    func unknownIDs() async throws {
        let world = try await World(
            policy: "permit (principal == Agent::\"alice\", action == Action::\"call_tool\", resource);")
        #expect(try errorCode(await world.call()) == "payment_policy_denied")
        let records = try await world.ledger.auditRecords()
        let trace = try #require(records.last { $0.kind == "call" })
        for id in ["rcp_res_nope", "trc_\(trace.sequence)", "trc_1", "hello"] {
            guard case .failure(let error) = try await world.ledger.explain(id) else {
                Issue.record("\(id) was explained")
                continue
            }
            #expect(error.message.contains(id) || error.message.contains("res_nope"))
        }
    }
}

@Suite("Wasted spend: paid, and the upstream answered with an error", .serialized)
struct WastedSpendTests {
    @Test("a paid call whose upstream answers with output the tool does not promise is reported as wasted")
    func upstreamErrorAfterPayment() async throws {
        // The seller settles and answers 200 with {city, temperature, weather}; this tool promises humidity.
        let manifest = World.weatherManifest.replacingOccurrences(
            of: #""upstream":"#,
            with: #""outputSchema": {"type": "object", "required": ["humidity"]}, "upstream":"#)
        let world = try await World(manifestText: manifest)
        let failed = try result(await world.call())
        #expect(failed.isError)
        #expect(try await world.reservationStates() == [.committed])
        let receipt = try #require(failed.meta?["com.purser/receipt"]?["receiptId"]?.stringValue)
        let wasted = try await world.ledger.wastedPayments()
        #expect(wasted.count == 1)
        #expect(wasted.first?.receiptID == receipt)
        #expect(wasted.first?.tool == "weather" && wasted.first?.payee == FakeSeller.payee)
        #expect(wasted.first?.amount == 10_000 && wasted.first?.reason == "upstream_invalid_output")
        // A good paid call is not wasted.
        let good = try await World()
        #expect(try !result(await good.call()).isError)
        #expect(try await good.ledger.wastedPayments().isEmpty)
    }
}
