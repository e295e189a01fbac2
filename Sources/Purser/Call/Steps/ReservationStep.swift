import Ledger
import X402

/// Step 9a: checks every gate and holds the amount in one durable, cross-process transaction.
///
/// The hold is recorded in doubt until the latest `validBefore` the authorization can carry, so a crash
/// at any later point never frees money a late settlement could still take.
struct ReservationStep: CallStep {
    var name: String { "reservation" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard case .enabled(let rail) = environment.payments, let payment = state.payment,
            let request = state.reservationRequest
        else { return state.outOfOrder(name) }
        let holdUntil = SignedWindow.holdUntil(now: rail.clock(), maxTimeoutSeconds: payment.offer.maxTimeoutSeconds)
        // The nonce is chosen here and stored with the hold (one getrandom for it and a key-less payment
        // id), so reconciliation can find this payment on chain whatever happens after signing.
        let random: [UInt8]
        do {
            random = try EIP3009Crypto.systemRandomBytes(48)
        } catch {
            return .finish(.refused(.signingFailed(code: "randomness")))
        }
        let nonce = Array(random[0..<32])
        let paymentID = PaymentIdentifier.make(
            agent: state.caller.agent, idempotencyKey: state.idempotencyKey, randomBytes: { Array(random[32..<48]) })
        let signedFacts = SignedAuthorization(
            nonce: HexBytes.prefixed(nonce), authorizer: rail.signer.address.text, token: payment.offer.asset.text,
            paymentID: paymentID)
        let outcome: ReserveOutcome
        do {
            outcome = try await rail.ledger.reserve(
                request, limits: rail.limits, holdUntil: holdUntil, authorization: signedFacts)
        } catch {
            // Nothing is signed yet: a failed reservation holds nothing that could leave.
            return .finish(.refused(.ledgerUnavailable))
        }
        switch outcome {
        case .reserved(let reservation, let evaluation):
            state.hold = CallState.Hold(
                reservation: reservation, evaluation: evaluation, holdUntil: holdUntil, nonce: nonce,
                paymentID: paymentID)
            state.trace.reservation = reservation.id
            return .proceed
        case .refused(let evaluation):
            if case .refused(let gate) = evaluation.outcome, Gate.planGates.contains(gate) {
                // The plan changed since step 5c (another call took the last step, it expired or was closed).
                if let plan = request.planID, evaluation.failures.first?.detail != "plan_required" {
                    return .finish(
                        .refused(
                            .outsidePlan(
                                tool: request.tool, payment: payment.summary, plan: plan, evaluation: evaluation)))
                }
                return .finish(.refused(.planRequired(tool: request.tool, payment: payment.summary, pending: nil)))
            }
            return .finish(.refused(.budgetExceeded(evaluation, payment: payment.summary)))
        case .approvalRequired:
            return .finish(.refused(request.approvalID == nil ? .approvalStillRequired : .approvalNotAccepted))
        }
    }
}
