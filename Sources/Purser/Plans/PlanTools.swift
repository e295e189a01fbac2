import FoundationEssentials
import JSONCore
import Ledger
import MCP

/// Purser's own tools for spend plans: propose a plan, see its state, close it (docs/governed-call.md).
///
/// They are listed in `tools/list` only while the agent has an active session granted with
/// `--require-plan` (elsewhere a paid call needs no plan, and the listing stays as it was); they can be
/// called at any time and answer `plan_not_required` in a session that pays per call. They are not tools of
/// the catalog: no upstream, no Cedar call policy (they spend nothing; every payment they enable still passes
/// the pay policy and the gates). Input is checked strictly: unknown fields are refused, amounts are decimal
/// strings in the session's asset, counts are integers.
struct PlanTools: Sendable {
    static let proposeName = "purser_plan_propose"
    static let statusName = "purser_plan_status"
    static let closeName = "purser_plan_close"
    static let names: Set<String> = [proposeName, statusName, closeName]
    /// A plan lasts one hour after approval unless `ttl` says otherwise (never beyond the session).
    static let defaultLifetimeMilliseconds: Int64 = 3_600_000
    static let maximumLifetimeMilliseconds: Int64 = 86_400_000

    let catalog: ToolCatalog
    let environment: CallEnvironment

    // MARK: Listing

    /// True when `agent` has an active session that requires a plan.
    func apply(agent: String) async -> Bool {
        guard case .enabled(let rail) = environment.payments, rail.ledger is any PlanLedger else { return false }
        for asset in rail.limits.assets.keys.sorted() {
            do {
                if try await rail.ledger.activeSession(agent: agent, asset: asset)?.requiresPlan == true { return true }
            } catch {
                // Listing only: an unreadable ledger offers the plan tools rather than hiding them. Nothing is
                // paid here; a paid call still needs the ledger's own plan gates, which refuse when it fails.
                return true
            }
        }
        return false
    }

    /// The three tools as listed.
    var descriptions: [ToolDescription] {
        [
            ToolDescription(
                name: Self.proposeName, title: "Propose a spend plan",
                description:
                    "This session pays only for planned steps. After exploring with free tools, propose the paid calls you intend: for each paid tool its purpose, the largest amount one call may pay (maxAmount, a decimal string in the session's asset, e.g. \"0.05\") and how many calls (count); and a total. The user approves the plan once; its total is then reserved for you, and calls inside it run without asking again. A call outside it is refused: close the plan and propose a revised one.",
                inputSchema: Self.proposeSchema, annotations: ["readOnlyHint": false, "openWorldHint": false]),
            ToolDescription(
                name: Self.statusName, title: "Show the spend plan",
                description:
                    "Shows the open spend plan: whether it is approved, each step's calls used, what was spent and what it still reserves.",
                inputSchema: Self.statusSchema, annotations: ["readOnlyHint": true, "openWorldHint": false]),
            ToolDescription(
                name: Self.closeName, title: "Close the spend plan",
                description:
                    "Closes the open spend plan: outcome \"done\" when the work succeeded, \"failed\" when it did not (its payments are then recorded as wasted spend, for a refund request). What the plan did not use returns to the session.",
                inputSchema: Self.closeSchema, annotations: ["readOnlyHint": false, "openWorldHint": false]),
        ]
    }

    private static let assetProperty: JSONValue = [
        "type": "string", "minLength": 1, "maxLength": 32,
        "description": "The session's asset, e.g. USDC (needed only when the agent has sessions in several assets).",
    ]

