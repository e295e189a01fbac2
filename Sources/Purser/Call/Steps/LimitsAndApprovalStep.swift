import JSONCore
import Ledger
import X402

/// Step 7–8: the session and the approval gate.
///
/// Finds the agent's active session (`no_session` without one; the spend-plan step may have read it), redeems an approval presented with this
/// call (fallback token or MRTR retry, single use), and when the payment needs one (above `approvalAbove`
/// or a pay permit marked `@approval("required")`) and none was presented, first checks the budget gates
/// (a payment the limits refuse is never put to the human) and then asks by the best channel. The gates
/// themselves are enforced atomically by the reservation step.
struct LimitsAndApprovalStep: CallStep {
    var name: String { "limits and approval" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard case .enabled(let rail) = environment.payments, let payment = state.payment else {
            return state.outOfOrder(name)
        }
        let session: PaymentSession
        if let known = state.session {
            // Read by the spend-plan step; the reservation reads it again inside its transaction.
            session = known
        } else {
            do {
                guard
                    let found = try await rail.ledger.activeSession(
                        agent: state.caller.agent, asset: payment.asset.symbol)
                else { return .finish(.refused(.noSession(agent: state.caller.agent, asset: payment.asset.symbol))) }
                session = found
            } catch {
                return .finish(.refused(.ledgerUnavailable))
            }
        }
        state.session = session
        var request = ReservationRequest(
            sessionID: session.id, agent: state.caller.agent, tool: state.manifest.name,
            payee: payment.offer.payTo.text,
            network: payment.offer.network.caip2, asset: payment.asset.symbol, amount: payment.amount,
            purpose: state.manifest.purpose, argumentsDigest: state.trace.argumentsDigest,
            planID: state.plan?.plan.id)
        let binding = ApprovalBinding(
            agent: state.caller.agent, tool: state.manifest.name, argumentsDigest: state.trace.argumentsDigest,
            amount: payment.amount, asset: payment.asset.symbol, payee: payment.offer.payTo.text)
        state.approvalBinding = binding
        switch await Self.presentedApproval(binding: binding, caller: state.caller, rail: rail) {
        case .none: break
        case .redeemed(let id):
            request.approvalID = id
            state.trace.approval = id
            state.trace.approvalChannel =
                state.caller.meta[ToolCallPipeline.approvalMetaKey]?.stringValue != nil
                ? "fallback_token" : "input_required"
        case .refused(let refusal): return .finish(.refused(refusal))
        }
        let threshold = rail.limits.limits(for: payment.asset.symbol).approvalAbove
        let aboveThreshold = threshold.map { payment.amount > $0 } ?? false
        // A step of an approved plan is not asked again for its amount (the human approved the plan's amounts);
        // a change of payee, network or price is still asked: the plan did not show it.
        let amountNeedsApproval = state.plan == nil && (state.policyWantsApproval || aboveThreshold)
        if request.approvalID == nil, amountNeedsApproval || state.changeToApprove != nil {
            do {
                let evaluation = try await rail.ledger.evaluateGates(request, limits: rail.limits)
                if case .refused = evaluation.outcome {
                    return .finish(.refused(.budgetExceeded(evaluation, payment: payment.summary)))
                }
            } catch {
                return .finish(.refused(.ledgerUnavailable))
            }
            switch await Self.askForApproval(binding: binding, payment: payment, state: state, rail: rail) {
            case .approved(let id):
                request.approvalID = id
                state.trace.approval = id
                state.trace.approvalChannel = "elicitation"
            case .pending(let end, let id):
                state.trace.approval = id
                return .finish(end)
            case .refused(let refusal): return .finish(.refused(refusal))
            }
        }
        state.reservationRequest = request
        return .proceed
    }
}
