import X402

/// Step 9b: signs the one authorization of this call (EIP-3009), inside the hold's window.
///
/// A failed signature, or one whose validity would outlast the hold, never left the process: the hold is
/// released (or, if the ledger refuses that write, stays until it expires) and the call is refused.
struct SigningStep: CallStep {
    var name: String { "signing" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard let client = state.client, let challenge = state.challenge, let payment = state.payment,
            let hold = state.hold
        else { return state.outOfOrder(name) }
        await state.caller.progress(3, 3, "paying \(payment.summary.display)")
        let signed: SignedPayment
        do {
            signed = try await client.authorize(
                payment.offer, for: challenge, nonce: hold.nonce, paymentID: hold.paymentID)
        } catch {
            await environment.release(hold, reason: "not_signed")
            return .finish(.refused(.signingFailed(code: "\(error.code)")))
        }
        guard Int64(signed.authorization.validBefore) <= hold.holdUntil,
            Int64(signed.authorization.validAfter) >= SignedWindow.earliestValidAfter(holdUntil: hold.holdUntil)
        else {
            // Never release a signature that could settle after the hold ends, nor one usable before the window
            // the reconciler searches (it would never be proved settled); this one has not left.
            await environment.release(hold, reason: "not_sent")
            return .finish(.refused(.paymentWindowMoved))
        }
        state.signed = signed
        return .proceed
    }
}
