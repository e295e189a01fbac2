public import JSONCore

/// One budget gate. A stable code for reports and refusals, e.g. `session_remaining`.
public struct Gate: Sendable, Hashable, CustomStringConvertible {
    /// The stable code.
    public let code: String

    private init(_ code: String) { self.code = code }

    /// The session exists, belongs to the agent, is in the asset, is active and not expired.
    public static let session = Gate("session")
    /// Network, asset and payee are on the allow lists.
    public static let allowList = Gate("allow_list")
    /// The session's cap minus what it has spent or holds.
    public static let sessionRemaining = Gate("session_remaining")
    /// The session's own per-call cap.
    public static let sessionPerCall = Gate("session_per_call")
    /// The configured per-call cap of the asset.
    public static let perCall = Gate("per_call")
    /// The configured cap for this tool within one session.
    public static let perTool = Gate("per_tool")
    /// Payments per rolling window for the agent.
    public static let velocityCount = Gate("velocity_count")
    /// Amount per rolling window for the agent.
    public static let velocityAmount = Gate("velocity_amount")
    /// Payments above the threshold need an approval (an outcome, not a refusal).
    public static let approval = Gate("approval")
    /// The session requires a spend plan: an approved, open plan of this session names the tool.
    public static let plan = Gate("plan")
    /// The plan step's largest amount per call.
    public static let planStepAmount = Gate("plan_step_amount")
    /// The plan step's number of calls.
    public static let planStepCount = Gate("plan_step_count")
    /// The plan's total.
    public static let planTotal = Gate("plan_total")

    /// The spend-plan gates (a refusal by one of them means: revise the plan).
    public static let planGates: Set<Gate> = [.plan, .planStepAmount, .planStepCount, .planTotal]

    public var description: String { code }

    /// Human name used in explanations.
    public var title: String {
        switch code {
        case "session": return "session"
        case "allow_list": return "allow list"
        case "session_remaining": return "session budget"
        case "session_per_call": return "session per-call cap"
        case "per_call": return "per-call cap"
        case "per_tool": return "per-tool cap"
        case "velocity_count": return "payments per window"
        case "velocity_amount": return "amount per window"
        case "plan": return "spend plan"
        case "plan_step_amount": return "plan step's amount per call"
        case "plan_step_count": return "plan step's calls"
        case "plan_total": return "plan total"
        default: return "approval threshold"
        }
    }
}

/// The numbers one gate compared.
///
/// A numeric gate passes when `used + requested <= limit`; `shortfall` is by how much it did not.
public struct GateCheck: Sendable, Hashable {
    /// What is compared.
    public enum Unit: String, Sendable, Hashable {
        /// Atomic units of the evaluation's asset.
        case atomic
        /// A number of payments.
        case count
        /// Not numeric (session state, allow lists): see `detail`.
        case none
    }

    /// Which gate.
    public var gate: Gate
    /// What the numbers count.
    public var unit: Unit
    /// The limit.
    public var limit: Int64
    /// Already used, including `inFlight`.
    public var used: Int64
    /// The part of `used` held by reservations not yet settled (reserved or in doubt).
    public var inFlight: Int64
    /// What this payment adds.
    public var requested: Int64
    /// Whether it passed.
    public var passed: Bool
    /// For non-numeric gates: why it failed (a code such as `revoked`, `expired`, `payee_not_allowed`).
    public var detail: String?

    /// How much `used + requested` exceeds `limit` (0 when it passed).
    public var shortfall: Int64 {
        let (total, overflow) = used.addingReportingOverflow(requested)
        if overflow { return Int64.max }
        return max(0, total - limit)
    }

    init(gate: Gate, unit: Unit, limit: Int64, used: Int64, inFlight: Int64, requested: Int64) {
        self.gate = gate
        self.unit = unit
        self.limit = limit
        self.used = used
        self.inFlight = inFlight
        self.requested = requested
        let (total, overflow) = used.addingReportingOverflow(requested)
        // Overflow can only mean "too much": fail closed.
        self.passed = !overflow && total <= limit
        self.detail = nil
    }

    init(gate: Gate, passed: Bool, detail: String?) {
        self.gate = gate
        self.unit = .none
        self.limit = 0
        self.used = 0
        self.inFlight = 0
        self.requested = 0
        self.passed = passed
        self.detail = detail
    }