    static let proposeSchema: JSONValue = [
        "type": "object", "additionalProperties": false, "required": ["steps", "total"],
        "properties": [
            "steps": [
                "type": "array", "minItems": 1, "maxItems": 20,
                "items": [
                    "type": "object", "additionalProperties": false,
                    "required": ["tool", "purpose", "maxAmount", "count"],
                    "properties": [
                        "tool": ["type": "string", "minLength": 1, "maxLength": 128],
                        "purpose": [
                            "type": "string", "minLength": 1, "maxLength": 200,
                            "description": "Why these calls, shown to the user who approves.",
                        ],
                        "maxAmount": [
                            "type": "string", "minLength": 1, "maxLength": 40,
                            "description": "Largest amount one call may pay, decimal string in the asset (\"0.05\").",
                        ],
                        "count": ["type": "integer", "minimum": 1, "maximum": 1000],
                    ],
                ],
            ],
            "total": [
                "type": "string", "minLength": 1, "maxLength": 40,
                "description": "The most the whole plan may pay, decimal string in the asset; reserved once approved.",
            ],
            "ttl": [
                "type": "string", "minLength": 2, "maxLength": 16,
                "description":
                    "How long the approved plan lasts, e.g. 30m or 2h (default 1h, at most 24h and the session's end).",
            ],
            "asset": assetProperty,
        ],
    ]

    static let statusSchema: JSONValue = [
        "type": "object", "additionalProperties": false, "properties": ["asset": assetProperty],
    ]

    static let closeSchema: JSONValue = [
        "type": "object", "additionalProperties": false, "required": ["outcome"],
        "properties": [
            "outcome": ["type": "string", "enum": ["done", "failed"]],
            "plan": ["type": "string", "minLength": 1, "maxLength": 64, "description": "The plan id (optional)."],
            "asset": assetProperty,
        ],
    ]

    private static let compiled: [String: JSONSchema] = {
        var compiled: [String: JSONSchema] = [:]
        for (name, document) in [(proposeName, proposeSchema), (statusName, statusSchema), (closeName, closeSchema)] {
            if case .success(let schema) = JSONSchema.compile(document) { compiled[name] = schema }
        }
        return compiled
    }()

    // MARK: Calls

    /// Runs one plan tool call. Every problem is an `isError` result with a stable code; nothing is paid.
    func call(name: String, arguments: JSONObject, caller: CallerContext) async -> ToolCallOutcome {
        switch await run(name: name, arguments: arguments, caller: caller) {
        case .success(let outcome): return outcome
        case .failure(let refusal): return .complete(refusal.result)
        }
    }

    private func run(name: String, arguments: JSONObject, caller: CallerContext) async -> Result<
        ToolCallOutcome, CallRefusal
    > {
        guard let schema = Self.compiled[name] else { return .failure(.stepOrder(step: name, signed: false)) }
        let problems = schema.validate(.object(arguments))
        guard problems.isEmpty else {
            return .failure(
                .invalidArguments(
                    tool: name,
                    problems: problems.prefix(10).map { ArgumentProblem(pointer: $0.pointer, message: $0.message) }))
        }
        let rail: PaymentRail
        let plans: any PlanLedger
        switch environment.payments {
        case .disabled(let reasons, _): return .failure(.paymentsDisabled(reasons: reasons))
        case .enabled(let enabled):
            guard let ledger = enabled.ledger as? any PlanLedger else { return .failure(.ledgerUnavailable) }
            rail = enabled
            plans = ledger
        }
        let session: PaymentSession
        switch await planSession(agent: caller.agent, asset: arguments["asset"]?.stringValue, rail: rail) {
        case .success(let found): session = found
        case .failure(let refusal): return .failure(refusal)
        }
        do {
            switch name {
            case Self.statusName:
                return .success(.complete(try await status(session: session, plans: plans, rail: rail)))
            case Self.closeName:
                return try await close(arguments: arguments, session: session, plans: plans, rail: rail)
            default:
                return try await propose(
                    arguments: arguments, caller: caller, session: session, plans: plans, rail: rail)
            }
        } catch {
            return .failure(.ledgerUnavailable)
        }
    }

