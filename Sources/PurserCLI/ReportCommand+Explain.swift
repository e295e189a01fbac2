import FoundationEssentials
import JSONCore
import Ledger

/// `purser report --explain ID`: the chain of why one payment was allowed, from the audit records alone.
extension ReportCommand {
    /// Prints the explanation of `id` (text or JSON); 1 when the id names no payment.
    static func explain(_ id: String, ledger: Ledger, json: Bool) async throws -> Int32 {
        let explanation: PaymentExplanation
        switch try await ledger.explain(id) {
        case .success(let found): explanation = found
        case .failure(let error):
            printError("purser report: \(error.message)")
            return 1
        }
        printOut(json ? Self.json(explanation).serialized() : Self.text(explanation))
        return 0
    }

    static func json(_ explanation: PaymentExplanation) -> JSONValue {
        [
            "subject": .string(explanation.subject), "reservation": .string(explanation.reservation),
            "auditIntact": .bool(explanation.auditIntact),
            "records": .array(
                explanation.steps.map {
                    [
                        "seq": .number(JSONNumber($0.sequence)), "at": .number(JSONNumber($0.timestamp)),
                        "kind": .string($0.kind), "payload": .object($0.payload),
                    ]
                }),
        ]
    }

    /// One block per record, in the order they were written; each line says what decided and with what numbers.
    static func text(_ explanation: PaymentExplanation) -> String {
        var lines = ["Why \(explanation.subject) was paid (reservation \(explanation.reservation))"]
        lines.append(
            explanation.auditIntact
                ? "audit trail: intact (hash chain verified)"
                : "audit trail: DOES NOT VERIFY — run `purser ledger verify`; this explanation may be altered")
        for step in explanation.steps {
            let time = Date(timeIntervalSince1970: Double(step.timestamp / 1000)).formatted(Date.ISO8601FormatStyle())
            lines.append("")
            lines.append("#\(step.sequence) \(time) \(step.kind)")
            lines.append(contentsOf: describe(step).map { "  " + $0 })
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ step: PaymentExplanation.Step) -> [String] {
        let p = step.payload
        func text(_ key: String) -> String { p[key]?.stringValue ?? p[key].map { $0.serialized() } ?? "-" }
        func list(_ key: String) -> String {
            p[key]?.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ", ") } ?? "-"
        }
        switch step.kind {
        case "session.grant":
            return [
                "session \(text("session")) for agent \(text("agent")): budget \(text("cap")) atomic \(text("asset"))"
                    + (p["perCallCap"] != nil ? ", per call \(text("perCallCap"))" : "")
                    + ", expires at \(text("expiresAt")) ms"
            ]
        case "call":
            var out = [
                "trace trc_\(step.sequence): agent \(text("agent")), tool \(text("tool")), purpose \(text("purpose")), outcome \(text("outcome"))",
                "arguments digest \(text("args_digest")) (raw arguments are never recorded)",
                "call policy: \(text("call_policy")) by \(list("call_policies"))",
                "pay policy: \(text("pay_policy")) by \(list("pay_policies"))",
            ]
            if let offer = p["offer"]?.objectValue {
                out.append(
                    "offer: \(offer["amount"].map { $0.serialized() } ?? "?") atomic \(offer["asset"]?.stringValue ?? "?") to \(offer["pay_to"]?.stringValue ?? "?") on \(offer["network"]?.stringValue ?? "?")"
                )
            }
            if let facts = p["change_facts"]?.objectValue {
                out.append(
                    "change detection: payeeIsNew=\(facts["payeeIsNew"].map { $0.serialized() } ?? "?"), networkChanged=\(facts["networkChanged"].map { $0.serialized() } ?? "?"), priceRatio=\(facts["priceRatio"]?.stringValue ?? "?")"
                        + (p["changes"] != nil
                            ? "; changed: \(list("changes")) → \(text("change_action"))" : "; nothing changed"))
            }
            if p["approval"] != nil {
                out.append("approval \(text("approval")) via \(text("approval_channel"))")
            }
            if p["plan"] != nil { out.append("step of spend plan \(text("plan"))") }
            return out
        case "reserve":
            var out = [
                "reservation \(text("reservation")): \(text("outcome")) (\(text("reason"))), \(text("amount")) atomic \(text("asset")) to \(text("payee")) on \(text("network"))"
                    + (p["plan"] != nil ? ", step of plan \(text("plan"))" : "")
            ]
            for check in p["checks"]?.arrayValue ?? [] {
                guard let c = check.objectValue else { continue }
                let passed = c["passed"]?.boolValue == true ? "passed" : "FAILED"
                var line = "gate \(c["gate"]?.stringValue ?? "?"): \(passed)"
                if let limit = c["limit"] {
                    line +=
                        " (limit \(limit.serialized()), used \(c["used"]?.serialized() ?? "?"), in flight \(c["inFlight"]?.serialized() ?? "?"), requested \(c["requested"]?.serialized() ?? "?") \(c["unit"]?.stringValue ?? ""))"
                }
                if let detail = c["detail"]?.stringValue { line += " — \(detail)" }
                out.append(line)
            }
            return out
        case "approval.created":
            return [
                "approval \(text("approval")) asked (\(text("state"))) for \(text("amount")) atomic \(text("asset")) to \(text("payee"))"
            ]
        case "approval.granted": return ["approval \(text("approval")) granted by \(text("by"))"]
        case "plan.propose":
            let steps = (p["steps"]?.arrayValue ?? []).compactMap(\.objectValue).map {
                "\($0["tool"]?.stringValue ?? "?") up to \($0["maxAmount"].map { $0.serialized() } ?? "?") × \($0["count"].map { $0.serialized() } ?? "?")"
            }
            return [
                "plan \(text("plan")) proposed by \(text("agent")): \(steps.joined(separator: ", ")), total \(text("total")) atomic \(text("asset"))"
            ]
        case "plan.approve":
            return [
                "plan \(text("plan")) approved via \(text("by")): \(text("reserved")) atomic \(text("asset")) reserved (session remaining \(text("sessionRemaining")) of \(text("sessionCap"))), until \(text("expiresAt")) ms"
            ]
        case "plan.close":
            return [
                "plan \(text("plan")) closed (\(text("outcome"))) by \(text("by")): spent \(text("spent")), held \(text("held")), returned \(text("returned")) atomic \(text("asset"))"
            ]
        case "approval.redeem": return ["approval \(text("approval")) redeemed: \(text("outcome"))"]
        case "commit":
            return [
                "settled: \(text("settled")) atomic \(text("asset")), transaction \(text("transaction")), payer \(text("payer"))"
                    + " (committed from \(text("from")))"
            ]
        case "in_doubt": return ["held in doubt until \(text("validBefore"))"]
        case "release": return ["released: \(text("reason"))"]
        default: return [JSONValue.object(p).serialized(sortedKeys: true)]
        }
    }
}
