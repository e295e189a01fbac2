import JSONCore
import Ledger

/// The spend-plans section of `purser report`: each plan with its state, total, what its payments spent
/// and hold, and what it still reserves from its session.
extension ReportCommand {
    /// A plan's state in words: `proposed`, `approved`, `approved, expired` (its time ran out; it is closed as
    /// expired at the session's next plan operation), or `closed: OUTCOME`.
    static func planState(_ plan: SpendPlan, now: Int64) -> String {
        switch plan.state {
        case .closed: return "closed: " + (plan.outcome?.rawValue ?? "unknown")
        case .approved where now >= plan.expiresAt: return "approved, expired"
        case .proposed, .approved: return plan.state.rawValue
        }
    }

    static func plansText(_ plans: [PlanStatus], now: Int64) -> String {
        let title = "Spend plans (newest first)"
        guard !plans.isEmpty else { return title + "\n(none)" }
        let rows = plans.map { status -> [String] in
            let plan = status.plan
            let amount = { (atomic: Int64) in LedgerHome.display(atomic, decimals: status.decimals, asset: plan.asset) }
            return [
                plan.id, plan.agent, planState(plan, now: now), amount(plan.total), amount(status.usage.settled),
                amount(status.usage.held), amount(status.unused(at: now)),
            ]
        }
        return title + "\n"
            + LedgerHome.table(["PLAN", "AGENT", "STATE", "TOTAL", "SPENT", "HELD", "RESERVED"], rows)
    }

    static func plansJSON(_ plans: [PlanStatus], now: Int64) -> JSONValue {
        .array(
            plans.map { status in
                let plan = status.plan
                func amount(_ atomic: Int64) -> JSONValue {
                    .string(AssetAmount.format(atomic, decimals: status.decimals))
                }
                return [
                    "plan": .string(plan.id), "session": .string(plan.sessionID), "agent": .string(plan.agent),
                    "asset": .string(plan.asset), "state": .string(plan.state.rawValue),
                    "outcome": plan.outcome.map { .string($0.rawValue) } ?? .null,
                    "total": amount(plan.total), "spent": amount(status.usage.settled),
                    "held": amount(status.usage.held), "reserved": amount(status.unused(at: now)),
                    "payments": .number(JSONNumber(status.usage.reservations.count)),
                ]
            })
    }
}
