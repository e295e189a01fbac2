import FoundationEssentials
import Ledger
import Purser

/// `purser approve ID`: the end user's approval of one pending payment (the fallback approval flow).
///
/// The agent cannot run this: it needs the state home, which is out of the agent's reach. The approval is
/// bound to the agent, tool, arguments digest, amount and payee it was created for, and works once.
struct ApproveCommand: Subcommand {
    static let name = "approve"
    static let summary = "approve one pending payment (apr_…, single use) or spend plan (pln_…)"
    static let usage = "purser approve APPROVAL_ID|PLAN_ID [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let configuration = try LedgerHome.configuration(&arguments)
        let id = try arguments.positional("the approval id")
        try arguments.finish()
        let ledger = try LedgerHome.open(configuration, create: false)
        if id.hasPrefix("pln_") { return try await approvePlan(id, ledger: ledger) }
        guard let approval = try await ledger.approval(id: id) else {
            printError("purser approve: no approval \(id)")
            return 1
        }
        guard try await ledger.approve(id) else {
            printError("purser approve: \(id) is \(approval.state.rawValue) or expired; nothing changed")
            return 1
        }
        printOut(
            "approved \(id): \(approval.agent) may pay \(AssetAmount.format(approval.amount, decimals: try await decimals(ledger, approval))) \(approval.asset) to \(approval.payee) for \(approval.tool), once"
        )
        return 0
    }

    /// A spend plan (`pln_…`): approving reserves its total from the session at once.
    private static func approvePlan(_ id: String, ledger: Ledger) async throws -> Int32 {
        let outcome = try await ledger.approvePlan(id, by: "end_user")
        switch outcome {
        case .approved(let status), .alreadyApproved(let status):
            let plan = status.plan
            let show = { (atomic: Int64) in LedgerHome.display(atomic, decimals: status.decimals, asset: plan.asset) }
            let steps = plan.steps.map { "\($0.tool) up to \(show($0.maxAmount)) × \($0.count)" }.joined(
                separator: ", ")
            let already = if case .alreadyApproved = outcome { " (already approved)" } else { "" }
            printOut(
                "approved plan \(id)\(already): \(plan.agent) may pay \(steps), at most \(show(plan.total)) in all (reserved now) until \(LedgerHome.time(plan.expiresAt))"
            )
            return 0
        case .unknownPlan: printError("purser approve: no plan \(id)")
        case .closed(let plan):
            printError("purser approve: plan \(id) is closed (\(plan.outcome?.rawValue ?? "closed")); nothing changed")
        case .expired:
            printError("purser approve: plan \(id) waited too long and has expired; the agent must propose it again")
        case .sessionUnusable(_, let problem):
            printError("purser approve: the plan's session is \(problem); nothing changed")
        case .exceedsSession(let plan, let remaining):
            printError(
                "purser approve: plan \(id) reserves \(plan.total) atomic \(plan.asset) but the session has \(remaining) left; nothing changed"
            )
        }
        return 1
    }

    private static func decimals(_ ledger: Ledger, _ approval: Approval) async throws -> Int {
        try await ledger.sessions().first { $0.session.agent == approval.agent && $0.session.asset == approval.asset }?
            .session.decimals ?? 6
    }
}
