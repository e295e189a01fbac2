import JSONCore
import Ledger

/// The wasted-spend section of `purser report`: paid calls that bought nothing, by tool and seller, with
/// the receipts a user needs to ask for a refund.
extension ReportCommand {
    static func wastedText(_ wasted: [WastedPayment]) -> String {
        guard !wasted.isEmpty else { return "Wasted spend (paid, nothing delivered)\n(none)" }
        var totals: [String: (WastedPayment, Int64, Int)] = [:]
        for payment in wasted {
            let key = payment.tool + "\u{0}" + payment.payee + "\u{0}" + payment.asset
            let current = totals[key] ?? (payment, 0, 0)
            totals[key] = (payment, current.1 + payment.amount, current.2 + 1)
        }
        let byGroup = totals.values.sorted { ($0.1, $0.0.tool) > ($1.1, $1.0.tool) }.map { first, amount, count in
            [
                first.tool, first.payee, LedgerHome.display(amount, decimals: first.decimals, asset: first.asset),
                "\(count)",
            ]
        }
        let receipts = wasted.map {
            [
                $0.receiptID, $0.tool, $0.payee, LedgerHome.display($0.amount, decimals: $0.decimals, asset: $0.asset),
                $0.transaction, $0.reason,
            ]
        }
        return "Wasted spend (paid, nothing delivered) by tool and seller\n"
            + LedgerHome.table(["TOOL", "SELLER", "WASTED", "PAYMENTS"], byGroup)
            + "\n\nReceipts for refund requests\n"
            + LedgerHome.table(["RECEIPT", "TOOL", "SELLER", "AMOUNT", "TRANSACTION", "REASON"], receipts)
    }

    static func wastedJSON(_ wasted: [WastedPayment]) -> JSONValue {
        .array(
            wasted.map {
                [
                    "receiptId": .string($0.receiptID), "tool": .string($0.tool), "seller": .string($0.payee),
                    "asset": .string($0.asset), "amountAtomic": .number(JSONNumber($0.amount)),
                    "amount": .string(AssetAmount.format($0.amount, decimals: $0.decimals)),
                    "transaction": .string($0.transaction), "reason": .string($0.reason),
                ]
            })
    }
}
