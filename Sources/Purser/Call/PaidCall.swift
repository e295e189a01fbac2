import Foundation
import JSONCore
import Ledger
import MCP
import X402

extension ToolRefusal.Code {
    /// The ledger could not be read or written.
    static let ledgerUnavailable = Self("ledger_unavailable")
    /// The same idempotency key is still running (or its outcome is unknown).
    static let idempotencyInProgress = Self("idempotency_in_progress")
    /// The same idempotency key was used with other arguments.
    static let idempotencyConflict = Self("idempotency_conflict")
    /// No offer in the 402 can be paid under the rules (asset, network, payee, scheme, amount).
    static let paymentUnserviceable = Self("payment_unserviceable")
    /// The pay policy (Cedar `Action::"pay"`) denied the payment.
    static let paymentPolicyDenied = Self("payment_policy_denied")
    /// No active spending session for this agent and asset.
    static let noSession = Self("no_session")
    /// A budget gate refused.
    static let budgetExceeded = Self("budget_exceeded")
    /// The payment needs the end user's approval (fallback token flow).
    static let approvalRequired = Self("approval_required")
    /// The human declined.
    static let approvalDeclined = Self("approval_declined")
    /// An approval was replayed, tampered with, expired, or is for another payment.
    static let approvalInvalid = Self("approval_invalid")
    /// The payment failed; a signed amount stays held until evidence (chain or user) decides it.
    static let paymentFailed = Self("payment_failed")
    /// The payment may have gone through; the outcome is unknown.
    static let outcomeUnknown = Self("outcome_unknown")
}

/// What one call did, for the hash-chained audit trail: codes, amounts and digests only.
struct CallTrace {
    let tool: String
    let purpose: String
    var argumentsDigest = ""
    var outcome = "started"
    var reason: String?
    var callPolicy: String?
    var payPolicy: String?
    var offer: JSONObject?
    var rejectedOffers = 0
    var reservation: String?
    var approval: String?
    var paid = false
    var inDoubt = false
    /// The caller's idempotency key (never recorded; it derives the x402 payment identifier).
    var idempotencyKey: String?
    /// How the settlement was established: `claimed`, `contradicted`, `unrecorded`.
    var settlement: String?
    var latencyMicroseconds: Int64 = 0
    var started: UInt64 = 0
    var recorded = false

    init(manifest: ToolManifest) {
        self.tool = manifest.name
        self.purpose = manifest.purpose
    }

    /// Refusals before the upstream (bad input) are not worth a ledger record; anything later is.
    var shouldRecord: Bool { reason != "invalid_arguments" }

    mutating func refuse(_ refusal: ToolRefusal) -> ToolResult {
        outcome = "refused"
        reason = refusal.code.name
        return refusal.result
    }

    func payload(agent: String) -> JSONObject {
        var payload: JSONObject = [
            "agent": .string(agent), "tool": .string(tool), "purpose": .string(purpose),
            "args_digest": .string(argumentsDigest), "outcome": .string(outcome),
            "latency_us": .number(JSONNumber(latencyMicroseconds)),
        ]
        if let reason { payload["reason"] = .string(reason) }
        if let callPolicy { payload["call_policy"] = .string(callPolicy) }
        if let payPolicy { payload["pay_policy"] = .string(payPolicy) }
        if let offer { payload["offer"] = .object(offer) }
        if rejectedOffers > 0 { payload["rejected_offers"] = .number(JSONNumber(rejectedOffers)) }
        if let reservation { payload["reservation"] = .string(reservation) }
        if let approval { payload["approval"] = .string(approval) }
        if let settlement { payload["settlement"] = .string(settlement) }
        return payload
    }
}

