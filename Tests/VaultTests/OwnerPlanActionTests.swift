import EVMSigning
import Foundation
import JSONCore
import Ledger
import OwnerSigning
import PurserVault
import Testing

@Suite("Owner actions for spend plans")
struct OwnerPlanActionTests {
    @Test("a signed grant can require a plan, and a signed approve of pln_… reserves the plan's total")
    func grantAndApprovePlan() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("owner-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let limits = directory.appendingPathComponent("limits.json")
        try #"""
        {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}}},
         "allow": {"networks": ["eip155:84532"], "assets": ["USDC"], "payees": "any"}}
        """#.write(to: limits, atomically: true, encoding: .utf8)
        let ledger = try Ledger.open(path: directory.appendingPathComponent("ledger.sqlite").path)
        let record = OwnerRequestTests.cheap.0
        let key = try record.key(passphrase: OwnerRequestTests.passphrase)
        let desk = OwnerDesk(
            record: record, nonces: try NonceStore(path: directory.appendingPathComponent("nonces").path),
            now: { 1_000_000 })
        await StandardOwnerActions.register(on: desk, ledger: ledger, limitsPath: limits.path)
        func send(_ action: String, _ parameters: JSONObject) async throws -> OwnerDesk.Outcome {
            await desk.handle(
                try OwnerRequest.fresh(action: action, parameters: parameters, now: 1_000_000).signed(with: key).json)
        }
        let granted = try await send(
            "session.grant", ["agent": "alice", "budget": "1.00", "asset": "USDC", "requirePlan": true])
        #expect(granted.accepted, "\(granted)")
        let session = try #require(try await ledger.activeSession(agent: "alice", asset: "USDC"))
        #expect(session.requiresPlan)
        #expect(
            try await send("session.grant", ["agent": "bob", "budget": "1.00", "asset": "USDC", "requirePlan": "yes"])
                .accepted == false)
        guard
            case .proposed(let plan) = try await ledger.proposePlan(
                sessionID: session.id, agent: "alice",
                steps: [.init(tool: "weather", purpose: "p", maxAmount: 100_000, count: 2)], total: 200_000,
                argumentsDigest: "d", lifetimeMilliseconds: 3_600_000)
        else { throw CocoaError(.featureUnsupported) }
        let approved = try await send("approve", ["id": .string(plan.id)])
        #expect(approved.accepted, "\(approved)")
        #expect(try await ledger.plan(id: plan.id)?.plan.state == .approved)
        #expect(try await ledger.sessions().first?.remaining == 800_000)
    }
}
