import Ledger
import Purser

/// `purser ledger verify`: checks the hash-chained audit trail and names the first bad record.
struct LedgerCommand: Subcommand {
    static let name = "ledger"
    static let summary = "verify the ledger's hash-chained audit trail"
    static let usage = "purser ledger verify [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("action (verify)")
        guard action == "verify" else { throw UsageError(description: "unknown action '\(action)'") }
        let configuration = try LedgerHome.configuration(&arguments)
        try arguments.finish()
        let ledger = try LedgerHome.open(configuration, create: false)
        let verification = try await ledger.verify()
        if let problem = verification.problem {
            printError("purser ledger verify: FAILED at \(problem) (\(verification.records) records read)")
            return 1
        }
        printOut("ok: \(verification.records) audit records verified; chain head \(verification.headHash)")
        return 0
    }
}
