import Foundation
import JSONCore
import Ledger
import MCP
import PurserTesting
import Testing
import X402

@testable import Purser

/// One way to make the pipeline refuse with a given code.
private struct RefusalScenario: Sendable, CustomTestStringConvertible {
    let code: String
    let why: String
    /// Payments made on purpose before the refused call (the scenario's setup).
    var paidBefore = 0
    let run: @Sendable () async throws -> (ToolCallOutcome, World?)
    var testDescription: String { "\(code): \(why)" }
}

private let unsetSecret = "PURSER_TEST_UNSET_SECRET_7F3A"

private let scenarios: [RefusalScenario] = [
    RefusalScenario(code: "invalid_arguments", why: "arguments outside the schema") {
        let world = try await World()
        return (try await world.call(arguments: ["town": "Paris"]), world)
    },
    RefusalScenario(code: "invalid_arguments", why: "an idempotency_key that is not a string") {
        let world = try await World()
        return (try await world.call(arguments: ["city": "Paris", "idempotency_key": 7]), world)
    },
    RefusalScenario(code: "policy_denied", why: "no permit for the agent") {
        let world = try await World()
        return (try await world.call(agent: "bob"), world)
    },
    RefusalScenario(code: "idempotency_conflict", why: "same key, other arguments", paidBefore: 1) {
        let world = try await World()
        _ = try await world.call(meta: ["com.purser/idempotency-key": "k1"])
        return (try await world.call(city: "Rome", meta: ["com.purser/idempotency-key": "k1"]), world)
    },
    RefusalScenario(code: "idempotency_in_progress", why: "the key is claimed by a call still running") {
        let world = try await World()
        _ = try await world.ledger.beginIdempotent(
            agent: "alice", key: IdempotencyClaimStep.ledgerName("k2"), tool: "weather",
            argumentsDigest: InputCheckStep.digest(["city": "Paris"]))
        return (try await world.call(meta: ["com.purser/idempotency-key": "k2"]), world)
    },
    RefusalScenario(code: "upstream_failed", why: "the upstream cannot be reached") {
        let world = try await World(
            transport: ScriptedTransport { _ in throw HTTPTransportError(.cannotConnect, "connection refused") })
        return (try await world.call(), world)
    },
    RefusalScenario(code: "cross_origin_redirect", why: "a redirect to another host") {
        let world = try await World(
            transport: ScriptedTransport { _ in
                HTTPResponse(status: 302, headers: ["Location": "http://elsewhere.test/steal"])
            })
        return (try await world.call(), world)
    },
    RefusalScenario(code: "not_configured", why: "a secret header whose secret is not set") {
        let manifest = World.weatherManifest.replacingOccurrences(
            of: #""upstream": {"url": "http://seller.test/weather/{city}"}"#,
            with:
                #""upstream": {"url": "http://seller.test/weather/{city}", "secretHeaders": {"Authorization": {"secret": "\#(unsetSecret)"}}}"#
        )
        let world = try await World(manifestText: manifest)
        return (try await world.call(), world)
    },
    RefusalScenario(code: "payment_unserviceable", why: "a payee outside the allow list") {
        let world = try await World(seller: FakeSeller(payTo: "0x1111111111111111111111111111111111111111"))
        return (try await world.call(), world)
    },
    RefusalScenario(code: "payment_policy_denied", why: "a forbid on Action::pay") {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action, resource);
                forbid (principal, action == Action::"pay", resource);
                """)
        return (try await world.call(), world)
    },
    RefusalScenario(code: "no_session", why: "an agent without a session") {
        let world = try await World(policy: "permit (principal, action, resource);")
        return (try await world.call(agent: "carol"), world)
    },
    RefusalScenario(code: "no_session", why: "payments disabled") {
        let (manifest, _) = ToolManifestLoader.load(bytes: Array(World.weatherManifest.utf8), file: "weather.json")
        let pipeline = ToolCallPipeline(
            catalog: ToolCatalog([try #require(manifest)]), transport: { _ in FakeSeller() },
            secrets: EnvironmentSecrets(), authorizer: PayDenyingAuthorizer(),
            payments: .disabled(reasons: ["no wallet is configured"], ledger: nil), log: { _ in })
        return (try await pipeline.call(name: "weather", arguments: ["city": "Paris"], caller: .init(agent: "a")), nil)
    },
    RefusalScenario(code: "budget_exceeded", why: "a session too small") {
        let world = try await World(budget: 5_000)
        return (try await world.call(), world)
    },
    RefusalScenario(code: "approval_required", why: "above the approval threshold, fallback channel") {
        let world = try await World(approvalAbove: "0.005")
        return (try await world.call(), world)
    },
    RefusalScenario(code: "approval_declined", why: "the human declines in-band") {
        let world = try await World(approvalAbove: "0.005")
        let decline = CallerContext.ApprovalChannel.elicitation { _ async throws(MCPError) -> JSONObject in
            ["action": "decline"]
        }
        return (try await world.call(channel: decline), world)
    },
    RefusalScenario(code: "approval_invalid", why: "an unknown approval id") {
        let world = try await World(approvalAbove: "0.005")
        return (try await world.call(meta: ["com.purser/approval": "apr_0000"]), world)
    },
    RefusalScenario(code: "payment_failed", why: "the seller refuses the signed payment") {
        let world = try await World(seller: FakeSeller(afterPayment: .settlementFailed))
        return (try await world.call(), world)
    },
    RefusalScenario(code: "outcome_unknown", why: "the paid request times out") {
        let world = try await World(seller: FakeSeller(afterPayment: .timeout))
        return (try await world.call(), world)
    },
    RefusalScenario(code: "ledger_unavailable", why: "the ledger fails when the session is read") {
        let world = try await World(ledger: { FaultyLedger($0, failAt: 1) })
        return (try await world.call(), world)
    },
    RefusalScenario(code: "internal_error", why: "a pipeline whose steps never finish the call") {
        let (manifest, _) = ToolManifestLoader.load(bytes: Array(World.weatherManifest.utf8), file: "weather.json")
        let pipeline = ToolCallPipeline(
            catalog: ToolCatalog([try #require(manifest)]), transport: { _ in FakeSeller() },
            secrets: EnvironmentSecrets(), authorizer: PayDenyingAuthorizer(),
            payments: .disabled(reasons: [], ledger: nil), log: { _ in }, steps: [])
        return (try await pipeline.call(name: "weather", arguments: ["city": "Paris"], caller: .init(agent: "a")), nil)
    },
    RefusalScenario(code: "plan_required", why: "a --require-plan session without an approved plan") {
        let world = try await World(requirePlan: true)
        return (try await world.call(), world)
    },
    RefusalScenario(code: "outside_plan", why: "the plan's one step is used up", paidBefore: 1) {
        let world = try await plannedWorld(count: 1)
        _ = try await world.call()
        return (try await world.call(city: "Rome"), world)
    },
]

/// Every stable refusal code (docs/governed-call.md); the table below must reach each one.
private let allCodes: Set<String> = [
    "invalid_arguments", "policy_denied", "idempotency_conflict", "idempotency_in_progress", "upstream_failed",
    "cross_origin_redirect", "not_configured", "payment_unserviceable", "payment_policy_denied", "no_session",
    "budget_exceeded", "approval_required", "approval_declined", "approval_invalid", "payment_failed",
    "outcome_unknown", "ledger_unavailable", "internal_error", "plan_required", "outside_plan",
]

/// A --require-plan world with an approved plan of `count` weather calls (0.01 each).
private func plannedWorld(count: Int64) async throws -> World {
    let world = try await World(requirePlan: true)
    let proposal = try await world.ledger.proposePlan(
        sessionID: world.session.id, agent: "alice",
        steps: [.init(tool: "weather", purpose: "p", maxAmount: 10_000, count: count)], total: 10_000 * count,
        argumentsDigest: "sha256:p", lifetimeMilliseconds: 3_600_000)
    guard case .proposed(let plan) = proposal else { throw CocoaError(.featureUnsupported) }
    _ = try await world.ledger.approvePlan(plan.id, by: "end_user")
    return world
}

@Suite("Refusal codes", .serialized)
struct RefusalTableTests {
    @Test("each refusal code is reached through the pipeline, with its wording and money flag", arguments: scenarios)
    fileprivate func refusal(_ scenario: RefusalScenario) async throws {
        let (outcome, world) = try await scenario.run()
        let refused = try result(outcome)
        #expect(refused.isError)
        #expect(refused.structuredContent?["error"]?.stringValue == scenario.code)
        let text = refused.content.first?["text"]?.stringValue ?? ""
        let mayHaveMoved = ["payment_failed", "outcome_unknown"].contains(scenario.code)
        #expect(refused.structuredContent?["paymentMayHaveGoneThrough"] == .bool(mayHaveMoved))
        // "Nothing was paid." exactly when no signed payment left; never typed twice.
        #expect(text.hasSuffix(" Nothing was paid.") == !mayHaveMoved, "\(text)")
        #expect(text.components(separatedBy: "Nothing was paid").count <= 2, "\(text)")
        if let world, !mayHaveMoved {
            #expect(world.seller.paidRequests.count == scenario.paidBefore)
            let states = try await world.reservationStates()
            #expect(states.filter { $0 != .released } == Array(repeating: .committed, count: scenario.paidBefore))
        }
    }

    @Test("behind the vault, refusals name the owner's commands (purser owner approve), not the single-user ones")
    func vaultWording() async throws {
        func text(_ outcome: ToolCallOutcome) throws -> String {
            try result(outcome).content.first?["text"]?.stringValue ?? ""
        }
        let single = try await World(approvalAbove: "0.005")
        let singleText = try text(await single.call())
        #expect(singleText.contains("Ask the user to run `purser approve apr_"), "\(singleText)")

        let vault = try await World(
            approvalAbove: "0.005", policy: "permit (principal, action, resource);", ownerCommands: .vault)
        let required = try result(await vault.call())
        let id = try #require(required.structuredContent?["approvalId"]?.stringValue)
        let requiredText = required.content.first?["text"]?.stringValue ?? ""
        #expect(requiredText.contains("Ask the user to run `purser owner approve \(id)`"), "\(requiredText)")
        #expect(!requiredText.contains("`purser approve"))
        // Retried before the owner approved: the reminder names the owner's command too.
        let pending = try text(await vault.call(meta: ["com.purser/approval": .string(id)]))
        #expect(pending.contains("(purser owner approve \(id))"), "\(pending)")
        // No session for this agent: the owner grants one with `purser owner grant`.
        let noSession = try text(await vault.call(agent: "carol"))
        #expect(noSession.contains("purser owner grant") && !noSession.contains("purser session grant"), "\(noSession)")
    }

    @Test("the table covers every stable refusal code")
    func coverage() {
        #expect(Set(scenarios.map(\.code)) == allCodes)
    }

    @Test("the upstream secret of the not_configured scenario is really unset")
    func secretUnset() {
        #expect(ProcessInfo.processInfo.environment[unsetSecret] == nil)
    }
}
