import FoundationEssentials
import Ledger
import Purser

/// `purser report --html`: one self-contained page (no script, no network, no external asset) with the
/// report as inline SVG charts and tables.
///
/// Every bar and point carries its number as text, in an `aria-label` and in `data-*` attributes, so a
/// screen reader, a person and a test read the same figures as `purser report --json`.
struct ReportPage {
    /// The aggregated report.
    var report: LedgerReport
    /// Settled payments in time order (for spend over time): when, asset, decimals, amount.
    var payments: [(time: Int64, asset: String, decimals: Int, amount: Int64)]
    /// When the page was made (unix milliseconds).
    var generatedAt: Int64
    /// The ledger it was read from.
    var source: String

    private static let palette = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563"]

    /// A bar of a chart: its label, its length, the text shown and read out, and its data attributes.
    struct Bar {
        var label: String
        var value: Double
        var text: String
        var data: [(String, String)]
    }

    func render() -> String {
        var body: [String] = []
        let totals = Dictionary(grouping: report.byAgent, by: \.asset).map { asset, rows in
            (
                asset, rows.reduce(Int64(0)) { $0 + $1.amount }, rows.first?.decimals ?? 6,
                rows.reduce(Int64(0)) { $0 + $1.payments }
            )
        }.sorted { $0.0 < $1.0 }
        let refused = report.refusals.reduce(Int64(0)) { $0 + $1.count }
        var cards: [String] = []
        for (asset, amount, decimals, count) in totals {
            cards.append(
                card(
                    "Spent", "\(AssetAmount.format(amount, decimals: decimals)) \(asset)", "\(count) payment(s)",
                    data: "total-\(asset)"))
        }
        if totals.isEmpty { cards.append(card("Spent", "0", "no settled payments", data: "total")) }
        cards.append(card("Refused", "\(refused)", "call(s) refused", data: "refused"))
        let held = report.inDoubt.map { "\(AssetAmount.format($0.amount, decimals: $0.decimals)) \($0.asset)" }
        cards.append(
            card(
                "In doubt", held.isEmpty ? "0" : held.joined(separator: ", "), "held until the authorization expires",
                data: "in-doubt"))
        if let latency = report.latency {
            cards.append(
                card("Median latency", Self.milliseconds(latency.p50), "over \(latency.count) call(s)", data: "p50"))
        }
        body.append("<section class=\"cards\">\(cards.joined())</section>")

        body.append(section("Spend over time", timeChart()))
        for (title, id, rows) in [
            ("Spend by agent", "by-agent", report.byAgent), ("Spend by tool", "by-tool", report.byTool),
            ("Spend by payee", "by-payee", report.byPayee),
        ] {
            let bars = rows.map { row in
                let amount = AssetAmount.format(row.amount, decimals: row.decimals)
                return Bar(
                    label: row.key, value: Double(row.amount),
                    text: "\(amount) \(row.asset) · \(row.payments) payment(s)",
                    data: [("key", row.key), ("asset", row.asset), ("amount", amount), ("payments", "\(row.payments)")])
            }
            body.append(section(title, barChart(id: id, title: title, bars: bars, empty: "No settled payments yet.")))
        }
        let refusalBars = report.refusals.map {
            Bar(
                label: $0.reason, value: Double($0.count), text: "\($0.count)",
                data: [("key", $0.reason), ("count", "\($0.count)")])
        }
        body.append(
            section(
                "Refusals by reason",
                barChart(id: "refusals", title: "Refusals by reason", bars: refusalBars, empty: "No refusals.")))
        let doubtBars = report.inDoubt.map { row in
            let amount = AssetAmount.format(row.amount, decimals: row.decimals)
            return Bar(
                label: row.asset, value: Double(row.amount),
                text: "\(amount) \(row.asset) · \(row.reservations) reservation(s)",
                data: [("key", row.asset), ("amount", amount), ("reservations", "\(row.reservations)")])
        }
        body.append(
            section(
                "In doubt (signed, outcome unknown; held until validBefore)",
                barChart(id: "in-doubt", title: "In-doubt amounts", bars: doubtBars, empty: "Nothing in doubt.")))
        var latencyBars: [Bar] = []
        if let latency = report.latency {
            for (key, micros) in [
                ("p50", latency.p50), ("p90", latency.p90), ("p99", latency.p99), ("max", latency.max),
            ] {
                latencyBars.append(
                    Bar(
                        label: key, value: Double(micros), text: Self.milliseconds(micros),
                        data: [("key", key), ("micros", "\(micros)")]))
            }
        }
        body.append(
            section(
                "Call latency\(report.latency.map { " (\($0.count) calls)" } ?? "")",
                barChart(
                    id: "latency", title: "Call latency percentiles", bars: latencyBars, empty: "No calls recorded.")))
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Purser report</title>
            <style>
            body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; background: #f9fafb; margin: 0; padding: 24px 32px; }
            h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 10px; }
            .meta { color: #6b7280; margin-bottom: 20px; }
            .cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }
            .card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; min-width: 170px; }
            .card .label { color: #6b7280; font-size: 13px; } .card .value { font-size: 22px; font-weight: 600; } .card .note { color: #6b7280; font-size: 12px; }
            section.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 14px 18px; margin-bottom: 16px; }
            svg text { font: 13px system-ui, sans-serif; fill: #111827; } svg .axis { fill: #6b7280; font-size: 12px; }
            .empty { color: #6b7280; font-style: italic; }
            </style>
            </head>
            <body>
            <h1>Purser report</h1>
            <div class="meta">Generated \(Self.escape(LedgerHome.time(generatedAt))) from \(Self.escape(source)). Amounts are settled payments; in-doubt amounts are held, not spent.</div>
            \(body.joined(separator: "\n"))
            </body>
            </html>

            """
    }

    private func card(_ label: String, _ value: String, _ note: String, data: String) -> String {
        "<div class=\"card\" data-card=\"\(Self.escape(data))\"><div class=\"label\">\(Self.escape(label))</div><div class=\"value\">\(Self.escape(value))</div><div class=\"note\">\(Self.escape(note))</div></div>"
    }

    private func section(_ title: String, _ content: String) -> String {
        "<section class=\"chart\"><h2>\(Self.escape(title))</h2>\(content)</section>"
    }

    /// Horizontal bars, longest first as given, each labelled with its number.
    private func barChart(id: String, title: String, bars: [Bar], empty: String) -> String {
        guard !bars.isEmpty else { return "<p class=\"empty\" data-chart=\"\(id)\">\(Self.escape(empty))</p>" }
        let labelWidth = 230.0
        let barSpace = 330.0
        let rowHeight = 30.0
        let width = labelWidth + barSpace + 220
        let height = rowHeight * Double(bars.count) + 8
        let maximum = max(bars.map(\.value).max() ?? 1, 1)
        var parts = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" data-chart=\"\(id)\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" aria-label=\"\(Self.escape(title))\">"
        ]
        for (index, bar) in bars.enumerated() {
            let y = 4 + Double(index) * rowHeight
            let length = max(2, barSpace * bar.value / maximum)
            let color = Self.palette[index % Self.palette.count]
            let label =
                bar.label.count > 26 ? String(bar.label.prefix(10)) + "…" + String(bar.label.suffix(8)) : bar.label
            let attributes = bar.data.map { " data-\($0.0)=\"\(Self.escape($0.1))\"" }.joined()
            let spoken = "\(bar.label): \(bar.text)"
            parts.append(
                "<g class=\"bar\" role=\"img\" aria-label=\"\(Self.escape(spoken))\"\(attributes)><title>\(Self.escape(spoken))</title>"
                    + "<text x=\"\(Int(labelWidth - 8))\" y=\"\(Int(y + 19))\" text-anchor=\"end\">\(Self.escape(label))</text>"
                    + "<rect x=\"\(Int(labelWidth))\" y=\"\(Int(y + 4))\" width=\"\(TextFormat.fixed(length, digits: 1))\" height=\"\(Int(rowHeight - 8))\" rx=\"3\" fill=\"\(color)\"/>"
                    + "<text class=\"value\" x=\"\(Int(labelWidth + length + 8))\" y=\"\(Int(y + 19))\">\(Self.escape(bar.text))</text></g>"
            )
        }
        parts.append("</svg>")
        return parts.joined()
    }

    /// Cumulative settled spend per asset, one step line each, with a labelled point per payment.
    private func timeChart() -> String {
        guard let first = payments.first?.time, let last = payments.last?.time else {
            return "<p class=\"empty\" data-chart=\"over-time\">No settled payments yet.</p>"
        }
        let width = 760.0
        let height = 260.0
        let left = 70.0
        let right = 20.0
        let top = 16.0
        let bottom = 40.0
        let span = Double(max(last - first, 1))
        let byAsset = Dictionary(grouping: payments, by: \.asset).sorted { $0.key < $1.key }
        var totals: [String: Int64] = [:]
        for (asset, rows) in byAsset { totals[asset] = rows.reduce(0) { $0 + $1.amount } }
        let maximum = Double(max(totals.values.max() ?? 1, 1))
        func x(_ time: Int64) -> Double { left + (width - left - right) * Double(time - first) / span }
        func y(_ amount: Int64) -> Double { top + (height - top - bottom) * (1 - Double(amount) / maximum) }
        var parts = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" data-chart=\"over-time\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" aria-label=\"Cumulative settled spend over time\">",
            "<line x1=\"\(Int(left))\" y1=\"\(Int(height - bottom))\" x2=\"\(Int(width - right))\" y2=\"\(Int(height - bottom))\" stroke=\"#9ca3af\"/>",
            "<line x1=\"\(Int(left))\" y1=\"\(Int(top))\" x2=\"\(Int(left))\" y2=\"\(Int(height - bottom))\" stroke=\"#9ca3af\"/>",
            "<text class=\"axis\" x=\"\(Int(left))\" y=\"\(Int(height - 12))\">\(Self.escape(LedgerHome.time(first)))</text>",
            "<text class=\"axis\" x=\"\(Int(width - right))\" y=\"\(Int(height - 12))\" text-anchor=\"end\">\(Self.escape(LedgerHome.time(last)))</text>",
        ]
        for (index, (asset, rows)) in byAsset.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let decimals = rows.first?.decimals ?? 6
            var running: Int64 = 0
            var points = ["\(x(first)),\(y(0))"]
            var dots: [String] = []
            for row in rows {
                points.append("\(x(row.time)),\(y(running))")
                running += row.amount
                points.append("\(x(row.time)),\(y(running))")
                let total = AssetAmount.format(running, decimals: decimals)
                let spoken =
                    "\(LedgerHome.time(row.time)): +\(AssetAmount.format(row.amount, decimals: decimals)) \(asset), \(total) \(asset) in all"
                dots.append(
                    "<circle role=\"img\" aria-label=\"\(Self.escape(spoken))\" data-asset=\"\(Self.escape(asset))\" data-cumulative=\"\(total)\" cx=\"\(TextFormat.fixed(x(row.time), digits: 1))\" cy=\"\(TextFormat.fixed(y(running), digits: 1))\" r=\"4\" fill=\"\(color)\"><title>\(Self.escape(spoken))</title></circle>"
                )
            }
            parts.append(
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>"
            )
            parts.append(contentsOf: dots)
            let total = AssetAmount.format(running, decimals: decimals)
            parts.append(
                "<text class=\"axis\" x=\"\(Int(left - 6))\" y=\"\(Int(y(running) + 4))\" text-anchor=\"end\" data-asset=\"\(Self.escape(asset))\" data-total=\"\(total)\">\(total) \(Self.escape(asset))</text>"
            )
        }
        parts.append(
            "<text class=\"axis\" x=\"\(Int(left - 6))\" y=\"\(Int(height - bottom + 4))\" text-anchor=\"end\">0</text>"
        )
        parts.append("</svg>")
        return parts.joined()
    }

    static func milliseconds(_ micros: Int64) -> String { AssetAmount.format(micros, decimals: 3) + " ms" }

    /// Escapes text for HTML content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
