import Chain
import Foundation
import JSONCore
import Ledger
import Purser

/// `purser ledger verify | reconcile | resolve`: the audit trail, and settlement evidence for held payments.
struct LedgerCommand: Subcommand {
    static let name = "ledger"
    static let summary = "verify the audit trail; reconcile held payments with the chain; resolve one by hand"
    static let usage = """
        purser ledger verify [--home DIR] [--ledger PATH|URL]
               purser ledger reconcile [--home DIR] [--ledger PATH|URL] [--json]
               purser ledger resolve ID (--settled TX | --void) --note TEXT [--home DIR] [--ledger PATH|URL]
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("action (verify, reconcile, resolve)")
        switch action {
        case "verify": return try await verify(&arguments)
        case "reconcile": return try await reconcile(&arguments)
        case "resolve": return try await resolve(&arguments)
        default: throw UsageError(description: "unknown action '\(action)'")
        }
    }

    static func verify(_ arguments: inout Arguments) async throws -> Int32 {
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

    /// Asks the configured nodes (`$PURSER_HOME/nodes.json`) about every unsettled payment.
    static func reconcile(_ arguments: inout Arguments) async throws -> Int32 {
        let json = try arguments.flag("json")
        let resolved = try LedgerHome.configuration(&arguments)
        let home = resolved.homeDirectory
        try arguments.finish()
        let ledger = try LedgerHome.open(resolved, create: false)
        let configuration: NodeConfiguration
        do {
            configuration = try NodeConfiguration.load(path: NodeConfiguration.path(inHome: home))
        } catch {
            printError(error.description)
            return 1
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let (verifiers, problems) = await SettlementReconciler.verifiers(
            configuration, transport: SettlementReconciler.defaultTransport())
        for problem in problems { printError("purser ledger reconcile: \(problem)") }
        let summary = try await SettlementReconciler(ledger: ledger, verifiers: verifiers).reconcile()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        if json {
            let ids = { (list: [String]) in JSONValue.array(list.map { .string($0) }) }
            var failed = JSONObject()
            for (id, reason) in summary.failed.sorted(by: { $0.key < $1.key }) { failed[id] = .string(reason) }
            let object: JSONValue = [
                "verified": ids(summary.verified), "voided": ids(summary.voided), "pending": ids(summary.pending),
                "unresolvable": ids(summary.unresolvable),
                "failed": .object(failed),
                "seconds": .number(JSONNumber(validatedLexeme: String(format: "%.3f", elapsed))),
            ]
            printOut(object.serialized(sortedKeys: true))
        } else {
            printOut(
                "reconciled in \(String(format: "%.3f", elapsed)) s: \(summary.verified.count) verified on chain, "
                    + "\(summary.voided.count) void (unused after validBefore, budget restored), "
                    + "\(summary.pending.count) still pending, \(summary.unresolvable.count) need a node or "
                    + "`purser ledger resolve`, \(summary.failed.count) failed (still held)")
            for (id, reason) in summary.failed.sorted(by: { $0.key < $1.key }) { printError("  \(id): \(reason)") }
        }
        return summary.failed.isEmpty && problems.isEmpty ? 0 : 2
    }

    /// The end user's decision; audited with the note.
    static func resolve(_ arguments: inout Arguments) async throws -> Int32 {
        let settled = try arguments.option("settled")
        let void = try arguments.flag("void")
        guard let note = try arguments.option("note") else { throw UsageError(description: "--note is required") }
        let configuration = try LedgerHome.configuration(&arguments)
        let id = try arguments.positional("reservation id")
        try arguments.finish()
        let resolution: Resolution
        switch (settled, void) {
        case (let transaction?, false):
            guard transaction.utf8.count == 66, transaction.hasPrefix("0x"),
                transaction.utf8.dropFirst(2).allSatisfy({
                    ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 102)
                })
            else { throw UsageError(description: "--settled takes a transaction hash (0x + 64 hex)") }
            resolution = .settled(transaction: transaction.lowercased())
        case (nil, true): resolution = .void
        default: throw UsageError(description: "give exactly one of --settled TX and --void")
        }
        let ledger = try LedgerHome.open(configuration, create: false)
        switch try await ledger.resolve(id, resolution, note: note) {
        case .applied(let reservation), .alreadyApplied(let reservation):
            printOut(
                "\(reservation.id): \(reservation.state.rawValue)"
                    + (reservation.releaseReason.map { " (\($0))" } ?? "")
                    + (reservation.evidence.map { " (\($0.rawValue))" } ?? ""))
            return 0
        case .notAllowed(_, let reason):
            printError("purser ledger resolve: \(id): \(reason)")
            return 1
        case .unknownReservation:
            printError("purser ledger resolve: no reservation \(id)")
            return 1
        }
    }
}
