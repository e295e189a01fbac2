import Foundation
import JSONCore
import Ledger
import MCP
import X402

extension ToolRefusal.Code {
    /// The seller's settlement claim contradicts what was signed; the amount stays held.
    static let settlementContradicted = Self("settlement_contradicted")
}

extension ToolCallPipeline {
    /// Step 10, settle: the seller's settlement response is a claim to check, not a fact.
    ///
    /// - Consistent with what was signed (payer, network, 32-byte transaction hash, amount): committed with
    ///   `claimed` evidence (reconciliation verifies it on chain later), the receipt says `claimed`.
    /// - Contradicted: recorded as `contradicted`, the amount stays held, and the result says so. It never
    ///   carries `x402/payment-response` or a paid receipt.
    /// - The ledger write fails: the amount stays held in doubt (it never frees money that may have left),
    ///   and the receipt says `unrecorded`.
    func settle(
        _ settlement: Settlement, response: HTTPResponse, record: AuthorizationRecord, reservation: Reservation,
        ledger: Ledger, amount: Int64, asset: LimitsConfiguration.Asset, offer: PaymentOffer,
        session: PaymentSession, manifest: ToolManifest, evaluation: GateEvaluation?, caller: CallerContext,
        trace: inout CallTrace
    ) async -> ToolCallOutcome {
        let claim = SettlementClaim.check(settlement, against: record)
        if case .contradicted(let problems) = claim.verdict {
            return await contradicted(
                problems, claim: claim, reservation: reservation, ledger: ledger, amount: amount, asset: asset,
                trace: &trace)
        }
        trace.paid = true
        trace.outcome = "paid"
        trace.settlement = SettlementEvidence.claimed.rawValue
        // The settlement and the call's trace go to disk in one transaction (step 12 rides along).
        trace.latencyMicroseconds = Int64((DispatchTime.now().uptimeNanoseconds - trace.started) / 1000)
        var committed: (outcome: TransitionOutcome, record: AuditRecord?)?
        do {
            committed = try await ledger.commit(
                reservation.id, settledAmount: amount, transaction: settlement.transaction,
                payer: settlement.payer ?? record.payer, evidence: .claimed,
                alsoRecord: ("call", trace.payload(agent: caller.agent)))
        } catch {
            // Nothing is freed: the reservation stays in doubt, held against every limit, until reconciled.
            committed = nil
        }
        let recorded: Bool
        switch committed?.outcome {
        case .applied?, .alreadyApplied?: recorded = true
        default: recorded = false
        }
        if !recorded { trace.settlement = "unrecorded" }
        trace.recorded = committed?.record != nil
        var result = UpstreamCall.mapResponse(manifest: manifest, response: response)
        var meta = result.meta ?? JSONObject()
        meta["x402/payment-response"] = [
            "success": true, "transaction": .string(settlement.transaction), "network": .string(settlement.network),
            "payer": .string(settlement.payer ?? record.payer),
        ]
        // What the session has left after this payment, from the numbers the gates compared.
        let remaining = evaluation?.checks.first { $0.gate == .sessionRemaining }.map {
            max(0, $0.limit - $0.used - $0.requested)
        }
        var receipt: JSONObject = [
            "receiptId": .string("rcp_" + reservation.id),
            "amount": .string(AssetAmount.format(amount, decimals: asset.decimals)),
            "amountAtomic": .string(String(amount)), "asset": .string(asset.symbol),
            "network": .string(offer.network.caip2),
            "payee": .string(offer.payTo.text), "transaction": .string(settlement.transaction),
            "sessionId": .string(session.id), "purpose": .string(manifest.purpose),
            "argumentsDigest": .string(trace.argumentsDigest),
            // How this settlement is established: the seller's claim, consistent with what was signed and
            // not yet checked on chain (`purser ledger reconcile` verifies it).
            "settlement": .string(recorded ? SettlementEvidence.claimed.rawValue : "unrecorded"),
        ]
        if !recorded {
            receipt["note"] = .string(
                "The ledger could not record this settlement; the amount stays held until reconciled.")
        }
        if let paymentID = reservation.authorization?.paymentID { receipt["paymentId"] = .string(paymentID) }
        if let sequence = committed?.record?.sequence { receipt["traceId"] = .string("trc_\(sequence)") }
        if let remaining {
            receipt["sessionRemaining"] = .string(AssetAmount.format(remaining, decimals: asset.decimals))
        }
        meta["com.purser/receipt"] = .object(receipt)
        result.meta = meta
        return .complete(result)
    }

    /// A contradicted claim: recorded (held), and reported as an error that names what did not match.
    private func contradicted(
        _ problems: [String], claim: SettlementClaim, reservation: Reservation, ledger: Ledger, amount: Int64,
        asset: LimitsConfiguration.Asset, trace: inout CallTrace
    ) async -> ToolCallOutcome {
        trace.inDoubt = true
        trace.settlement = "contradicted"
        let reason = problems.joined(separator: "; ")
        // Only a well-formed hash is stored; a malformed claim is described, not kept.
        let transaction = SettlementClaim.isTransactionHash(claim.transaction) ? claim.transaction : nil
        do {
            _ = try await ledger.contradict(reservation.id, claimedTransaction: transaction, reason: reason)
        } catch {
            // The reservation stays in doubt: held either way.
        }
        let display = AssetAmount.format(amount, decimals: asset.decimals) + " " + asset.symbol
        return .complete(
            trace.refuse(
                ToolRefusal(
                    code: .settlementContradicted,
                    message:
                        "The upstream API's settlement claim does not match the payment Purser signed (\(reason)). It is not treated as paid; \(display) stays held until the chain or the user settles it (purser ledger reconcile / resolve). Do not retry with a new idempotency key.",
                    detail: ["reservation": .string(reservation.id), "settlement": "contradicted"])))
    }
}
