import Foundation
import Ledger
import Purser

/// `purser approve ID`: the end user's approval of one pending payment (the fallback approval flow).
///
/// The agent cannot run this: it needs the state home, which is out of the agent's reach. The approval is
/// bound to the agent, tool, arguments digest, amount and payee it was created for, and works once.
struct ApproveCommand: Subcommand {
    static let name = "approve"
    static let summary = "approve one pending payment by its approval id (single use)"
    static let usage = "purser approve APPROVAL_ID [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let configuration = try LedgerHome.configuration(&arguments)
        let id = try arguments.positional("the approval id")
        try arguments.finish()
        let ledger = try LedgerHome.open(configuration, create: false)
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

    private static func decimals(_ ledger: Ledger, _ approval: Approval) async throws -> Int {
        try await ledger.sessions().first { $0.session.agent == approval.agent && $0.session.asset == approval.asset }?
            .session.decimals ?? 6
    }
}
