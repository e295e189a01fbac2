import Ledger
import X402

/// Step 6: the pay policy (Cedar `Action::"pay"`) on the chosen payment. Every authorizer answers it;
/// a permit marked `@approval("required")` makes the approval step ask the human.
struct PayPolicyStep: CallStep {
    var name: String { "pay policy" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard let payment = state.payment else { return state.outOfOrder(name) }
        // The session's history for `context.session`; an unreadable ledger refuses (nothing is paid).
        var session: SessionFacts?
        if case .enabled(let rail) = environment.payments {
            do {
                session = try await SessionFacts.current(
                    rail: rail, agent: state.caller.agent, asset: payment.asset.symbol, tool: state.manifest.name)
            } catch {
                return .finish(.refused(.ledgerUnavailable))
            }
        }
        let decision = await environment.authorizer.authorizePayment(
            agent: state.caller.agent, tool: state.manifest,
            payment: PaymentFacts(
                amountAtomic: String(payment.amount), decimals: payment.asset.decimals, asset: payment.asset.symbol,
                network: payment.offer.network.caip2, payTo: payment.offer.payTo.text,
                change: state.changeFacts, inPlan: state.plan != nil),
            arguments: state.arguments, session: session)
        state.trace.payPolicy = decision.allowed ? "allowed" : "denied"
        state.trace.payPolicies = decision.deciding
        state.trace.changeFacts = state.changeFacts
        guard decision.allowed else {
            return .finish(
                .refused(.payPolicyDenied(tool: state.manifest.name, payment: payment.summary, decision: decision)))
        }
        state.policyWantsApproval = decision.requiresApproval
        return .proceed
    }
}
