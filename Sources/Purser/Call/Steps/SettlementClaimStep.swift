import FoundationEssentials
import JSONCore
import Ledger
import X402

/// Step 10b: the seller's settlement response is a claim, checked against what was signed before it
/// becomes a fact: the payer must be the signer, the network the one signed for, the transaction a
/// 32-byte hash, the amount (when stated) the signed one. A seller-signed receipt (the `offer-receipt`
/// extension) is verified here too: an invalid one (a signature that does not check under the key it claims,
/// or a signed claim that disagrees with the payment) is one more contradiction. A valid one is recorded in
/// the trace and shown in the receipt as the seller's signed word, never as chain evidence: it settles and
/// releases nothing.
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
        let receipt = SellerReceipt.verify(
            settlement: settled.settlement.raw,
            expecting: .init(
                record: signed.record, transaction: settled.settlement.transaction,
                resourceURLs: Self.resourceURLs(state), now: UInt64(max(0, rail.clock()))))
        state.trace.sellerReceipt = receipt.json
        var problems: [String] = []
        if case .contradicted(let claimProblems) = claim.verdict { problems = claimProblems }
        if case .invalid(let receiptProblems) = receipt {
            problems += receiptProblems.map { "seller-signed receipt invalid: \($0)" }
        }
        guard !problems.isEmpty else { return .proceed }
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

    /// The URLs a receipt's `resourceUrl` may name: the request Purser sent, the 402's v2 `resource.url`, the
    /// chosen v1 offer's `resource`.
    static func resourceURLs(_ state: CallState) -> [String] {
        var urls: [String] = []
        if let challenge = state.challenge {
            urls.append(challenge.request.url.absoluteString)
            if let url = challenge.required.resource?["url"]?.stringValue { urls.append(url) }
        }
        if let url = state.payment?.offer.resourceURL { urls.append(url) }
        return urls
    }
}
