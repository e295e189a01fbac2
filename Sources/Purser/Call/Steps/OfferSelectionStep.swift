import JSONCore
import Ledger
import X402

/// Step 5: keeps the 402's offers the wallet and the rules can serve (asset, network, payee, amount) and
/// picks the cheapest. With payments disabled, a 402 ends the call here with the reasons.
struct OfferSelectionStep: CallStep {
    var name: String { "offer selection" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard case .enabled(let rail) = environment.payments else {
            if case .disabled(let reasons, _) = environment.payments {
                return .finish(
                    .refused(.paymentsDisabled(reasons: reasons.isEmpty ? ["payments are not enabled"] : reasons)))
            }
            return state.outOfOrder(name)
        }
        guard let challenge = state.challenge else { return state.outOfOrder(name) }
        let selection = challenge.select(rail.selectionPolicy)
        state.trace.rejectedOffers = selection.rejections.count
        // Limits, policies and the ledger name networks in CAIP-2, whatever the x402 version called them.
        var reasons = selection.rejections.prefix(5).map(\.description)
        for candidate in selection.candidates {
            guard rail.limits.allowedPayees.allows(candidate.payTo.text) else {
                reasons.append("accepts[\(candidate.index)]: payee \(candidate.payTo.text) is not an allowed payee")
                continue
            }
            guard let asset = rail.limits.asset(contract: candidate.asset.text, network: candidate.network.caip2)
            else {
                reasons.append(
                    "accepts[\(candidate.index)]: asset not configured in limits.json for \(candidate.network.caip2)")
                continue
            }
            guard let amount = Int64(candidate.amount.decimal) else {
                reasons.append("accepts[\(candidate.index)]: amount too large")
                continue
            }
            let display = AssetAmount.format(amount, decimals: asset.decimals) + " " + asset.symbol
            state.payment = CallState.ChosenPayment(
                offer: candidate, asset: asset, amount: amount,
                summary: PaymentSummary(display: display, payee: candidate.payTo.text))
            state.trace.offer = [
                "network": .string(candidate.network.caip2), "asset": .string(asset.symbol),
                "amount": .number(JSONNumber(amount)), "pay_to": .string(candidate.payTo.text),
            ]
            return .proceed
        }
        return .finish(
            .refused(.noServiceableOffer(reasons: reasons, offers: challenge.required.accepts.count)))
    }
}
