import JSONCore
import Ledger
public import MCP

// The only file that words refusals: every sentence a model reads about a refused call is here, and
// whether "Nothing was paid." is said follows from `CallRefusal.money`, never from the call site.

/// The commands the end user runs about held and pending payments, as refusals name them: single-user mode
/// (`purser serve`, the state home at hand) and the vault (`purser serve --vault`: the owner's signed
/// `purser owner …` requests) have different ones.
public struct OwnerCommands: Sendable, Hashable {
    /// Approves one pending payment; the approval id follows.
    public let approve: String
    /// Grants a spending session.
    public let grant: String
    /// Sets up spending from nothing (a wallet, then a session).
    public let setUp: String
    /// Settles a held payment (the chain's evidence, or the user's decision).
    public let settle: String

    /// `purser serve`: the user runs the commands against the state home.
    public static let singleUser = OwnerCommands(
        approve: "purser approve", grant: "purser session grant", setUp: "purser wallet new, purser session grant",
        settle: "purser ledger reconcile / resolve")
    /// The vault: the owner signs `purser owner …`; the wallet and the ledger are the vault user's.
    public static let vault = OwnerCommands(
        approve: "purser owner approve", grant: "purser owner grant",
        setUp: "as the vault's user: purser wallet new --home VAULT_HOME; then purser owner grant",
        settle: "purser owner resolve, or purser ledger reconcile --home VAULT_HOME as the vault's user")
}

extension CallRefusal {
    /// The rendered refusal: code, the sentence for the model, and the structured detail.
    public var rendered: ToolRefusal { rendered(for: .singleUser) }

    /// The rendered refusal, naming the commands of `commands`' mode.
    public func rendered(for commands: OwnerCommands) -> ToolRefusal {
        var detail = self.detail
        detail["paymentMayHaveGoneThrough"] = .bool(money == .mayHaveMoved)
        let sentence = self.sentence(commands)
        return ToolRefusal(
            code: code, message: money == .none ? sentence + " Nothing was paid." : sentence, detail: detail)
    }

    /// The `isError` result the model reads.
    public var result: ToolResult { rendered.result }

    /// The `isError` result the model reads, naming the commands of `commands`' mode.
    public func result(for commands: OwnerCommands) -> ToolResult { rendered(for: commands).result }

    /// What happened and what the model may do next (without the "Nothing was paid." that `money` adds).
    ///
    /// Exhaustive over the cases, so a new refusal cannot compile without its words.
    func sentence(_ commands: OwnerCommands) -> String {
        switch self {
        case .invalidArguments, .idempotencyKeyNotString, .idempotencyKeyLength, .idempotencyWithoutLedger,
            .invalidURLArgument, .callPolicyDenied, .idempotencyInProgress, .idempotencyConflict, .secretMissing,
            .noTransport, .upstreamUnreachable, .crossOriginRedirect:
            return callSentence
        case .unreadableChallenge, .paymentsDisabled, .noServiceableOffer, .payPolicyDenied, .noSession,
            .budgetExceeded, .ledgerUnavailable, .changeDenied:
            return paymentSentence(commands)
        case .approvalRequested, .changeApprovalRequested, .approvalNotGranted, .approvalStillRequired,
            .approvalStateInvalid,
            .approvalUnusable, .approvalNotAccepted, .approvalNotRecorded, .approvalDeclined, .approvalRequestFailed:
            return approvalSentence(commands)
        case .signingFailed, .paymentWindowMoved, .notDelivered, .refusedAfterSigning, .outcomeUnknown,
            .unexpectedPaymentOutcome, .unrecordedPayment, .settlementContradicted, .stepOrder:
            return settlementSentence(commands)
        case .planRequired, .outsidePlan, .plansNotUsed, .planStillOpen, .planExceedsSession, .noOpenPlan,
            .planDeclined, .planNotApproved:
            return planSentence(commands)
        }
    }