    /// The check as a JSON object for the audit trail and reports.
    public var json: JSONValue {
        var object: JSONObject = ["gate": .string(gate.code), "passed": .bool(passed)]
        if unit != .none {
            object["unit"] = .string(unit.rawValue)
            object["limit"] = .number(JSONNumber(limit))
            object["used"] = .number(JSONNumber(used))
            object["inFlight"] = .number(JSONNumber(inFlight))
            object["requested"] = .number(JSONNumber(requested))
            object["shortfall"] = .number(JSONNumber(shortfall))
        }
        if let detail { object["detail"] = .string(detail) }
        return .object(object)
    }
}

/// What every gate said about one payment, evaluated together.
public struct GateEvaluation: Sendable, Hashable {
    /// The overall result.
    public enum Outcome: Sendable, Hashable {
        /// Every gate passed.
        case allowed
        /// Every limit passed; the amount needs an approval.
        case approvalRequired
        /// The first failing gate, in evaluation order.
        case refused(Gate)
    }

    /// The overall result.
    public var outcome: Outcome
    /// Every gate that applied, in evaluation order.
    public var checks: [GateCheck]
    /// Asset symbol the atomic numbers are in.
    public var asset: String
    /// Decimals of that asset (for display).
    public var decimals: Int

    /// The checks that failed (approval excluded when it is only "approval required").
    public var failures: [GateCheck] { checks.filter { !$0.passed && $0.gate != .approval } }

    /// The stable reason code: `allowed`, `approval_required`, or the refusing gate's code.
    public var reason: String {
        switch outcome {
        case .allowed: return "allowed"
        case .approvalRequired: return "approval_required"
        case .refused(let gate): return gate.code
        }
    }

    /// One line per failing check in whole units, e.g.
    /// `per-call cap: 0.60 USDC requested, limit 0.50 USDC, short by 0.10 USDC`.
    public func explanation() -> String {
        let relevant = outcome == .approvalRequired ? checks.filter { $0.gate == .approval } : failures
        guard !relevant.isEmpty else { return "all limits passed" }
        return relevant.map(describe).joined(separator: "; ")
    }

    /// A whole-unit rendering of `atomic` with the asset symbol.
    public func display(_ atomic: Int64) -> String {
        AssetAmount.format(atomic, decimals: decimals) + " " + asset
    }

    private func describe(_ check: GateCheck) -> String {
        switch check.unit {
        case .none:
            return "\(check.gate.title): \(check.detail ?? "refused")"
        case .count:
            return "\(check.gate.title): \(check.used) used (\(check.inFlight) in flight) + 1 requested, "
                + "limit \(check.limit), over by \(check.shortfall)"
        case .atomic:
            if check.gate == .approval {
                return "\(check.gate.title): \(display(check.requested)) is above \(display(check.limit))"
            }
            let usedText = check.used == 0 ? "" : ", \(display(check.used)) used (\(display(check.inFlight)) in flight)"
            return "\(check.gate.title): \(display(check.requested)) requested\(usedText), limit "
                + "\(display(check.limit)), short by \(display(check.shortfall))"
        }
    }

    /// The evaluation as a JSON object for the audit trail.
    public var json: JSONValue {
        .object([
            "outcome": .string(reason), "asset": .string(asset), "checks": .array(checks.map { $0.json }),
        ])
    }
}

/// What has already been spent or held, as read inside the reservation transaction.
struct Usage: Sendable, Hashable {
    var sessionUsed: Int64 = 0
    var sessionInFlight: Int64 = 0
    var toolUsed: Int64 = 0
    var toolInFlight: Int64 = 0
    var windowCount: Int64 = 0
    var windowCountInFlight: Int64 = 0
    var windowAmount: Int64 = 0
    var windowAmountInFlight: Int64 = 0
}

