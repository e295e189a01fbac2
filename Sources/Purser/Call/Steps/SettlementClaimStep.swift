import Ledger
import X402

/// Step 10b: the seller's settlement response is a claim, checked against what was signed before it
/// becomes a fact: the payer must be the signer, the network the one signed for, the transaction a
/// 32-byte hash, the amount (when stated) the signed one.
///
/// A contradicted claim is recorded as `contradicted` (the amount stays held, counted against every
/// limit) and the call ends as a refusal naming each mismatch: it is never presented as paid, and no
/// `x402/payment-response` or receipt is returned. Chain verification happens later, off the call path
/// (`purser ledger reconcile`, and `purser serve` periodically).
struct SettlementClaimStep: CallStep {
    var name: String { "settlement-claim" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard case .enabled(let rail) = environment.payments, let settled = state.settled, let signed = state.signed,
            let payment = state.payment, let hold = state.hold
        else { return state.outOfOrder(name) }
        let claim = SettlementClaim.check(settled.settlement, against: signed.record)
        guard case .contradicted(let problems) = claim.verdict else { return .proceed }
        // Only a well-formed hash is stored; a malformed claim is described, not kept.
        let transaction = SettlementClaim.isTransactionHash(claim.transaction) ? claim.transaction : nil
        do {
            _ = try await rail.ledger.recordContradiction(
                hold.reservation.id, claimedTransaction: transaction, reason: problems.joined(separator: "; "))
        } catch {
            // The reservation stays in doubt: held either way.
        }
        state.settled = nil
        return .finish(
            .refused(
                .settlementContradicted(
                    problems: problems, payment: payment.summary, reservation: hold.reservation.id)))
    }
}