    /// Spend plans: every sentence tells the model what to do with its plan next.
    private func planSentence(_ commands: OwnerCommands) -> String {
        let propose = PlanTools.proposeName
        let close = PlanTools.closeName
        let status = PlanTools.statusName
        switch self {
        case .planRequired(let tool, let payment, let pending?):
            return
                "Paying \(payment.display) for \(tool) needs an approved spend plan, and plan \(pending) is still waiting for the user's approval (\(commands.approve) \(pending)). Check it with \(status), then call again."
        case .planRequired(let tool, let payment, nil):
            return
                "Paying \(payment.display) for \(tool) needs an approved spend plan: this session pays only for planned steps. Explore with free tools first, then propose the paid steps (tool, purpose, maxAmount per call, count) and a total with \(propose); once the user approves it, call again."
        case .outsidePlan(let tool, let payment, let plan, let evaluation):
            return
                "Paying \(payment.display) for \(tool) is outside the approved plan \(plan) (\(evaluation.explanation())). Revise the plan: close it with \(close) and propose one that covers this call with \(propose)."
        case .plansNotUsed:
            return
                "This session pays per call (it was not granted with --require-plan): no plan is needed; call the paid tools directly."
        case .planStillOpen(let id):
            return
                "Plan \(id) is still open. Close it with \(close) (outcome done or failed) before proposing another; \(status) shows it."
        case .planExceedsSession(let total, let remaining):
            return
                "The plan's total of \(total) is more than the session has left (\(remaining)). Propose a smaller plan, or ask the user for a larger budget."
        case .noOpenPlan: return "There is no open plan. Propose one with \(propose)."
        case .planDeclined(let id):
            return "The user declined plan \(id); it is closed. Revise it and propose again with \(propose), or stop."
        case .planNotApproved(let id, let reason):
            return "Plan \(id) could not be approved (\(reason)). Propose it again with \(propose)."
        default: return "The call was refused."
        }
    }

    private var callSentence: String {
        switch self {
        case .invalidArguments(let tool, let problems):
            return "Invalid arguments for \(tool): " + problems.map(\.message).joined(separator: "; ")
                + ". Fix the arguments and call again; nothing was sent upstream."
        case .idempotencyKeyNotString: return "idempotency_key must be a string."
        case .idempotencyKeyLength: return "An idempotency key is 1 to 128 characters."
        case .idempotencyWithoutLedger: return "Idempotency keys need the ledger, and no spending session exists yet."
        case .invalidURLArgument(let message): return message
        case .callPolicyDenied(let tool, let decision):
            return "Policy refused this call to \(tool): \(decision.summary)."
        case .idempotencyInProgress:
            return
                "A call with this idempotency key is still in progress (or its outcome is unknown). Do not retry with a new key; try the same key again later."
        case .idempotencyConflict:
            return
                "This idempotency key was already used with another tool or different arguments. Use a new key for a new purchase."
        case .secretMissing(let name):
            // Name the secret (not its value) so the operator can fix the configuration.
            return
                "This tool is not configured: the secret \(name) is not set for the Purser server. Ask the user to configure it; retrying will not help."
        case .noTransport(let tool): return "No transport for \(tool)."
        case .upstreamUnreachable(let code?, let message?):
            return "The upstream API could not be reached (\(code)): \(message)."
        case .upstreamUnreachable: return "The upstream API could not be reached."
        case .crossOriginRedirect:
            return
                "The upstream API redirected to another host; Purser does not follow it, so no credentials or payment travel there."
        default: return "The call was refused."
        }
    }