/// Pure gate arithmetic: given a request, its session, current usage and the limits, say what each gate says.
enum GateEvaluator {
    static func evaluate(
        _ request: ReservationRequest, session: PaymentSession?, usage: Usage, limits: LimitsConfiguration,
        now: Int64, plan: PlanStatus? = nil
    ) -> GateEvaluation {
        let decimals = session?.decimals ?? limits.assets[request.asset]?.decimals ?? 0
        var checks: [GateCheck] = []
        var refusal: Gate?
        func add(_ check: GateCheck) {
            checks.append(check)
            if !check.passed, check.gate != .approval, refusal == nil { refusal = check.gate }
        }

        // Session state first: a revoked or expired session refuses whatever the numbers say.
        let sessionProblem: String? =
            if let session {
                if session.agent != request.agent {
                    "wrong_agent"
                } else if session.asset != request.asset {
                    "wrong_asset"
                } else if let configured = limits.assets[request.asset]?.decimals, configured != session.decimals {
                    // The limits would be compared in other units than the session's cap: refuse.
                    "asset_decimals_changed"
                } else if session.status == .revoked {
                    "revoked"
                } else if now >= session.expiresAt {
                    "expired"
                } else {
                    nil
                }
            } else {
                "unknown_session"
            }
        add(GateCheck(gate: .session, passed: sessionProblem == nil, detail: sessionProblem))

        let allowProblem: String? =
            if request.amount <= 0 {
                "amount_not_positive"
            } else if !limits.allowedNetworks.contains(request.network) {
                "network_not_allowed"
            } else if !limits.allowedAssets.contains(request.asset) {
                "asset_not_allowed"
            } else if limits.assets[request.asset]?.contracts[request.network] == nil {
                "asset_not_on_network"
            } else if !limits.allowedPayees.allows(request.payee) {
                "payee_not_allowed"
            } else {
                nil
            }
        add(GateCheck(gate: .allowList, passed: allowProblem == nil, detail: allowProblem))

        // Spend plans: a session that requires one pays only inside an approved plan, and a payment named
        // as a plan step is held to the step and the plan's total (Ledger+Plans.swift).
        var planCovers = false
        if let session, session.requiresPlan || request.planID != nil {
            let planChecks = SpendPlan.gateChecks(
                tool: request.tool, amount: request.amount, sessionID: session.id, plan: plan, now: now)
            planChecks.forEach(add)
            planCovers = plan != nil && planChecks.allSatisfy(\.passed)
        }

        let amount = request.amount
        if let session {
            add(
                GateCheck(
                    gate: .sessionRemaining, unit: .atomic, limit: session.cap, used: usage.sessionUsed,
                    inFlight: usage.sessionInFlight, requested: amount))
            if let cap = session.perCallCap {
                add(
                    GateCheck(gate: .sessionPerCall, unit: .atomic, limit: cap, used: 0, inFlight: 0, requested: amount)
                )
            }
        }
        let assetLimits = limits.limits(for: request.asset)
        if let cap = assetLimits.perCall {
            add(GateCheck(gate: .perCall, unit: .atomic, limit: cap, used: 0, inFlight: 0, requested: amount))
        }
        if let cap = assetLimits.perTool[request.tool] {
            add(
                GateCheck(
                    gate: .perTool, unit: .atomic, limit: cap, used: usage.toolUsed, inFlight: usage.toolInFlight,
                    requested: amount))
        }
        if let velocity = assetLimits.velocity {
            if let maxPayments = velocity.maxPayments {
                add(
                    GateCheck(
                        gate: .velocityCount, unit: .count, limit: maxPayments, used: usage.windowCount,
                        inFlight: usage.windowCountInFlight, requested: 1))
            }
            if let maxAmount = velocity.maxAmount {
                add(
                    GateCheck(
                        gate: .velocityAmount, unit: .atomic, limit: maxAmount, used: usage.windowAmount,
                        inFlight: usage.windowAmountInFlight, requested: amount))
            }
        }
        var needsApproval = false
        if let threshold = assetLimits.approvalAbove {
            var check = GateCheck(
                gate: .approval, unit: .atomic, limit: threshold, used: 0, inFlight: 0, requested: amount)
            if !check.passed && request.approvalID != nil {
                check.passed = true
                check.detail = "approved"
            } else if !check.passed && planCovers {
                // The human approved the plan, amounts and counts included: its steps are not asked again.
                check.passed = true
                check.detail = "plan"
            }
            needsApproval = !check.passed
            add(check)
        }

        let outcome: GateEvaluation.Outcome =
            if let refusal { .refused(refusal) } else if needsApproval { .approvalRequired } else { .allowed }
        return GateEvaluation(outcome: outcome, checks: checks, asset: request.asset, decimals: decimals)
    }
}