extension ToolCallPipeline {
    /// Steps 5–11 for a 402: select, pay policy, gates, approval, reserve, sign, retry, settle.
    func pay(
        _ challenge: PaymentChallenge, client: X402Client, manifest: ToolManifest, arguments: JSONObject,
        caller: CallerContext, trace: inout CallTrace
    ) async -> ToolCallOutcome {
        guard let payments, let ledger = payments.ledger, let limits = payments.limits, payments.signer != nil else {
            let why = payments?.problems.joined(separator: "; ") ?? "payments are not enabled"
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .noSession,
                        message:
                            "The upstream API asks for payment, and Purser cannot pay: \(why). Nothing was paid. Ask the user to set up spending (purser wallet new, purser session grant)."
                    )))
        }
        // 5. Selection: keep what the wallet and the rules can serve; cheapest first.
        let selection = challenge.select(selectionPolicy ?? payments.selectionPolicy(limits: limits))
        trace.rejectedOffers = selection.rejections.count
        // Limits, policies and the ledger name networks in CAIP-2, whatever the x402 version called them.
        var reasons = selection.rejections.prefix(5).map(\.description)
        var chosen: (offer: PaymentOffer, asset: LimitsConfiguration.Asset, amount: Int64)?
        for candidate in selection.candidates {
            guard limits.allowedPayees.allows(candidate.payTo.text) else {
                reasons.append("accepts[\(candidate.index)]: payee \(candidate.payTo.text) is not an allowed payee")
                continue
            }
            guard let asset = limits.asset(contract: candidate.asset.text, network: candidate.network.caip2) else {
                reasons.append(
                    "accepts[\(candidate.index)]: asset not configured in limits.json for \(candidate.network.caip2)")
                continue
            }
            guard let amount = Int64(candidate.amount.decimal) else {
                reasons.append("accepts[\(candidate.index)]: amount too large")
                continue
            }
            chosen = (candidate, asset, amount)
            break
        }
        guard let (offer, asset, amount) = chosen else {
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentUnserviceable,
                        message:
                            "The upstream API asks for a payment Purser's rules do not allow (\(reasons.joined(separator: "; "))). Nothing was paid.",
                        detail: ["offers": .number(JSONNumber(challenge.required.accepts.count))])))
        }
        let display = AssetAmount.format(amount, decimals: asset.decimals) + " " + asset.symbol
        trace.offer = [
            "network": .string(offer.network.caip2), "asset": .string(asset.symbol),
            "amount": .number(JSONNumber(amount)), "pay_to": .string(offer.payTo.text),
        ]
        // 6. Pay policy.
        var policyWantsApproval = false
        if let store = authorizer as? PolicyStore {
            let decision = await store.authorizePayment(
                agent: caller.agent, tool: ToolFacts(manifest: manifest),
                payment: PaymentFacts(
                    amountAtomic: String(amount), decimals: asset.decimals, asset: asset.symbol,
                    network: offer.network.caip2, payTo: offer.payTo.text),
                arguments: .object(arguments))
            trace.payPolicy = decision.allowed ? "allowed" : "denied"
            policyWantsApproval = decision.requiresApproval
            guard decision.allowed else {
                return .complete(
                    trace.refuse(
                        ToolRefusal(
                            code: .paymentPolicyDenied,
                            message:
                                "A payment policy does not allow paying \(display) to \(offer.payTo.text) for \(manifest.name) (\(decision.summary)). Nothing was paid.",
                            detail: ["policies": .array(decision.deciding.map { .string($0) })])))
            }
        }
        // 7. Budget gates.
        let session: PaymentSession
        do {
            guard let found = try await ledger.activeSession(agent: caller.agent, asset: asset.symbol) else {
                return .complete(
                    trace.refuse(
                        ToolRefusal(
                            code: .noSession,
                            message:
                                "No active spending session lets \(caller.agent) spend \(asset.symbol) (none granted, revoked or expired). Nothing was paid. Ask the user to grant one (purser session grant)."
                        )))
            }
            session = found
        } catch {
            return .complete(trace.refuse(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage)))
        }
        var request = ReservationRequest(
            sessionID: session.id, agent: caller.agent, tool: manifest.name, payee: offer.payTo.text,
            network: offer.network.caip2, asset: asset.symbol, amount: amount, purpose: manifest.purpose,
            argumentsDigest: trace.argumentsDigest)
        let binding = ApprovalBinding(
            agent: caller.agent, tool: manifest.name, argumentsDigest: trace.argumentsDigest, amount: amount,
            asset: asset.symbol, payee: offer.payTo.text)
        // 8. Approval: an approval presented with this call is redeemed (single use) before the gates.
        switch await presentedApproval(binding: binding, caller: caller, ledger: ledger, payments: payments) {
        case .none: break
        case .redeemed(let id):
            request.approvalID = id
            trace.approval = id
        case .refused(let refusal):
            return .complete(trace.refuse(refusal))
        }
        // 7–9. Budget gates, approval, reserve. `reserve` checks every gate and holds the amount in one
        //      durable, cross-process transaction; the hold is recorded in doubt until the latest validBefore
        //      the authorization can carry, so a crash at any point never frees money a late settlement could
        //      still take. When the gates say "approval required" (or a policy does), the human is asked and
        //      the reservation is tried once more with the redeemed approval.
        let holdUntil = payments.clock() + min(offer.maxTimeoutSeconds, X402Client.Configuration().validityCap) + 2
        // The nonce is chosen here and stored with the hold, so reconciliation can find this payment on chain
        // whatever happens after signing; the payment identifier is stable per (agent, idempotency key).
        // One getrandom call for the nonce and a key-less payment id.
        let random: [UInt8]
        do {
            random = try EIP3009Crypto.systemRandomBytes(48)
        } catch {
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentFailed, message: "The system random source failed. Nothing was paid.")))
        }
        let nonce = Array(random[0..<32])
        let paymentID = PaymentIdentifier.make(
            agent: caller.agent, idempotencyKey: trace.idempotencyKey, randomBytes: { Array(random[32..<48]) })
        let signedFacts = SignedAuthorization(
            nonce: HexBytes.prefixed(nonce), authorizer: client.payer.text, token: offer.asset.text,
            paymentID: paymentID)
        var reservation: Reservation?
        var evaluation: GateEvaluation?
        var needsApproval = policyWantsApproval && request.approvalID == nil
        for _ in 0..<2 where reservation == nil {
            if needsApproval {
                switch await askForApproval(
                    binding: binding, display: display, offer: offer, manifest: manifest, caller: caller,
                    ledger: ledger, payments: payments)
                {
                case .approved(let id):
                    request.approvalID = id
                    trace.approval = id
                case .pending(let outcome, let id):
                    trace.outcome = "approval_pending"
                    trace.approval = id
                    return outcome
                case .refused(let refusal):
                    return .complete(trace.refuse(refusal))
                }
            }
            do {
                switch try await ledger.reserve(
                    request, limits: limits, holdUntil: holdUntil, authorization: signedFacts)
                {
                case .reserved(let held, let gates):
                    reservation = held
                    evaluation = gates
                case .refused(let gates):
                    return .complete(trace.refuse(budgetRefusal(gates, display: display)))
                case .approvalRequired:
                    guard request.approvalID == nil else {
                        return .complete(
                            trace.refuse(
                                ToolRefusal(
                                    code: .approvalInvalid, message: "The approval was not accepted. Nothing was paid.")
                            ))
                    }
                    needsApproval = true
                }
            } catch {
                return .complete(trace.refuse(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage)))
            }
        }
        guard let reservation else {
            return .complete(
                trace.refuse(
                    ToolRefusal(code: .approvalRequired, message: "This payment needs approval. Nothing was paid.")))
        }
        trace.reservation = reservation.id
        await caller.progress(3, 3, "paying \(display)")
        let signed: SignedPayment
        do {
            signed = try await client.authorize(offer, for: challenge, nonce: nonce, paymentID: paymentID)
        } catch {
            _ = try? await ledger.release(reservation.id, reason: "not_signed")
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentFailed,
                        message: "The wallet could not sign the payment (\(error.code)). Nothing was paid.")))
        }
        let validBefore = Int64(signed.authorization.validBefore)
        guard validBefore <= holdUntil else {
            // Never release a signature that could settle after the hold ends; it has not left this process.
            _ = try? await ledger.release(reservation.id, reason: "not_sent")
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentFailed,
                        message: "The payment window moved while signing. Nothing was paid; retry.")))
        }
        let outcome = await client.retry(signed)
        // 10. Settle.
        switch outcome {
        case .paid(let settlement, let response, let record):
            return await settle(
                settlement, response: response, record: record, reservation: reservation, ledger: ledger,
                amount: amount, asset: asset, offer: offer, session: session, manifest: manifest,
                evaluation: evaluation, caller: caller, trace: &trace)
        case .failedAfterSigning(let failure, _) where failure.code == .notDelivered:
            // Provably never left this machine: the authorization cannot be settled by anyone.
            _ = try? await ledger.release(reservation.id, reason: "not_delivered")
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentFailed,
                        message:
                            "The paid request could not be delivered (\(failure.message)). Nothing was paid; you may retry."
                    )))
        case .failedAfterSigning(let failure, _):
            // The upstream holds a valid authorization until validBefore: keep the amount held until then,
            // and keep the idempotency key bound to this outcome so a retry cannot sign a second payment.
            trace.inDoubt = true
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentFailed,
                        message:
                            "The upstream API refused the payment (\(failure.reason ?? failure.code.name)). \(display) stays held until the chain or the user settles whether it was paid (purser ledger reconcile). Do not retry with a new idempotency key.",
                        detail: [
                            "reason": .string(failure.reason ?? failure.code.name),
                            "heldUntil": .number(JSONNumber(validBefore)),
                        ])))
        case .inDoubt(let failure, _):
            trace.inDoubt = true
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .outcomeUnknown,
                        message:
                            "The payment of \(display) may have gone through: the outcome is unknown (\(failure.code.name)). Do not retry with a new idempotency key; retrying with the same key reports what is known. The amount stays held until the chain or the user settles it (purser ledger reconcile).",
                        detail: ["heldUntil": .number(JSONNumber(validBefore)), "reservation": .string(reservation.id)])
                ))
        case .noPaymentRequired, .refusedBeforeSigning:
            // retry never produces these; keep the hold (fail closed) and say so.
            trace.inDoubt = true
            return .complete(
                trace.refuse(ToolRefusal(code: .outcomeUnknown, message: "The payment outcome is unknown.")))
        }
    }

    private func budgetRefusal(_ evaluation: GateEvaluation, display: String) -> ToolRefusal {
        var detail: JSONObject = ["gate": .string(evaluation.reason)]
        if let check = evaluation.failures.first {
            detail["limit"] = .string(evaluation.display(check.limit))
            detail["used"] = .string(evaluation.display(check.used))
            detail["requested"] = .string(evaluation.display(check.requested))
            detail["shortfall"] = .string(evaluation.display(check.shortfall))
        }
        return ToolRefusal(
            code: .budgetExceeded,
            message:
                "The spending limits do not allow paying \(display): \(evaluation.explanation()). Nothing was paid.",
            detail: detail)
    }

    enum PresentedApproval {
        case none
        case redeemed(String)
        case refused(ToolRefusal)
    }

    /// An approval that comes with this call: a fallback token in `_meta`, or an MRTR retry.
    private func presentedApproval(
        binding: ApprovalBinding, caller: CallerContext, ledger: Ledger, payments: PaymentEnvironment
    ) async -> PresentedApproval {
        var approvalID: String?
        if let token = caller.meta[Self.approvalMetaKey]?.stringValue {
            approvalID = token
        } else if let stateText = caller.requestState {
            guard let key = payments.approvalKey, let state = ApprovalRequestState.decode(stateText, key: key),
                state.agent == binding.agent, state.tool == binding.tool,
                state.argumentsDigest == binding.argumentsDigest, state.amountAtomic == binding.amount,
                state.payee.lowercased() == binding.payee.lowercased(), state.expiresAt > payments.clock()
            else {
                return .refused(
                    ToolRefusal(
                        code: .approvalInvalid,
                        message: "The approval state is invalid, expired, or for another payment. Nothing was paid."))
            }
            let answer = caller.inputResponses?["approval"]?.objectValue
            guard answer?["action"]?.stringValue == "accept", answer?["content"]?["approve"]?.boolValue == true else {
                return .refused(
                    ToolRefusal(code: .approvalDeclined, message: "The payment was not approved. Nothing was paid."))
            }
            // In-band accept: mark approved, then redeem (both single-use, so a replay fails here).
            _ = try? await ledger.approve(state.approvalID)
            approvalID = state.approvalID
        }
        guard let approvalID else { return .none }
        let redemption: ApprovalRedemption
        do {
            redemption = try await ledger.redeemApproval(approvalID, for: binding)
        } catch {
            return .refused(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage))
        }
        switch redemption {
        case .redeemed: return .redeemed(approvalID)
        case .notApproved:
            return .refused(
                ToolRefusal(
                    code: .approvalRequired,
                    message:
                        "The end user has not approved \(approvalID) yet (purser approve \(approvalID)). Nothing was paid.",
                    detail: ["approvalId": .string(approvalID)]))
        case .unknown, .alreadyRedeemed, .expired, .mismatch:
            return .refused(
                ToolRefusal(
                    code: .approvalInvalid,
                    message:
                        "That approval cannot be used (it is unknown, already used, expired, or for another payment). Nothing was paid."
                ))
        }
    }

    enum ApprovalAsk {
        case approved(String)
        case pending(ToolCallOutcome, String)
        case refused(ToolRefusal)
    }

    /// Asks the human, by the best channel the client offers.
    private func askForApproval(
        binding: ApprovalBinding, display: String, offer: PaymentOffer, manifest: ToolManifest, caller: CallerContext,
        ledger: Ledger, payments: PaymentEnvironment
    ) async -> ApprovalAsk {
        let message =
            "Approve paying \(display) to \(offer.payTo.text) on \(offer.network.caip2) for the tool \(manifest.title ?? manifest.name)?"
        let form: JSONObject = [
            "mode": "form", "message": .string(message),
            "requestedSchema": [
                "type": "object", "properties": ["approve": ["type": "boolean", "title": "Approve this payment"]],
                "required": ["approve"],
            ],
        ]
        switch caller.approvalChannel {
        case .elicitation(let elicit):
            let answer: JSONObject
            do {
                answer = try await elicit(form)
            } catch {
                return .refused(
                    ToolRefusal(
                        code: .approvalDeclined,
                        message: "The approval request failed (\(error.message)). Nothing was paid."))
            }
            guard answer["action"]?.stringValue == "accept", answer["content"]?["approve"]?.boolValue == true else {
                return .refused(
                    ToolRefusal(
                        code: .approvalDeclined, message: "The user declined paying \(display). Nothing was paid."))
            }
            do {
                let approval = try await ledger.createApproval(binding, ttlMilliseconds: 60_000, state: .approved)
                guard case .redeemed = try await ledger.redeemApproval(approval.id, for: binding) else {
                    return .refused(
                        ToolRefusal(
                            code: .approvalInvalid, message: "The approval could not be recorded. Nothing was paid."))
                }
                return .approved(approval.id)
            } catch {
                return .refused(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage))
            }
        case .inputRequired:
            guard let key = payments.approvalKey else {
                return .refused(
                    ToolRefusal(
                        code: .approvalRequired,
                        message: "Approval is needed but cannot be requested. Nothing was paid."))
            }
            do {
                let approval = try await ledger.createApproval(binding, ttlMilliseconds: 300_000)
                let state = ApprovalRequestState(
                    approvalID: approval.id, agent: binding.agent, tool: binding.tool,
                    argumentsDigest: binding.argumentsDigest, amountAtomic: binding.amount, payee: binding.payee,
                    expiresAt: payments.clock() + 300)
                let outcome = ToolCallOutcome.inputRequired(
                    inputRequests: ["approval": ["method": "elicitation/create", "params": .object(form)]],
                    requestState: state.encode(key: key))
                return .pending(outcome, approval.id)
            } catch {
                return .refused(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage))
            }
        case .fallbackToken:
            do {
                let approval = try await ledger.createApproval(binding, ttlMilliseconds: 600_000)
                return .pending(
                    .complete(
                        ToolRefusal(
                            code: .approvalRequired,
                            message:
                                "Paying \(display) to \(offer.payTo.text) for \(manifest.name) needs the user's approval. Ask the user to run `purser approve \(approval.id)`, then call again with the same arguments and _meta {\"\(Self.approvalMetaKey)\": \"\(approval.id)\"}. Nothing was paid.",
                            detail: [
                                "approvalId": .string(approval.id), "amount": .string(display),
                                "payee": .string(offer.payTo.text),
                            ]
                        ).result), approval.id)
            } catch {
                return .refused(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage))
            }
        }
    }
}
