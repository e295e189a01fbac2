import Ledger
import X402

/// Step 10: sends the paid request once and classifies the answer.
///
/// Settled → `state.settled` (a claim, committed with the trace when the call is recorded); provably
/// never delivered → released; an explicit failure after signing or anything ambiguous → held (in doubt)
/// until the authorization's `validBefore`, and the idempotency key stays bound to the outcome.
struct SettlementStep: CallStep {
    var name: String { "settlement" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard let client = state.client, let signed = state.signed, let payment = state.payment,
            let hold = state.hold
        else { return state.outOfOrder(name) }
        let validBefore = Int64(signed.authorization.validBefore)
        switch await client.retry(signed) {
        case .paid(let settlement, let response, let record):
            state.settled = CallState.SettledPayment(
                settlement: settlement, response: response, payer: settlement.payer ?? record.payer)
            return .proceed
        case .failedAfterSigning(let failure, _) where failure.code == .notDelivered:
            // Provably never left this machine: the authorization cannot be settled by anyone.
            await environment.release(hold, reason: "not_delivered")
            return .finish(.refused(.notDelivered(message: failure.message)))
        case .failedAfterSigning(let failure, _):
            return .finish(
                .refused(
                    .refusedAfterSigning(
                        reason: failure.reason ?? failure.code.name, payment: payment.summary, heldUntil: validBefore)))
        case .inDoubt(let failure, _):
            return .finish(
                .refused(
                    .outcomeUnknown(
                        failure: failure.code.name, payment: payment.summary, heldUntil: validBefore,
                        reservation: hold.reservation.id)))
        case .noPaymentRequired, .refusedBeforeSigning:
            // retry never produces these; keep the hold (fail closed) and say so.
            return .finish(.refused(.unexpectedPaymentOutcome))
        }
    }
}
