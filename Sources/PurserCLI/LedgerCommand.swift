import Chain
import Dispatch
import FoundationEssentials
import JSONCore
import Ledger
import Purser

/// `purser ledger verify | reconcile | resolve | export | import`: the audit trail, settlement evidence for
/// held payments, and moving a ledger between backends.
struct LedgerCommand: Subcommand {
    static let name = "ledger"
    static let summary =
        "verify the audit trail; reconcile held payments with the chain; resolve one by hand; export or import"
    static let usage = """
        purser ledger verify [--home DIR] [--ledger PATH|URL]
               purser ledger reconcile [--home DIR] [--ledger PATH|URL] [--json]
               purser ledger resolve ID (--settled TX | --void) --note TEXT [--home DIR] [--ledger PATH|URL]
               purser ledger export [--home DIR] [--ledger PATH|URL] [--output FILE]
               purser ledger import FILE [--home DIR] [--ledger PATH|URL]   (into an empty ledger)
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("action (verify, reconcile, resolve, export, import)")
        switch action {
        case "verify": return try await verify(&arguments)
        case "export": return try await export(&arguments)
        case "import": return try await importLedger(&arguments)
        case "reconcile": return try await reconcile(&arguments)
        case "resolve": return try await resolve(&arguments)
        default: throw UsageError(description: "unknown action '\(action)'")
        }
    }

    /// Writes the ledger as JSON Lines (to stdout, or `--output FILE` created with mode 0600).
    static func export(_ arguments: inout Arguments) async throws -> Int32 {
        let output = try arguments.option("output")
        let configuration = try LedgerHome.configuration(&arguments)
        try arguments.finish()
        let ledger = try LedgerHome.open(configuration, create: false)
        var text = ""
        try await ledger.export { line throws(LedgerError) in text += line + "\n" }
        guard let output else {
            StandardStream.output.write(text)
            return 0
        }
        // The export holds the whole spending record: private to its owner, like the ledger itself.
        guard
            FileManager.default.createFile(
                atPath: output, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else {
            printError("purser ledger export: cannot write \(output)")
            return 1
        }
        printError("wrote \(output)")
        return 0
    }

    /// Reads an export into an empty ledger; everything or nothing, and the chain must verify.
    static func importLedger(_ arguments: inout Arguments) async throws -> Int32 {
        let configuration = try LedgerHome.configuration(&arguments)
        let file = try arguments.positional("export file")
        try arguments.finish()
        guard let data = FileManager.default.contents(atPath: file) else {
            printError("purser ledger import: cannot read \(file)")
            return 1
        }
        // Lines are split on LF bytes, and a CR before it is dropped: an export saved with CRLF endings (an editor,
        // a Windows copy) is the same export. Splitting the text on the Character "\n" would not see "\r\n", one
        // grapheme, and read the whole file as line 1.
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        let ledger = try LedgerHome.open(configuration, create: true)
        let verification: AuditVerification
        do {
            verification = try await ledger.importExport(lines)
        } catch {
            // "line N: …" becomes FILE:N:1: …
            var message = error.message
            if message.hasPrefix("line "), let colon = message.firstIndex(of: ":") {
                let number = message[message.index(message.startIndex, offsetBy: 5)..<colon]
                message = "\(file):\(number):1:" + message[message.index(after: colon)...]
            } else {
                message = "\(file): " + message
            }
            printError("purser ledger import: \(message)")
            return 1
        }
        printOut(
            "imported into \(configuration.ledger): \(verification.records) audit records verified; "
                + "chain head \(verification.headHash)")
        return 0
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
        if !verification.totalsProblems.isEmpty {
            for problem in verification.totalsProblems {
                printError("purser ledger verify: FAILED: derived totals: \(problem)")
            }
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
                "seconds": .number(JSONNumber(validatedLexeme: TextFormat.fixed(elapsed, digits: 3))),
            ]
            printOut(object.serialized(sortedKeys: true))
        } else {
            printOut(
                "reconciled in \(TextFormat.fixed(elapsed, digits: 3)) s: \(summary.verified.count) verified on chain, "
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