    private func paymentSentence(_ commands: OwnerCommands) -> String {
        switch self {
        case .unreadableChallenge(let reason):
            return "The upstream API asked for payment in a form Purser refuses (\(reason))."
        case .paymentsDisabled(let reasons):
            return
                "The upstream API asks for payment, and Purser cannot pay: \(reasons.joined(separator: "; ")). Ask the user to set up spending (\(commands.setUp))."
        case .noServiceableOffer(let reasons, _):
            return
                "The upstream API asks for a payment Purser's rules do not allow (\(reasons.joined(separator: "; ")))."
        case .payPolicyDenied(let tool, let payment, let decision):
            return
                "A payment policy does not allow paying \(payment.display) to \(payment.payee) for \(tool) (\(decision.summary))."
        case .changeDenied(_, let payment, let change, _):
            return
                "The payment of \(payment.display) was refused because it differs from what this tool paid before (\(change)), and the rules deny such changes. Ask the user to check the seller; retrying will not help."
        case .noSession(let agent, let asset):
            return
                "No active spending session lets \(agent) spend \(asset) (none granted, revoked or expired). Ask the user to grant one (\(commands.grant))."
        case .budgetExceeded(let evaluation, let payment):
            return "The spending limits do not allow paying \(payment.display): \(evaluation.explanation())."
        case .ledgerUnavailable: return "The spending ledger is unavailable. Ask the user to check Purser."
        default: return "The call was refused."
        }
    }

    private func approvalSentence(_ commands: OwnerCommands) -> String {
        switch self {
        case .approvalRequested(let id, let tool, let payment):
            return
                "Paying \(payment.display) to \(payment.payee) for \(tool) needs the user's approval. Ask the user to run `\(commands.approve) \(id)`, then call again with the same arguments and _meta {\"\(ToolCallPipeline.approvalMetaKey)\": \"\(id)\"}."
        case .changeApprovalRequested(let id, let tool, let payment, let change):
            return
                "Paying \(payment.display) to \(payment.payee) for \(tool) needs the user's approval because the payment changed: \(change). Ask the user to run `\(commands.approve) \(id)`, then call again with the same arguments and _meta {\"\(ToolCallPipeline.approvalMetaKey)\": \"\(id)\"}."
        case .approvalNotGranted(let id):
            return "The end user has not approved \(id) yet (\(commands.approve) \(id))."
        case .approvalStillRequired: return "This payment needs approval."
        case .approvalStateInvalid: return "The approval state is invalid, expired, or for another payment."
        case .approvalUnusable:
            return "That approval cannot be used (it is unknown, already used, expired, or for another payment)."
        case .approvalNotAccepted: return "The approval was not accepted."
        case .approvalNotRecorded: return "The approval could not be recorded."
        case .approvalDeclined(let payment?): return "The user declined paying \(payment.display)."
        case .approvalDeclined(nil): return "The payment was not approved."
        case .approvalRequestFailed(let message): return "The approval request failed (\(message))."
        default: return "The call was refused."
        }
    }

    private func settlementSentence(_ commands: OwnerCommands) -> String {
        switch self {
        case .signingFailed(let code): return "The wallet could not sign the payment (\(code))."
        case .paymentWindowMoved: return "The payment window moved while signing; retry."
        case .notDelivered(let message):
            return "The paid request could not be delivered (\(message)); you may retry."
        case .refusedAfterSigning(let reason, let payment, _):
            return
                "The upstream API refused the payment (\(reason)). \(payment.display) stays held until the chain or the user settles whether it was paid (\(commands.settle)). Do not retry with a new idempotency key."
        case .outcomeUnknown(let failure, let payment, _, _):
            return
                "The payment of \(payment.display) may have gone through: the outcome is unknown (\(failure)). Do not retry with a new idempotency key; retrying with the same key reports what is known. The amount stays held until the chain or the user settles it (\(commands.settle))."
        case .unexpectedPaymentOutcome:
            return "The payment outcome is unknown: it may have gone through. The amount stays reserved."
        case .unrecordedPayment(let payment, let transaction, _):
            return
                "The seller reported the payment of \(payment.display) as settled (transaction \(transaction)), but Purser could not record it: it may have gone through, and the amount stays held until it is recorded. Do not retry with a new idempotency key; ask the user to check Purser."
        case .settlementContradicted(let problems, let payment, _):
            return
                "The upstream API's settlement claim does not match the payment Purser signed (\(problems.joined(separator: "; "))). It is not treated as paid; \(payment.display) stays held until the chain or the user settles it (\(commands.settle)). Do not retry with a new idempotency key."
        case .stepOrder(let step, let signed):
            return "Purser could not complete this call (internal error in step \(step))."
                + (signed ? " The payment may have gone through; the amount stays reserved." : "")
        default: return "The call was refused."
        }
    }