    /// The agent's active session that requires a plan (in `asset`, or the only one).
    private func planSession(agent: String, asset: String?, rail: PaymentRail) async -> Result<
        PaymentSession, CallRefusal
    > {
        var active: [PaymentSession] = []
        for symbol in asset.map({ [$0] }) ?? rail.limits.assets.keys.sorted() {
            do {
                if let session = try await rail.ledger.activeSession(agent: agent, asset: symbol) {
                    active.append(session)
                }
            } catch {
                return .failure(.ledgerUnavailable)
            }
        }
        let planned = active.filter(\.requiresPlan)
        if planned.count > 1 {
            return .failure(
                .invalidArguments(
                    tool: Self.proposeName,
                    problems: [
                        ArgumentProblem(
                            pointer: "/asset",
                            message:
                                "the agent has plan sessions in \(planned.map(\.asset).joined(separator: ", ")): name the asset"
                        )
                    ]))
        }
        if let session = planned.first { return .success(session) }
        if !active.isEmpty { return .failure(.plansNotUsed) }
        return .failure(.noSession(agent: agent, asset: asset ?? rail.limits.sessionDefaults?.asset ?? "any asset"))
    }

    // MARK: Propose

    private func propose(
        arguments: JSONObject, caller: CallerContext, session: PaymentSession, plans: any PlanLedger, rail: PaymentRail
    ) async throws(LedgerError) -> Result<ToolCallOutcome, CallRefusal> {
        let digest = InputCheckStep.digest(arguments)
        // The 2026-07-28 retry with the human's answer: approve (or decline) the plan the state names.
        if let stateText = caller.requestState {
            guard let state = ApprovalRequestState.decode(stateText, key: rail.approvalKey),
                state.agent == caller.agent, state.tool == Self.proposeName, state.argumentsDigest == digest,
                state.expiresAt > rail.clock()
            else { return .failure(.approvalStateInvalid) }
            let answer = caller.inputResponses?["approval"]?.objectValue
            guard answer?["action"]?.stringValue == "accept", answer?["content"]?["approve"]?.boolValue == true else {
                _ = try await plans.closePlan(state.approvalID, outcome: .declined, by: "input_required")
                return .failure(.planDeclined(id: state.approvalID))
            }
            return try await approve(
                state.approvalID, channel: "input_required", plans: plans, rail: rail, session: session)
        }
        let parsed: (steps: [SpendPlan.Step], total: Int64, lifetime: Int64)
        switch await parse(arguments, agent: caller.agent, session: session, rail: rail) {
        case .success(let value): parsed = value
        case .failure(let found): return .failure(.invalidArguments(tool: Self.proposeName, problems: found.problems))
        }
        let plan: SpendPlan
        switch try await plans.proposePlan(
            sessionID: session.id, agent: caller.agent, steps: parsed.steps, total: parsed.total,
            argumentsDigest: digest, lifetimeMilliseconds: parsed.lifetime)
        {
        case .proposed(let proposed): plan = proposed
        case .refused(.planOpen(let open)): return .failure(.planStillOpen(id: open.id))
        case .refused(.planNotRequired): return .failure(.plansNotUsed)
        case .refused(.sessionUnusable): return .failure(.noSession(agent: caller.agent, asset: session.asset))
        case .refused(.exceedsSession(let remaining)):
            return .failure(
                .planExceedsSession(
                    total: display(parsed.total, session), remaining: display(remaining, session)))
        }
        let form = approvalForm(plan, session: session)
        switch caller.approvalChannel {
        case .elicitation(let elicit):
            let answer: JSONObject
            do {
                answer = try await elicit(form)
            } catch {
                _ = try await plans.closePlan(plan.id, outcome: .declined, by: "elicitation")
                return .failure(.approvalRequestFailed(message: error.message))
            }
            guard answer["action"]?.stringValue == "accept", answer["content"]?["approve"]?.boolValue == true else {
                _ = try await plans.closePlan(plan.id, outcome: .declined, by: "elicitation")
                return .failure(.planDeclined(id: plan.id))
            }
            return try await approve(plan.id, channel: "elicitation", plans: plans, rail: rail, session: session)
        case .inputRequired:
            let state = ApprovalRequestState(
                approvalID: plan.id, agent: caller.agent, tool: Self.proposeName, argumentsDigest: digest,
                amountAtomic: plan.total, payee: "", expiresAt: rail.clock() + 300)
            return .success(
                .inputRequired(
                    inputRequests: ["approval": ["method": "elicitation/create", "params": .object(form)]],
                    requestState: state.encode(key: rail.approvalKey)))
        case .fallbackToken:
            let status = PlanStatus(plan: plan, usage: PlanUsage(), decimals: session.decimals)
            var structured = Self.json(status, now: rail.clock() * 1000)
            structured["approvalCommand"] = .string("purser approve \(plan.id)")
            return .success(
                .complete(
                    .text(
                        "Plan \(plan.id) is recorded and needs the user's approval before any paid call: ask the user to run `purser approve \(plan.id)`, then check it with \(Self.statusName). Until then paid calls are refused.",
                        structured: .object(structured))))
        }
    }

