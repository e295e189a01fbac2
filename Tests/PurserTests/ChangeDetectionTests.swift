import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Testing
import X402

@testable import Purser

/// A settled payment `weather` made before, written straight into the ledger (reserve, then commit).
private func pastPayment(
    _ world: World, payee: String, network: String = "eip155:84532", amount: Int64 = 10_000
) async throws {
    let limits = LimitsConfiguration(
        assets: ["USDC": .init(symbol: "USDC", decimals: 6, contracts: [network: FakeSeller.asset])],
        allowedNetworks: [network], allowedAssets: ["USDC"], allowedPayees: .any)
    let request = ReservationRequest(
        sessionID: world.session.id, agent: "alice", tool: "weather", payee: payee, network: network, asset: "USDC",
        amount: amount, purpose: "data.weather", argumentsDigest: "sha256:earlier")
    let outcome = try await world.ledger.reserve(request, limits: limits, holdUntil: nil)
    guard case .reserved(let reservation, _) = outcome else {
        Issue.record("the earlier payment was not reserved: \(outcome)")
        throw CocoaError(.featureUnsupported)
    }
    _ = try await world.ledger.commit(reservation.id, settledAmount: amount, transaction: "0xold", payer: "0xme")
}

private let oldPayee = "0xf5E3000000000000000000000000000000000001"

@Suite("Change detection: new payees, networks and prices pause or deny", .serialized)
struct ChangeDetectionTests {
    @Test("a payee swap pauses for approval, saying what changed; after approval it pays and is remembered")
    func payeeSwapPauses() async throws {
        let world = try await World()
        try await pastPayment(world, payee: oldPayee)
        let first = try result(await world.call())
        #expect(first.structuredContent?["error"] == "approval_required")
        let change = try #require(first.structuredContent?["change"]?.stringValue)
        #expect(change == "weather paid 0xf5E3… on Base Sepolia before; it now asks 0x2096… on Base Sepolia")
        #expect(first.content.first?["text"]?.stringValue?.contains("because the payment changed") == true)
        #expect(world.seller.paidRequests.isEmpty)
        let id = try #require(first.structuredContent?["approvalId"]?.stringValue)
        #expect(try await world.ledger.approve(id))
        let paid = try result(await world.call(meta: ["com.purser/approval": .string(id)]))
        #expect(!paid.isError)
        #expect(world.seller.paidRequests.count == 1)
        // Remembered: the next payment to the same payee runs without asking.
        #expect(try !result(await world.call(city: "Rome")).isError)
        #expect(world.seller.paidRequests.count == 2)
        let history = try await world.ledger.paymentHistory(tool: "weather")
        #expect(Set(history.map { $0.payee.lowercased() }) == [oldPayee.lowercased(), FakeSeller.payee.lowercased()])
    }