    /// Machine-readable detail for `structuredContent` (the code is added by `ToolRefusal.result`).
    var detail: JSONObject {
        switch self {
        case .invalidArguments(_, let problems):
            return [
                "problems": .array(problems.map { ["path": .string($0.pointer), "message": .string($0.message)] })
            ]
        case .callPolicyDenied(_, let decision):
            var detail: JSONObject = ["deciding": .array(decision.deciding.map { .string($0) })]
            if !decision.errors.isEmpty { detail["skipped"] = .array(decision.errors.map { .string($0.policy) }) }
            return detail
        case .upstreamUnreachable(let code?, _): return ["reason": .string(code)]
        case .crossOriginRedirect(let status): return ["status": .number(JSONNumber(status))]
        case .noServiceableOffer(_, let offers): return ["offers": .number(JSONNumber(offers))]
        case .payPolicyDenied(_, _, let decision): return ["policies": .array(decision.deciding.map { .string($0) })]
        case .budgetExceeded(let evaluation, _):
            var detail: JSONObject = ["gate": .string(evaluation.reason)]
            if let check = evaluation.failures.first {
                detail["limit"] = .string(evaluation.display(check.limit))
                detail["used"] = .string(evaluation.display(check.used))
                detail["requested"] = .string(evaluation.display(check.requested))
                detail["shortfall"] = .string(evaluation.display(check.shortfall))
            }
            return detail
        case .approvalRequested(let id, _, let payment):
            return ["approvalId": .string(id), "amount": .string(payment.display), "payee": .string(payment.payee)]
        case .changeApprovalRequested(let id, _, let payment, let change):
            return [
                "approvalId": .string(id), "amount": .string(payment.display), "payee": .string(payment.payee),
                "change": .string(change),
            ]
        case .changeDenied(_, _, let change, let code): return ["change": .string(change), "changeCode": .string(code)]
        case .planRequired(_, let payment, let pending):
            var detail: JSONObject = ["amount": .string(payment.display)]
            if let pending { detail["plan"] = .string(pending) }
            return detail
        case .outsidePlan(_, let payment, let plan, let evaluation):
            var detail: JSONObject = [
                "plan": .string(plan), "gate": .string(evaluation.reason), "amount": .string(payment.display),
            ]
            if let check = evaluation.failures.first {
                if let code = check.detail { detail["planReason"] = .string(code) }
                if check.unit == .atomic {
                    detail["limit"] = .string(evaluation.display(check.limit))
                    detail["used"] = .string(evaluation.display(check.used))
                    detail["requested"] = .string(evaluation.display(check.requested))
                } else if check.unit == .count {
                    detail["limit"] = .number(JSONNumber(check.limit))
                    detail["used"] = .number(JSONNumber(check.used))
                }
            }
            return detail
        case .planStillOpen(let id), .planDeclined(let id): return ["plan": .string(id)]
        case .planNotApproved(let id, let reason): return ["plan": .string(id), "reason": .string(reason)]
        case .planExceedsSession(let total, let remaining):
            return ["total": .string(total), "remaining": .string(remaining)]
        case .approvalNotGranted(let id): return ["approvalId": .string(id)]
        case .refusedAfterSigning(let reason, _, let heldUntil):
            return ["reason": .string(reason), "heldUntil": .number(JSONNumber(heldUntil))]
        case .outcomeUnknown(_, _, let heldUntil, let reservation):
            return ["heldUntil": .number(JSONNumber(heldUntil)), "reservation": .string(reservation)]
        case .unrecordedPayment(_, let transaction, let reservation):
            return ["transaction": .string(transaction), "reservation": .string(reservation)]
        case .settlementContradicted(let problems, _, let reservation):
            return [
                "reservation": .string(reservation), "settlement": "contradicted",
                "problems": .array(problems.map { .string($0) }),
            ]
        default: return JSONObject()
        }
    }
}
