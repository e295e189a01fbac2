import JSONCore
import Ledger
import MCP
import X402

extension LimitsAndApprovalStep {
    enum PresentedApproval {
        case none
        case redeemed(String)
        case refused(CallRefusal)
    }

    /// An approval that comes with this call: a fallback token in `_meta`, or an MRTR retry.
    static func presentedApproval(binding: ApprovalBinding, caller: CallerContext, rail: PaymentRail) async
        -> PresentedApproval
    {
        var approvalID: String?
        if let token = caller.meta[ToolCallPipeline.approvalMetaKey]?.stringValue {
            approvalID = token
        } else if let stateText = caller.requestState {
            guard let state = ApprovalRequestState.decode(stateText, key: rail.approvalKey),
                state.agent == binding.agent, state.tool == binding.tool,
                state.argumentsDigest == binding.argumentsDigest, state.amountAtomic == binding.amount,
                state.payee.lowercased() == binding.payee.lowercased(), state.expiresAt > rail.clock()
            else { return .refused(.approvalStateInvalid) }
            let answer = caller.inputResponses?["approval"]?.objectValue
            guard answer?["action"]?.stringValue == "accept", answer?["content"]?["approve"]?.boolValue == true else {
                return .refused(.approvalDeclined(payment: nil))
            }
            // In-band accept: mark approved, then redeem (both single-use, so a replay fails at the redeem).
            do {
                _ = try await rail.ledger.approve(state.approvalID)
            } catch {
                return .refused(.ledgerUnavailable)
            }
            approvalID = state.approvalID
        }
        guard let approvalID else { return .none }
        let redemption: ApprovalRedemption
        do {
            redemption = try await rail.ledger.redeemApproval(approvalID, for: binding)
        } catch {
            return .refused(.ledgerUnavailable)
        }
        switch redemption {
        case .redeemed: return .redeemed(approvalID)
        case .notApproved: return .refused(.approvalNotGranted(id: approvalID))
        case .unknown, .alreadyRedeemed, .expired, .mismatch: return .refused(.approvalUnusable)
        }
    }

    enum ApprovalAsk {
        case approved(String)
        case pending(CallEnd, String)
        case refused(CallRefusal)
    }

    /// Asks the human, by the best channel the client offers.
    static func askForApproval(
        binding: ApprovalBinding, payment: CallState.ChosenPayment, state: CallState, rail: PaymentRail
    ) async -> ApprovalAsk {
        let form = approvalForm(payment: payment, manifest: state.manifest, change: state.changeToApprove)
        do {
            switch state.caller.approvalChannel {
            case .elicitation(let elicit):
                let answer: JSONObject
                do {
                    answer = try await elicit(form)
                } catch {
                    return .refused(.approvalRequestFailed(message: error.message))
                }
                guard answer["action"]?.stringValue == "accept", answer["content"]?["approve"]?.boolValue == true
                else { return .refused(.approvalDeclined(payment: payment.summary)) }
                let approval = try await rail.ledger.createApproval(binding, ttlMilliseconds: 60_000, state: .approved)
                guard case .redeemed = try await rail.ledger.redeemApproval(approval.id, for: binding) else {
                    return .refused(.approvalNotRecorded)
                }
                return .approved(approval.id)
            case .inputRequired:
                let approval = try await rail.ledger.createApproval(binding, ttlMilliseconds: 300_000, state: .pending)
                let requestState = ApprovalRequestState(
                    approvalID: approval.id, agent: binding.agent, tool: binding.tool,
                    argumentsDigest: binding.argumentsDigest, amountAtomic: binding.amount, payee: binding.payee,
                    expiresAt: rail.clock() + 300)
                let outcome = ToolCallOutcome.inputRequired(
                    inputRequests: ["approval": ["method": "elicitation/create", "params": .object(form)]],
                    requestState: requestState.encode(key: rail.approvalKey))
                return .pending(.awaitingInput(outcome), approval.id)
            case .fallbackToken:
                let approval = try await rail.ledger.createApproval(binding, ttlMilliseconds: 600_000, state: .pending)
                if let change = state.changeToApprove {
                    return .pending(
                        .refused(
                            .changeApprovalRequested(
                                id: approval.id, tool: state.manifest.name, payment: payment.summary, change: change)),
                        approval.id)
                }
                return .pending(
                    .refused(.approvalRequested(id: approval.id, tool: state.manifest.name, payment: payment.summary)),
                    approval.id)
            }
        } catch {
            return .refused(.ledgerUnavailable)
        }
    }

    /// The form the human answers (MCP form elicitation): the question names tool, amount, payee and network.
    static func approvalForm(payment: CallState.ChosenPayment, manifest: ToolManifest, change: String? = nil)
        -> JSONObject
    {
        // A change leads the question, so the human sees what differs before the amount.
        let changed = change.map { "The payment changed: \($0). " } ?? ""
        let message =
            changed
            + "Approve paying \(payment.summary.display) to \(payment.offer.payTo.text) on \(payment.offer.network.caip2) for the tool \(manifest.title ?? manifest.name)?"
        return [
            "mode": "form", "message": .string(message),
            "requestedSchema": [
                "type": "object", "properties": ["approve": ["type": "boolean", "title": "Approve this payment"]],
                "required": ["approve"],
            ],
        ]
    }
}