    @Test("a tool that never paid has nothing to compare with: its first payee pays (allow.payees governs it)")
    func firstPaymentIsNotAChange() async throws {
        let world = try await World()
        #expect(try !result(await world.call()).isError)
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("form elicitation: the question leads with what changed")
    func elicitationNamesTheChange() async throws {
        let world = try await World()
        try await pastPayment(world, payee: oldPayee)
        let asked = LineLog()
        let channel = CallerContext.ApprovalChannel.elicitation { form async throws(MCPError) -> JSONObject in
            asked.append(form["message"]?.stringValue ?? "")
            return ["action": "accept", "content": ["approve": true]]
        }
        #expect(try !result(await world.call(channel: channel)).isError)
        #expect(asked.all.count == 1)
        #expect(asked.all.first?.hasPrefix("The payment changed: weather paid 0xf5E3… on Base Sepolia before") == true)
    }

    @Test("\"newPayee\": \"deny\" refuses a new payee and pays nothing")
    func denyRule() async throws {
        let world = try await World(changes: #", "changes": {"newPayee": "deny"}"#)
        try await pastPayment(world, payee: oldPayee)
        let refused = try result(await world.call())
        #expect(refused.structuredContent?["error"] == "payment_policy_denied")
        #expect(refused.structuredContent?["changeCode"] == "payee_new")
        #expect(world.seller.paidRequests.isEmpty)
        #expect(try await world.reservationStates() == [.committed])
    }

    @Test("a per-tool rule overrides the global one")
    func perToolRule() async throws {
        let world = try await World(
            changes: #", "changes": {"newPayee": "deny", "perTool": {"weather": {"newPayee": "allow"}}}"#)
        try await pastPayment(world, payee: oldPayee)
        #expect(try !result(await world.call()).isError)
    }

    @Test("a changed network pauses; a price above the multiple pauses; within the multiple pays")
    func networkAndPrice() async throws {
        let network = try await World()
        try await pastPayment(network, payee: FakeSeller.payee, network: "eip155:8453")
        let first = try result(await network.call())
        #expect(first.structuredContent?["error"] == "approval_required")
        #expect(
            first.structuredContent?["change"]
                == "weather paid 0x2096… on Base before; it now asks 0x2096… on Base Sepolia")

        let rules = #", "changes": {"priceAbove": {"multiple": "3", "action": "approve"}}"#
        let pricey = try await World(changes: rules)
        try await pastPayment(pricey, payee: FakeSeller.payee, amount: 3_000)  // now 10000: 3.3334×
        let above = try result(await pricey.call())
        #expect(above.structuredContent?["error"] == "approval_required")
        #expect(
            above.structuredContent?["change"]?.stringValue?.contains(
                "3.3334× the most it paid before (above the 3.00× limit)")
                == true)
        let within = try await World(changes: rules)
        try await pastPayment(within, payee: FakeSeller.payee, amount: 3_334)  // 2.9994×
        #expect(try !result(await within.call()).isError)
    }

    @Test("the pay policy sees context.payeeIsNew, context.networkChanged and context.priceRatio")
    func cedarContext() async throws {
        let policy = """
            permit (principal == Agent::"alice", action, resource);
            forbid (principal, action == Action::"pay", resource) when { context.payeeIsNew };
            forbid (principal, action == Action::"pay", resource) when { context.priceRatio.greaterThan(decimal("2.0")) };
            """
        let allowAll = #", "changes": {"newPayee": "allow", "priceAbove": {"multiple": "1", "action": "allow"}}"#
        let swapped = try await World(policy: policy, changes: allowAll)
        try await pastPayment(swapped, payee: oldPayee)
        #expect(try errorCode(await swapped.call()) == "payment_policy_denied")
        let pricey = try await World(policy: policy, changes: allowAll)
        try await pastPayment(pricey, payee: FakeSeller.payee, amount: 4_000)  // 2.5×
        #expect(try errorCode(await pricey.call()) == "payment_policy_denied")
        let same = try await World(policy: policy, changes: allowAll)
        try await pastPayment(same, payee: FakeSeller.payee, amount: 10_000)  // 1.0×, same payee
        #expect(try !result(await same.call()).isError)
    }

    @Test("a failing history read refuses ledger_unavailable before anything is signed")
    func historyReadFails() async throws {
        let world = try await World(ledger: { ledger in FaultyLedger(ledger, failAt: 1) })
        // Without an idempotency key the history read is the first ledger operation.
        #expect(try errorCode(await world.call()) == "ledger_unavailable")
        #expect(world.seller.paidRequests.isEmpty)
    }

    @Test("price ratios are exact and rounded up")
    func ratios() {
        #expect(ChangeDetectionStep.ratioScaled(10_000, over: 3_000) == 33_334)
        #expect(ChangeDetectionStep.ratioScaled(10_000, over: 10_000) == 10_000)
        #expect(ChangeDetectionStep.ratioScaled(Int64.max, over: 1) == Int64.max)
        #expect(ChangeDetectionStep.isAbove(301, 100, hundredths: 300))
        #expect(!ChangeDetectionStep.isAbove(300, 100, hundredths: 300))
        #expect(ChangeDetectionStep.isAbove(Int64.max, Int64.max / 2, hundredths: 150))
    }

    @Test("limits.json \"changes\": actions are checked with file:line:col; a multiple below 1 is refused")
    func limitsParsing() throws {
        let base = """
            {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}}},
             "allow": {"networks": [], "assets": [], "payees": "any"},
            """
        let good = try LimitsConfiguration.parse(
            Array(
                (base
                    + #" "changes": {"newPayee": "deny", "priceAbove": {"multiple": "2.5"}, "facilitators": {"allow": ["https://f.test"], "action": "deny"}, "perTool": {"weather": {"changedNetwork": "allow"}}}}"#)
                    .utf8), file: "limits.json")
        #expect(good.changeRules.newPayee == .deny)
        #expect(good.changeRules.priceMultipleHundredths == 250)
        #expect(good.changeRules.facilitators == ["https://f.test"])
        #expect(good.changeRules(for: "weather").changedNetwork == .allow)
        #expect(good.changeRules(for: "weather").newPayee == .deny)
        #expect(good.changeRules(for: "other").changedNetwork == .approve)
        #expect(
            LimitsConfiguration(assets: [:], allowedNetworks: [], allowedAssets: [], allowedPayees: .any).changeRules
                .newPayee == .approve)
        do {
            _ = try LimitsConfiguration.parse(
                Array(
                    (base + "\n \"changes\": {\"newPayee\": \"pause\", \"priceAbove\": {\"multiple\": \"0.5\"}}}").utf8),
                file: "limits.json")
            Issue.record("bad change rules accepted")
        } catch {
            let text = error.description
            #expect(text.contains("limits.json:3:26: expected \"allow\", \"approve\" or \"deny\""))
            #expect(text.contains("a price multiple is at least \"1\""))
        }
    }
}

/// The fake seller, with its offers naming a facilitator in `extra` (as some sellers do).
private struct FacilitatorNamingSeller: HTTPTransport {
    let inner: FakeSeller
    let facilitator: String

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var response = try await inner.send(request)
        guard response.status == 402, let header = response.headers["PAYMENT-REQUIRED"],
            var required = try JSONParser.parse(try Base64.decode(header)).objectValue,
            var offer = required["accepts"]?.arrayValue?.first?.objectValue, var extra = offer["extra"]?.objectValue
        else { return response }
        extra["facilitator"] = .string(facilitator)
        offer["extra"] = .object(extra)
        required["accepts"] = [.object(offer)]
        response.headers.set(
            name: "PAYMENT-REQUIRED", value: Base64.encode(JSONValue.object(required).serializedBytes()))
        return response
    }
}

@Suite("Change detection: facilitators", .serialized)
struct FacilitatorRuleTests {
    @Test(
        "an offer naming an unlisted facilitator is denied by the rule; a listed one pays; an unnamed one is not checked"
    )
    func unlistedFacilitator() async throws {
        let rules = #", "changes": {"facilitators": {"allow": ["https://f.listed.test"], "action": "deny"}}"#
        let seller = FakeSeller()
        let unlisted = try await World(
            transport: FacilitatorNamingSeller(inner: seller, facilitator: "https://f.other.test"), changes: rules)
        let refused = try result(await unlisted.call())
        #expect(refused.structuredContent?["changeCode"] == "facilitator_unlisted")
        #expect(seller.paidRequests.isEmpty)
        let listedSeller = FakeSeller()
        let listed = try await World(
            transport: FacilitatorNamingSeller(inner: listedSeller, facilitator: "https://f.listed.test"),
            changes: rules)
        #expect(try !result(await listed.call()).isError)
        #expect(listedSeller.paidRequests.count == 1)
        let unnamed = try await World(changes: rules)
        #expect(try !result(await unnamed.call()).isError)
    }
}
