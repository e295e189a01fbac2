import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Testing
import X402

@testable import Purser

/// A second paid tool on the same seller, for "a tool outside the plan".
private let forecastManifest = World.weatherManifest.replacingOccurrences(
    of: #""name": "weather""#, with: #""name": "forecast""#)

/// `weather` costs 0.01; `approvalAbove` 0.005 makes every unplanned payment ask, so "no question" is visible.
private func planWorld(
    requirePlan: Bool = true, policy: String = "permit (principal == Agent::\"alice\", action, resource);",
    transport: (any HTTPTransport)? = nil, seller: FakeSeller = FakeSeller()
) async throws -> World {
    try await World(
        seller: seller, approvalAbove: "0.005", policy: policy, transport: transport, requirePlan: requirePlan,
        extraManifests: [forecastManifest])
}

private func planCall(
    _ world: World, _ name: String, _ arguments: JSONObject, channel: CallerContext.ApprovalChannel = .fallbackToken,
    requestState: String? = nil, inputResponses: JSONObject? = nil
) async -> ToolCallOutcome {
    await world.pipeline.planTools.call(
        name: name, arguments: arguments,
        caller: CallerContext(
            agent: "alice", requestState: requestState, inputResponses: inputResponses, approvalChannel: channel))
}

private func proposal(maxAmount: String = "0.01", count: Int = 2, total: String = "0.02", tool: String = "weather")
    -> JSONObject
{
    [
        "steps": [
            [
                "tool": .string(tool), "purpose": "forecasts", "maxAmount": .string(maxAmount),
                "count": .number(JSONNumber(count)),
            ]
        ],
        "total": .string(total),
    ]
}

/// Proposes through the fallback channel and approves as the end user; returns the plan id.
private func approvedPlan(_ world: World, _ arguments: JSONObject = proposal()) async throws -> String {
    let proposed = try result(await planCall(world, PlanTools.proposeName, arguments))
    #expect(!proposed.isError, "\(proposed)")
    let id = try #require(proposed.structuredContent?["plan"]?.stringValue)
    guard case .approved = try await world.ledger.approvePlan(id, by: "end_user") else {
        Issue.record("not approved")
        throw CocoaError(.featureUnsupported)
    }
    return id
}

private func remaining(_ world: World) async throws -> Int64 {
    try #require(try await world.ledger.sessions().first { $0.session.id == world.session.id }).remaining
}

@Suite("Spend plans: explore, then spend", .serialized)
struct SpendPlanTests {
    @Test("a --require-plan session refuses an unplanned paid call, telling the model to propose a plan; nothing paid")
    func unplannedRefused() async throws {
        let world = try await planWorld()
        let refused = try result(await world.call())
        #expect(refused.structuredContent?["error"] == "plan_required")
        #expect(refused.content.first?["text"]?.stringValue?.contains(PlanTools.proposeName) == true)
        #expect(world.seller.paidRequests.isEmpty)
        #expect(try await world.reservationStates().isEmpty)
    }

    @Test("free tools always work in a --require-plan session")
    func freeToolWorks() async throws {
        let world = try await planWorld(
            transport: ScriptedTransport { _ in
                HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: Array(#"{"t":1}"#.utf8))
            })
        #expect(try !result(await world.call()).isError)
    }

    @Test(
        "a session without the flag behaves as before: no plan needed, plan tools not listed and answered plan_not_required"
    )
    func sessionsWithoutFlag() async throws {
        let world = try await planWorld(requirePlan: false)
        let asked = try result(await world.call())
        #expect(asked.structuredContent?["error"] == "approval_required")  // above 0.005, as without plans
        let provider = PurserToolProvider(pipeline: world.pipeline, agent: "alice")
        let names = await provider.tools(for: ClientDescription(info: nil, capabilities: [:])).map(\.name)
        #expect(names == ["forecast", "weather"])
        #expect(try errorCode(await planCall(world, PlanTools.proposeName, proposal())) == "plan_not_required")
        let planned = try await planWorld()
        let listed = await PurserToolProvider(pipeline: planned.pipeline, agent: "alice").tools(
            for: ClientDescription(info: nil, capabilities: [:])
        ).map(\.name)
        #expect(listed == ["forecast", "weather", PlanTools.proposeName, PlanTools.statusName, PlanTools.closeName])
    }

    @Test(
        "a ledger that cannot be read while listing offers the plan tools (a decided outcome); a readable one without the flag does not"
    )
    func unreadableLedgerListsPlanTools() async throws {
        let client = ClientDescription(info: nil, capabilities: [:])
        let readable = try await World(ledger: { FaultyLedger($0, failAt: 0) }, requirePlan: false)
        let plain = await PurserToolProvider(pipeline: readable.pipeline, agent: "alice").tools(for: client)
        #expect(plain.map { $0.name } == ["weather"])

        let box = FaultyLedgerBox()
        let world = try await World(ledger: { box.make($0, failAt: 1) }, requirePlan: false)
        let listed = await PurserToolProvider(pipeline: world.pipeline, agent: "alice").tools(for: client)
        let planTools = [PlanTools.proposeName, PlanTools.statusName, PlanTools.closeName]
        #expect(listed.map { $0.name } == ["weather"] + planTools)
        #expect(box.ledger?.failedOperations == ["activeSession"])
        // Offering them pays nothing: a plan tool still needs the ledger, and says it is unavailable.
        let failing = FaultyLedgerBox()
        let proposing = try await World(ledger: { failing.make($0, failAt: 1) }, requirePlan: false)
        let proposed = await proposing.pipeline.planTools.call(
            name: PlanTools.proposeName, arguments: proposal(), caller: CallerContext(agent: "alice"))
        #expect(try errorCode(proposed) == "ledger_unavailable")
    }

    @Test("fallback: a proposed plan waits for purser approve; once approved its steps run without asking again")
    func approvedStepsRunUnasked() async throws {
        let world = try await planWorld()
        let proposed = try result(await planCall(world, PlanTools.proposeName, proposal()))
        let id = try #require(proposed.structuredContent?["plan"]?.stringValue)
        #expect(proposed.structuredContent?["state"] == "proposed")
        #expect(proposed.structuredContent?["approvalCommand"] == .string("purser approve \(id)"))
        let pending = try result(await world.call())
        #expect(
            pending.structuredContent?["error"] == "plan_required" && pending.structuredContent?["plan"] == .string(id))
        #expect(try await remaining(world) == 1_000_000)  // proposed reserves nothing
        guard case .approved = try await world.ledger.approvePlan(id, by: "end_user") else {
            Issue.record("not approved")
            return
        }
        #expect(try await remaining(world) == 980_000)  // the total, reserved at approval
        // 0.01 is above approvalAbove (0.005): outside a plan this asks; inside it does not.
        let first = try result(await world.call())
        #expect(!first.isError, "\(first)")
        let receipt = try #require(first.meta?["com.purser/receipt"])
        #expect(receipt["plan"] == .string(id) && receipt["planRemaining"] == "0.01")
        #expect(receipt["sessionRemaining"] == "0.98")
        #expect(try !result(await world.call(city: "Rome")).isError)
        #expect(world.seller.paidRequests.count == 2)
        let approvals = try await world.ledger.auditRecords().filter { $0.kind.hasPrefix("approval.") }
        #expect(approvals.isEmpty)
        // The step's count is used up: the third call is beyond the plan.
        let beyond = try result(await world.call(city: "Oslo"))
        #expect(beyond.structuredContent?["error"] == "outside_plan")
        #expect(beyond.structuredContent?["gate"] == "plan_step_count")
        #expect(beyond.content.first?["text"]?.stringValue?.contains("Revise the plan") == true)
        #expect(world.seller.paidRequests.count == 2)
    }

    @Test("beyond the plan: another tool, or a price above the step's maximum, is refused outside_plan")
    func outsideThePlan() async throws {
        let world = try await planWorld()
        _ = try await approvedPlan(world, proposal(maxAmount: "0.005", count: 4, total: "0.02"))
        let pricey = try result(await world.call())
        #expect(pricey.structuredContent?["error"] == "outside_plan")
        #expect(pricey.structuredContent?["gate"] == "plan_step_amount")
        #expect(pricey.structuredContent?["limit"] == "0.005 USDC")
        let other = try result(await world.call(tool: "forecast"))
        #expect(other.structuredContent?["planReason"] == "tool_not_in_plan")
        #expect(world.seller.paidRequests.isEmpty)
    }

    @Test("the plan's total caps its steps even when counts are left")
    func totalCaps() async throws {
        let world = try await planWorld()
        _ = try await approvedPlan(world, proposal(maxAmount: "0.01", count: 3, total: "0.015"))
        #expect(try !result(await world.call()).isError)
        let refused = try result(await world.call(city: "Rome"))
        #expect(refused.structuredContent?["gate"] == "plan_total")
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("closing returns the unused reservation; a failed plan's spend is wasted with its receipt")
    func closeReturnsUnused() async throws {
        let world = try await planWorld()
        let id = try await approvedPlan(world, proposal(count: 3, total: "0.03"))
        let paid = try result(await world.call())
        let receipt = try #require(paid.meta?["com.purser/receipt"]?["receiptId"]?.stringValue)
        #expect(try await remaining(world) == 970_000)
        let closed = try result(await planCall(world, PlanTools.closeName, ["outcome": "failed"]))
        #expect(!closed.isError)
        #expect(closed.structuredContent?["returned"] == "0.02")
        #expect(try await remaining(world) == 990_000)  // the 0.01 paid stays spent
        let wasted = try await world.ledger.wastedPayments()
        #expect(wasted.map(\.receiptID) == [receipt] && wasted.first?.reason == "plan_failed")
        #expect(wasted.first?.plan == id)
        // Closed: paid calls need a new plan again; closing twice finds no plan.
        #expect(try errorCode(await world.call()) == "plan_required")
        #expect(try errorCode(await planCall(world, PlanTools.closeName, ["outcome": "done"])) == "no_plan")
    }

    @Test("form elicitation: accepting approves and reserves; declining closes the plan (approval_declined)")
    func elicitation() async throws {
        let world = try await planWorld()
        let asked = LineLog()
        let accept = CallerContext.ApprovalChannel.elicitation { form async throws(MCPError) -> JSONObject in
            asked.append(form["message"]?.stringValue ?? "")
            return ["action": "accept", "content": ["approve": true]]
        }
        let approved = try result(await planCall(world, PlanTools.proposeName, proposal(), channel: accept))
        #expect(approved.structuredContent?["state"] == "approved")
        #expect(asked.all.first?.contains("weather: up to 0.01 USDC per call, 2 calls (forecasts)") == true)
        #expect(try !result(await world.call()).isError)
        _ = try result(await planCall(world, PlanTools.closeName, ["outcome": "done"]))
        let decline = CallerContext.ApprovalChannel.elicitation { _ async throws(MCPError) -> JSONObject in
            ["action": "decline"]
        }
        let declined = try result(await planCall(world, PlanTools.proposeName, proposal(), channel: decline))
        #expect(declined.structuredContent?["error"] == "approval_declined")
        #expect(try errorCode(await world.call(city: "Rome")) == "plan_required")
        let status = try result(await planCall(world, PlanTools.statusName, [:]))
        #expect(status.structuredContent?["state"] == "none")
    }

    @Test("input_required: the retry with the accepted answer approves; a tampered state is refused")
    func inputRequired() async throws {
        let world = try await planWorld()
        let first = await planCall(world, PlanTools.proposeName, proposal(), channel: .inputRequired)
        guard case .inputRequired(let requests, let state) = first else {
            Issue.record("expected input_required, got \(first)")
            return
        }
        #expect(requests["approval"]?["method"] == "elicitation/create")
        let accept: JSONObject = ["approval": ["action": "accept", "content": ["approve": true]]]
        let tampered = try result(
            await planCall(
                world, PlanTools.proposeName, proposal(), channel: .inputRequired, requestState: state + "0",
                inputResponses: accept))
        #expect(tampered.structuredContent?["error"] == "approval_invalid")
        // The state is bound to the proposal: other arguments do not approve it.
        let other = try result(
            await planCall(
                world, PlanTools.proposeName, proposal(count: 1, total: "0.01"), channel: .inputRequired,
                requestState: state, inputResponses: accept))
        #expect(other.structuredContent?["error"] == "approval_invalid")
        let approved = try result(
            await planCall(
                world, PlanTools.proposeName, proposal(), channel: .inputRequired, requestState: state,
                inputResponses: accept))
        #expect(approved.structuredContent?["state"] == "approved", "\(approved)")
        #expect(try !result(await world.call()).isError)
        let plan = try #require(try await world.ledger.auditRecords().first { $0.kind == "plan.approve" })
        #expect(plan.payloadJSON?["by"] == "input_required")
    }

    @Test("proposals are validated strictly: unknown fields, numbers for amounts, duplicates, totals, unknown tools")
    func strictValidation() async throws {
        let world = try await planWorld()
        func problems(_ arguments: JSONObject) async throws -> String {
            let refused = try result(await planCall(world, PlanTools.proposeName, arguments))
            #expect(refused.structuredContent?["error"] == "invalid_arguments")
            return refused.content.first?["text"]?.stringValue ?? ""
        }
        var unknown = proposal()
        unknown["budget"] = "1"
        #expect(try await problems(unknown).contains("budget"))
        let number = try #require(
            try JSONParser.parse(
                Array(
                    #"{"steps": [{"tool": "weather", "purpose": "p", "maxAmount": 0.01, "count": 1}], "total": "0.01"}"#
                        .utf8)
            ).objectValue)
        #expect(try await !problems(number).isEmpty)
        let step: JSONValue = ["tool": "weather", "purpose": "p", "maxAmount": "0.01", "count": 1]
        #expect(try await problems(["steps": [step, step], "total": "0.02"]).contains("one step per tool"))
        #expect(try await problems(proposal(total: "0.03")).contains("more than the steps can spend"))
        #expect(try await problems(proposal(tool: "nonexistent")).contains("not a tool you can call"))
        #expect(try await problems(proposal(maxAmount: "0.0000001")).contains("USDC"))
        #expect(try await problems(proposal(maxAmount: "2.00", total: "2.00")).contains("per-call cap"))
        #expect(try await world.ledger.auditRecords().filter { $0.kind == "plan.propose" }.isEmpty)
    }

    @Test("one open plan at a time: a second proposal names the open one (plan_open)")
    func oneOpenPlan() async throws {
        let world = try await planWorld()
        let id = try await approvedPlan(world)
        let second = try result(await planCall(world, PlanTools.proposeName, proposal()))
        #expect(second.structuredContent?["error"] == "plan_open" && second.structuredContent?["plan"] == .string(id))
    }

    @Test("the pay policy sees context.inPlan")
    func cedarInPlan() async throws {
        let policy = """
            permit (principal == Agent::"alice", action, resource);
            forbid (principal, action == Action::"pay", resource) when { context.inPlan };
            """
        let world = try await planWorld(policy: policy)
        _ = try await approvedPlan(world)
        #expect(try errorCode(await world.call()) == "payment_policy_denied")
        let plain = try await planWorld(requirePlan: false, policy: policy)
        #expect(try errorCode(await plain.call()) == "approval_required")  // not in a plan: the forbid is silent
    }

    @Test("context.session counts the plan's unused reservation as held")
    func sessionFactsCountPlan() async throws {
        let policy = """
            permit (principal == Agent::"alice", action, resource);
            forbid (principal, action == Action::"pay", resource)
            when { context has session && context.session.held.greaterThan(decimal("0.015")) };
            """
        let world = try await planWorld(policy: policy)
        _ = try await approvedPlan(world)  // reserves 0.02, all unused before the first step
        #expect(try errorCode(await world.call()) == "payment_policy_denied")
    }

    @Test("explain shows the plan's proposal and approval with the payment")
    func explainShowsPlan() async throws {
        let world = try await planWorld()
        let id = try await approvedPlan(world)
        let paid = try result(await world.call())
        let receipt = try #require(paid.meta?["com.purser/receipt"]?["receiptId"]?.stringValue)
        guard case .success(let explanation) = try await world.ledger.explain(receipt) else {
            Issue.record("no explanation")
            return
        }
        let kinds = explanation.steps.map(\.kind)
        #expect(kinds.contains("plan.propose") && kinds.contains("plan.approve"))
        #expect(explanation.steps.first { $0.kind == "plan.approve" }?.payload["by"] == "end_user")
        #expect(explanation.steps.first { $0.kind == "call" }?.payload["plan"] == .string(id))
        #expect(explanation.steps.first { $0.kind == "reserve" }?.payload["plan"] == .string(id))
        #expect(try await world.ledger.verify().isValid)
    }

    @Test("a manifest cannot take a purser_ name")
    func reservedNames() {
        let text = World.weatherManifest.replacingOccurrences(
            of: #""name": "weather""#, with: #""name": "purser_plan_close""#)
        let (manifest, problems) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "x.json")
        #expect(manifest == nil)
        #expect(problems.contains { $0.message.contains("reserved") })
    }
}