    private func approve(
        _ id: String, channel: String, plans: any PlanLedger, rail: PaymentRail, session: PaymentSession
    ) async throws(LedgerError) -> Result<ToolCallOutcome, CallRefusal> {
        let now = rail.clock() * 1000
        switch try await plans.approvePlan(id, by: channel) {
        case .approved(let status), .alreadyApproved(let status):
            return .success(
                .complete(.text(Self.sentence(status, now: now), structured: .object(Self.json(status, now: now)))))
        case .unknownPlan: return .failure(.planNotApproved(id: id, reason: "no such plan"))
        case .closed(let plan):
            return .failure(.planNotApproved(id: id, reason: "it is closed (\(plan.outcome?.rawValue ?? "closed"))"))
        case .expired: return .failure(.planNotApproved(id: id, reason: "the approval came after its deadline"))
        case .sessionUnusable(_, let problem):
            return .failure(.planNotApproved(id: id, reason: "the session is \(problem)"))
        case .exceedsSession(let plan, let remaining):
            return .failure(
                .planExceedsSession(total: display(plan.total, session), remaining: display(remaining, session)))
        }
    }

    /// The proposal's steps, total and lifetime, or every problem with its JSON Pointer.
    private func parse(_ arguments: JSONObject, agent: String, session: PaymentSession, rail: PaymentRail) async
        -> Result<(steps: [SpendPlan.Step], total: Int64, lifetime: Int64), ProposalProblems>
    {
        var problems: [ArgumentProblem] = []
        func amount(_ text: String?, at pointer: String) -> Int64? {
            guard let text else { return nil }
            switch AssetAmount.parse(text, decimals: session.decimals) {
            case .success(let value) where value > 0: return value
            case .success: problems.append(ArgumentProblem(pointer: pointer, message: "an amount must be above 0"))
            case .failure(let error):
                problems.append(
                    ArgumentProblem(
                        pointer: pointer, message: "\(error.message) (a decimal string in \(session.asset))"))
            }
            return nil
        }
        let perCall = [session.perCallCap, rail.limits.limits(for: session.asset).perCall].compactMap { $0 }.min()
        var steps: [SpendPlan.Step] = []
        var seen = Set<String>()
        var most: Int64 = 0
        for (index, item) in (arguments["steps"]?.arrayValue ?? []).enumerated() {
            let here = "/steps/\(index)"
            guard let object = item.objectValue, let tool = object["tool"]?.stringValue,
                let purpose = object["purpose"]?.stringValue, let count = object["count"]?.int64Value
            else { continue }
            if let manifest = catalog.manifest(named: tool),
                await environment.authorizer.mayEverCall(agent: agent, tool: manifest)
            {
                if !seen.insert(tool).inserted {
                    problems.append(
                        ArgumentProblem(
                            pointer: here + "/tool", message: "\(tool) is already a step: one step per tool"))
                }
            } else {
                problems.append(ArgumentProblem(pointer: here + "/tool", message: "\(tool) is not a tool you can call"))
            }
            if purpose.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                problems.append(ArgumentProblem(pointer: here + "/purpose", message: "no control characters"))
            }
            guard let maximum = amount(object["maxAmount"]?.stringValue, at: here + "/maxAmount") else { continue }
            if let perCall, maximum > perCall {
                problems.append(
                    ArgumentProblem(
                        pointer: here + "/maxAmount",
                        message:
                            "\(display(maximum, session)) is above the per-call cap of \(display(perCall, session))"
                    ))
            }
            let (product, overflow) = maximum.multipliedReportingOverflow(by: count)
            let (sum, sumOverflow) = most.addingReportingOverflow(product)
            most = overflow || sumOverflow ? .max : sum
            steps.append(SpendPlan.Step(tool: tool, purpose: purpose, maxAmount: maximum, count: count))
        }
        let total = amount(arguments["total"]?.stringValue, at: "/total")
        if let total, problems.isEmpty, total > most {
            problems.append(
                ArgumentProblem(
                    pointer: "/total",
                    message:
                        "\(display(total, session)) is more than the steps can spend (\(display(most, session)): maxAmount × count, summed)"
                ))
        }
        var lifetime = Self.defaultLifetimeMilliseconds
        if let text = arguments["ttl"]?.stringValue {
            if let parsed = parseDurationMilliseconds(text), parsed > 0, parsed <= Self.maximumLifetimeMilliseconds {
                lifetime = parsed
            } else {
                problems.append(
                    ArgumentProblem(pointer: "/ttl", message: "expected a duration like 30m or 2h, at most 24h"))
            }
        }
        guard problems.isEmpty, let total else { return .failure(ProposalProblems(problems: problems)) }
        return .success((steps, total, lifetime))
    }

    /// Every problem of a proposal.
    struct ProposalProblems: Error {
        var problems: [ArgumentProblem]
    }

    // MARK: Status and close

    private func status(session: PaymentSession, plans: any PlanLedger, rail: PaymentRail) async throws(LedgerError)
        -> ToolResult
    {
        let now = rail.clock() * 1000
        guard let current = try await plans.currentPlan(session: session.id) else {
            return .text(
                "There is no open plan. Paid calls in this session need one: propose it with \(Self.proposeName).",
                structured: ["state": "none", "session": .string(session.id)])
        }
        return .text(Self.sentence(current, now: now), structured: .object(Self.json(current, now: now)))
    }

    private func close(arguments: JSONObject, session: PaymentSession, plans: any PlanLedger, rail: PaymentRail)
        async throws(LedgerError) -> Result<ToolCallOutcome, CallRefusal>
    {
        guard let current = try await plans.currentPlan(session: session.id),
            arguments["plan"]?.stringValue.map({ $0 == current.plan.id }) ?? true
        else { return .failure(.noOpenPlan) }
        let outcome: SpendPlan.Outcome = arguments["outcome"]?.stringValue == "failed" ? .failed : .done
        switch try await plans.closePlan(current.plan.id, outcome: outcome, by: "agent") {
        case .closed(let status, let returned):
            var structured = Self.json(status, now: rail.clock() * 1000)
            structured["returned"] = .string(AssetAmount.format(returned, decimals: status.decimals))
            let wasted =
                outcome == .failed && status.usage.settled > 0
                ? " Its spend of \(Self.amount(status.usage.settled, status)) is recorded as wasted (purser report lists the receipts)."
                : ""
            return .success(
                .complete(
                    .text(
                        "Plan \(status.plan.id) is closed (\(outcome.rawValue)). \(Self.amount(returned, status)) it did not use is back in the session; \(Self.amount(status.usage.settled, status)) spent and \(Self.amount(status.usage.held, status)) still held stay counted.\(wasted)",
                        structured: .object(structured))))
        case .alreadyClosed, .unknownPlan: return .failure(.noOpenPlan)
        }
    }

    // MARK: Words and JSON

    private func display(_ atomic: Int64, _ session: PaymentSession) -> String {
        AssetAmount.format(atomic, decimals: session.decimals) + " " + session.asset
    }

    private static func amount(_ atomic: Int64, _ status: PlanStatus) -> String {
        AssetAmount.format(atomic, decimals: status.decimals) + " " + status.plan.asset
    }

    /// The question the human answers: every step with its purpose, maximum and count, and the total.
    private func approvalForm(_ plan: SpendPlan, session: PaymentSession) -> JSONObject {
        let steps = plan.steps.map {
            "\($0.tool): up to \(display($0.maxAmount, session)) per call, \($0.count) call\($0.count == 1 ? "" : "s") (\($0.purpose))"
        }.joined(separator: "; ")
        let message =
            "Approve this spend plan for \(plan.agent)? Total \(display(plan.total, session)), reserved from the session now. Steps: \(steps). Calls inside the plan will not ask again."
        return [
            "mode": "form", "message": .string(message),
            "requestedSchema": [
                "type": "object", "properties": ["approve": ["type": "boolean", "title": "Approve this plan"]],
                "required": ["approve"],
            ],
        ]
    }

    static func stateName(_ status: PlanStatus, now: Int64) -> String {
        if status.plan.state == .closed { return "closed" }
        return now >= status.plan.expiresAt ? "expired" : status.plan.state.rawValue
    }

    static func sentence(_ status: PlanStatus, now: Int64) -> String {
        let plan = status.plan
        let steps = plan.steps.map { "\($0.tool) \(status.usage.byTool[$0.tool]?.payments ?? 0) of \($0.count)" }
            .joined(separator: ", ")
        switch stateName(status, now: now) {
        case "approved":
            return
                "Plan \(plan.id) is approved: calls inside it run without asking again. Calls used: \(steps). Spent \(amount(status.usage.settled, status)), held \(amount(status.usage.held, status)), \(amount(status.unused(at: now), status)) still reserved of \(amount(plan.total, status))."
        case "proposed":
            return
                "Plan \(plan.id) is waiting for the user's approval (purser approve \(plan.id)). Paid calls are refused until then."
        case "expired":
            return
                "Plan \(plan.id) has expired: close it with \(closeName) and propose a new one for further paid calls."
        default:
            return "Plan \(plan.id) is closed (\(plan.outcome?.rawValue ?? "closed"))."
        }
    }

    static func json(_ status: PlanStatus, now: Int64) -> JSONObject {
        let plan = status.plan
        let format = { (atomic: Int64) in JSONValue.string(AssetAmount.format(atomic, decimals: status.decimals)) }
        var object: JSONObject = [
            "plan": .string(plan.id), "state": .string(stateName(status, now: now)), "asset": .string(plan.asset),
            "total": format(plan.total), "spent": format(status.usage.settled), "held": format(status.usage.held),
            "reserved": format(status.unused(at: now)), "expiresAt": .string(isoTime(plan.expiresAt)),
            "steps": .array(
                plan.steps.map {
                    [
                        "tool": .string($0.tool), "purpose": .string($0.purpose), "maxAmount": format($0.maxAmount),
                        "count": .number(JSONNumber($0.count)),
                        "used": .number(JSONNumber(status.usage.byTool[$0.tool]?.payments ?? 0)),
                    ]
                }),
        ]
        if let outcome = plan.outcome { object["outcome"] = .string(outcome.rawValue) }
        return object
    }

    private static func isoTime(_ milliseconds: Int64) -> String {
        // `2026-01-31T12:00:00Z`, as ISO8601DateFormatter wrote it (UTC, whole seconds).
        Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000)).formatted(Date.ISO8601FormatStyle())
    }
}
