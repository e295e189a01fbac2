import JSONCore
import Ledger
import MCP
import X402

/// Step 11: the paid result with the standard settlement object and Purser's receipt.
///
/// The receipt's `traceId` is added when the call is recorded (the settlement is committed together with
/// the trace, in one transaction).
struct ReceiptStep: CallStep {
    var name: String { "receipt" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard let settled = state.settled, let payment = state.payment, let hold = state.hold,
            let session = state.session
        else { return state.outOfOrder(name) }
        var result = UpstreamCall.mapResponse(manifest: state.manifest, response: settled.response)
        // Paid, and what came back is an error (a status, or output the tool does not promise): the money
        // bought nothing, so the spend is recorded as wasted with the reason.
        if result.isError { state.trace.wasted = result.structuredContent?["error"]?.stringValue ?? "upstream_error" }
        var meta = result.meta ?? JSONObject()
        meta["x402/payment-response"] = [
            "success": true, "transaction": .string(settled.settlement.transaction),
            "network": .string(settled.settlement.network), "payer": .string(settled.payer),
        ]
        let decimals = payment.asset.decimals
        var receipt: JSONObject = [
            "receiptId": .string("rcp_" + hold.reservation.id),
            "amount": .string(AssetAmount.format(payment.amount, decimals: decimals)),
            "amountAtomic": .string(String(payment.amount)), "asset": .string(payment.asset.symbol),
            "network": .string(payment.offer.network.caip2), "payee": .string(payment.offer.payTo.text),
            "transaction": .string(settled.settlement.transaction), "sessionId": .string(session.id),
            "purpose": .string(state.manifest.purpose), "argumentsDigest": .string(state.trace.argumentsDigest),
            // How this settlement is established: the seller's claim, consistent with what was signed (step
            // 10b) and not yet checked on chain (`purser ledger reconcile` verifies it).
            "settlement": "claimed",
        ]
        // The seller's own signed receipt, as verified in step 10b: its signed word, not chain evidence.
        if let sellerReceipt = state.trace.sellerReceipt { receipt["sellerReceipt"] = .object(sellerReceipt) }
        if let paymentID = hold.paymentID { receipt["paymentId"] = .string(paymentID) }
        // What the session has left after this payment, from the numbers the gates compared.
        if let check = hold.evaluation.checks.first(where: { $0.gate == .sessionRemaining }) {
            var remaining = max(0, check.limit - check.used - check.requested)
            // A plan step: the plan's own reservation was left out of `used` (the amount comes out of it); what
            // it still holds after this payment is not the session's to spend either.
            if let plan = hold.evaluation.checks.first(where: { $0.gate == .planTotal }) {
                let planLeft = max(0, plan.limit - plan.used - plan.requested)
                remaining = max(0, remaining - planLeft)
                receipt["plan"] = state.plan.map { .string($0.plan.id) }
                receipt["planRemaining"] = .string(AssetAmount.format(planLeft, decimals: decimals))
            }
            receipt["sessionRemaining"] = .string(AssetAmount.format(remaining, decimals: decimals))
        }
        meta["com.purser/receipt"] = .object(receipt)
        result.meta = meta
        return .finish(.paid(result))
    }
}
