import Foundation
import JSONCore
import MCP
import PurserTesting
import Testing
import X402

@testable import Purser

/// Steps run alone, on a hand-built state and environment (no ledger, no network).
@Suite("Call steps, one at a time")
struct CallStepTests {
    private static func manifest() throws -> ToolManifest {
        let (manifest, problems) = ToolManifestLoader.load(bytes: Array(World.weatherManifest.utf8), file: "w.json")
        guard let manifest, problems.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
        return manifest
    }

    private static func environment(
        authorizer: any CallAuthorizer = PayDenyingAuthorizer(),
        payments: Payments = .disabled(reasons: ["no wallet is configured"], ledger: nil)
    ) -> CallEnvironment {
        CallEnvironment(
            transports: [:], secrets: EnvironmentSecrets(), authorizer: authorizer, payments: payments,
            backlog: LedgerBacklog(log: { _ in }), log: { _ in })
    }

    private static func state(_ arguments: JSONObject) throws -> CallState {
        CallState(manifest: try manifest(), arguments: arguments, caller: CallerContext(agent: "alice"))
    }

    @Test("input check: the idempotency argument is taken out, the rest is validated and digested")
    func inputCheck() async throws {
        var state = try Self.state(["city": "Paris", "idempotency_key": "k-1"])
        guard case .proceed = await InputCheckStep().run(&state, in: Self.environment()) else {
            Issue.record("valid arguments were refused")
            return
        }
        #expect(state.arguments == ["city": "Paris"])
        #expect(state.idempotencyKey == "k-1")
        // SHA-256 of the canonical JSON {"city":"Paris"}, computed independently (`printf '{"city":"Paris"}' | sha256sum`).
        #expect(
            state.trace.argumentsDigest == "sha256:6e1e312d537bc71b5410b0599f5a508142149e13174c6ee0d1671658845bc67d")
        var bad = try Self.state(["town": "Paris"])
        guard
            case .finish(.refused(.invalidArguments(let tool, let problems))) = await InputCheckStep().run(
                &bad, in: Self.environment())
        else {
            Issue.record("schema violation not refused")
            return
        }
        #expect(tool == "weather" && !problems.isEmpty)
    }

    @Test("call policy: a denial ends the call with the deciding policies")
    func callPolicy() async throws {
        struct DenyAll: CallAuthorizer {
            func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject) async -> PolicyDecision {
                PolicyDecision(allowed: false, deciding: ["no-calls"])
            }
            func authorizePayment(
                agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject
            ) async -> PolicyDecision { PolicyDecision(allowed: false, deciding: []) }
            func mayEverCall(agent: String, tool: ToolManifest) async -> Bool { false }
        }
        var state = try Self.state(["city": "Paris"])
        let outcome = await CallPolicyStep().run(&state, in: Self.environment(authorizer: DenyAll()))
        guard case .finish(.refused(.callPolicyDenied(_, let decision))) = outcome else {
            Issue.record("denial not returned")
            return
        }
        #expect(decision.deciding == ["no-calls"])
        #expect(state.trace.callPolicy == nil)
        var allowed = try Self.state(["city": "Paris"])
        guard case .proceed = await CallPolicyStep().run(&allowed, in: Self.environment()) else {
            Issue.record("an allowed call was refused")
            return
        }
        #expect(allowed.trace.callPolicy == "allowed")
    }

    @Test("offer selection with payments disabled refuses with the reasons")
    func paymentsDisabled() async throws {
        var state = try Self.state(["city": "Paris"])
        guard
            case .finish(.refused(.paymentsDisabled(let reasons))) = await OfferSelectionStep().run(
                &state, in: Self.environment())
        else {
            Issue.record("a disabled pipeline went on")
            return
        }
        #expect(reasons == ["no wallet is configured"])
    }

    @Test("a step whose earlier phases are missing refuses with internal_error, never pays")
    func outOfOrder() async throws {
        var state = try Self.state(["city": "Paris"])
        for step in [SigningStep(), SettlementStep(), ReceiptStep()] as [any CallStep] {
            guard case .finish(.refused(let refusal)) = await step.run(&state, in: Self.environment()) else {
                Issue.record("\(step.name) ran without its inputs")
                continue
            }
            #expect(refusal.code.name == "internal_error")
            #expect(refusal.money == .none)
        }
    }
}
