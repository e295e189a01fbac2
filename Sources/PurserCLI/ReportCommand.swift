import FoundationEssentials
import JSONCore
import Ledger
import Purser

/// `purser report`: spend by agent, tool, payee and session, refusals by reason, in-doubt amounts and
/// latency percentiles, as a terminal table or JSON.
struct ReportCommand: Subcommand {
    static let name = "report"
    static let summary = "spend, refusals, in-doubt amounts and latency from the ledger"
    static let usage = "purser report [--json | --html FILE | --explain RECEIPT_OR_TRACE_ID [--json]] [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let json = try arguments.flag("json")
        let html = try arguments.option("html")
        let explain = try arguments.option("explain")
        let configuration = try LedgerHome.configuration(&arguments)
        try arguments.finish()
        if json, html != nil { throw UsageError(description: "choose one of --json and --html") }
        if explain != nil, html != nil { throw UsageError(description: "--explain prints; it has no --html form") }
        let ledger = try LedgerHome.open(configuration, create: false)
        if let explain { return try await Self.explain(explain, ledger: ledger, json: json) }
        let report = try await ledger.report()
        let wasted = try await ledger.wastedPayments()
        guard let html else {
            let plans = try await ledger.plans()
            let now = LedgerClock.system.now()
            printOut(
                json
                    ? Self.json(report, wasted: wasted, plans: plans, now: now).serialized()
                    : Self.text(report, wasted: wasted, plans: plans, now: now))
            return 0
        }
        let sessions = Dictionary(
            try await ledger.sessions().map { ($0.session.id, $0.session.decimals) },
            uniquingKeysWith: { first, _ in first })
        let payments = try await ledger.reservations()
            .filter { $0.state == .committed }
            .map {
                (
                    time: $0.updatedAt, asset: $0.asset, decimals: sessions[$0.sessionID] ?? 6,
                    amount: $0.settledAmount ?? $0.amount
                )
            }
            .sorted { $0.time < $1.time }
        let page = ReportPage(
            report: report, payments: payments, generatedAt: LedgerClock.system.now(),
            source: configuration.ledger)
        do {
            try page.render().write(toFile: html, atomically: true, encoding: .utf8)
        } catch {
            printError("purser report: cannot write \(html): \(ErrorText.describe(error))")
            return 1
        }
        printOut("wrote \(html): spend over time and by agent, tool and payee, refusals, in-doubt amounts, latency")
        return 0
    }

    static func text(_ report: LedgerReport, wasted: [WastedPayment] = [], plans: [PlanStatus] = [], now: Int64 = 0)
        -> String
    {
        var sections: [String] = []
        let groups: [(String, [LedgerReport.Spend])] = [
            ("AGENT", report.byAgent), ("TOOL", report.byTool), ("PAYEE", report.byPayee),
            ("SESSION", report.bySession),
        ]
        for (title, rows) in groups {
            let body =
                rows.isEmpty
                ? "(no settled payments)"
                : LedgerHome.table(
                    [title, "SPENT", "PAYMENTS"],
                    rows.map {
                        [
                            $0.key, LedgerHome.display($0.amount, decimals: $0.decimals, asset: $0.asset),
                            "\($0.payments)",
                        ]
                    })
            sections.append("Spend by \(title.lowercased())\n" + body)
        }
        sections.append(
            "Refusals by reason\n"
                + (report.refusals.isEmpty
                    ? "(none)"
                    : LedgerHome.table(["REASON", "COUNT"], report.refusals.map { [$0.reason, "\($0.count)"] })))
        let held: [(String, [LedgerReport.InDoubt])] = [
            ("Held in doubt (signed, outcome unknown; counted against every limit)", report.inDoubt),
            ("Claimed, unverified (settled on the seller's word; included in spend above)", report.claimedUnverified),
            ("Contradicted (the seller's claim did not match; held, not spent)", report.contradicted),
        ]
        for (title, rows) in held {
            sections.append(
                title + "\n"
                    + (rows.isEmpty
                        ? "(none)"
                        : LedgerHome.table(
                            ["ASSET", "AMOUNT", "PAYMENTS"],
                            rows.map {
                                [
                                    $0.asset, LedgerHome.display($0.amount, decimals: $0.decimals, asset: $0.asset),
                                    "\($0.reservations)",
                                ]
                            })))
        }
        if let latency = report.latency {
            let ms = { (micros: Int64) in AssetAmount.format(micros, decimals: 3) + " ms" }
            sections.append(
                "Call latency (\(latency.count) calls)\n"
                    + LedgerHome.table(
                        ["P50", "P90", "P99", "MAX"],
                        [[ms(latency.p50), ms(latency.p90), ms(latency.p99), ms(latency.max)]]))
        } else {
            sections.append("Call latency\n(no calls recorded)")
        }
        sections.append(Self.wastedText(wasted))
        sections.append(Self.plansText(plans, now: now))
        return sections.joined(separator: "\n\n")
    }

    static func json(_ report: LedgerReport, wasted: [WastedPayment] = [], plans: [PlanStatus] = [], now: Int64 = 0)
        -> JSONValue
    {
        func spend(_ rows: [LedgerReport.Spend]) -> JSONValue {
            .array(
                rows.map {
                    [
                        "key": .string($0.key), "asset": .string($0.asset),
                        "amountAtomic": .number(JSONNumber($0.amount)),
                        "amount": .string(AssetAmount.format($0.amount, decimals: $0.decimals)),
                        "payments": .number(JSONNumber($0.payments)),
                    ]
                })
        }
        func held(_ rows: [LedgerReport.InDoubt]) -> JSONValue {
            .array(
                rows.map {
                    [
                        "asset": .string($0.asset), "amountAtomic": .number(JSONNumber($0.amount)),
                        "amount": .string(AssetAmount.format($0.amount, decimals: $0.decimals)),
                        "reservations": .number(JSONNumber($0.reservations)),
                    ]
                })
        }
        var object: JSONObject = [
            "byAgent": spend(report.byAgent), "byTool": spend(report.byTool), "byPayee": spend(report.byPayee),
            "bySession": spend(report.bySession),
            "refusals": .array(
                report.refusals.map { ["reason": .string($0.reason), "count": .number(JSONNumber($0.count))] }),
            "inDoubt": held(report.inDoubt), "claimedUnverified": held(report.claimedUnverified),
            "contradicted": held(report.contradicted),
            "latency": .null, "wasted": Self.wastedJSON(wasted), "plans": Self.plansJSON(plans, now: now),
        ]
        if let latency = report.latency {
            object["latency"] = [
                "count": .number(JSONNumber(latency.count)), "p50Micros": .number(JSONNumber(latency.p50)),
                "p90Micros": .number(JSONNumber(latency.p90)), "p99Micros": .number(JSONNumber(latency.p99)),
                "maxMicros": .number(JSONNumber(latency.max)),
            ]
        }
        return .object(object)
    }
}
