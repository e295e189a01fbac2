import JSONCore
public import Ledger

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
    /// No active spending session for this agent and asset (or payments are not set up).
    static let noSession = Self("no_session")
    /// A budget gate refused.
    static let budgetExceeded = Self("budget_exceeded")
    /// The payment needs the end user's approval (fallback token flow).
    static let approvalRequired = Self("approval_required")
    /// The human declined.
    static let approvalDeclined = Self("approval_declined")
    /// An approval was replayed, tampered with, expired, or is for another payment.
    static let approvalInvalid = Self("approval_invalid")
    /// The payment failed; the amount stays held until the authorization expires if it could still settle.
    static let paymentFailed = Self("payment_failed")
    /// The payment may have gone through; the outcome is unknown.
    static let outcomeUnknown = Self("outcome_unknown")
    /// The seller's settlement claim contradicts what was signed; the amount stays held.
    static let settlementContradicted = Self("settlement_contradicted")
    /// The pipeline's steps ran out of order (a programming error); refused, fail closed.
    static let internalError = Self("internal_error")
    /// The session requires a spend plan and none is approved.
    static let planRequired = Self("plan_required")
    /// The payment is outside the approved spend plan (other tool, larger amount, count or total used up).
    static let outsidePlan = Self("outside_plan")
    /// A plan tool in a session that does not use plans.
    static let planNotRequired = Self("plan_not_required")
    /// A plan is still open (propose a new one after closing it).
    static let planOpen = Self("plan_open")
    /// No open plan to show or close.
    static let noPlan = Self("no_plan")
    /// The plan could not be approved (expired, closed, or the session changed).
    static let planNotApproved = Self("plan_not_approved")
}

/// Whether money may have left the wallet when a call was refused: a property of the refusal.
public enum MoneyMovement: Sendable, Hashable {
    /// Nothing was signed that anyone can still settle: nothing was paid.
    case none
    /// A signed authorization left the process (or its fate is unknown): the amount stays held.
    case mayHaveMoved
}

/// A payment as the refusal sentences name it.
public struct PaymentSummary: Sendable, Hashable {
    /// The amount with its asset, e.g. `0.01 USDC`.
    public var display: String
    /// The payee address.
    public var payee: String

    /// Creates a summary.
    public init(display: String, payee: String) {
        self.display = display
        self.payee = payee
    }
}

/// Why a governed call was refused, as a value carrying its data. `CallRefusal+Wording.swift` is the only
/// place that turns one into the sentence the model reads and the `structuredContent` it gets.
public enum CallRefusal: Error, Sendable {
    /// The arguments do not match the input schema (step 1).
    case invalidArguments(tool: String, problems: [ArgumentProblem])
    /// `idempotency_key` was not a string (step 1).
    case idempotencyKeyNotString
    /// An idempotency key outside 1...128 characters (step 3).
    case idempotencyKeyLength
    /// An idempotency key was given, but no ledger exists to keep it (step 3).
    case idempotencyWithoutLedger
    /// An argument could not be placed in the URL template (step 4).
    case invalidURLArgument(message: String)
    /// The call policy denied the call (step 2).
    case callPolicyDenied(tool: String, decision: PolicyDecision)
    /// The same idempotency key is still running or its outcome is unknown (step 3).
    case idempotencyInProgress
    /// The same idempotency key was used with other arguments (step 3).
    case idempotencyConflict
    /// A secret the tool's upstream needs is not set (step 4).
    case secretMissing(name: String)
    /// No transport exists for the tool (step 4).
    case noTransport(tool: String)
    /// The upstream could not be reached; `code`/`message` from the transport when known (step 4).
    case upstreamUnreachable(code: String?, message: String?)
    /// The upstream redirected to another origin (step 4).
    case crossOriginRedirect(status: Int)
    /// The 402 could not be read (step 5).
    case unreadableChallenge(reason: String)
    /// The upstream asks for payment and payments are disabled (step 5).
    case paymentsDisabled(reasons: [String])
    /// No offer of the 402 is allowed by the rules (step 5).
    case noServiceableOffer(reasons: [String], offers: Int)
    /// The pay policy denied the chosen payment (step 6).
    case payPolicyDenied(tool: String, payment: PaymentSummary, decision: PolicyDecision)
    /// The change rules deny paying a changed payee, network, price or facilitator (step 5b).
    case changeDenied(tool: String, payment: PaymentSummary, change: String, code: String)
    /// A change needs the human: the fallback approval was created (step 8).
    case changeApprovalRequested(id: String, tool: String, payment: PaymentSummary, change: String)
    /// No active session lets the agent spend the asset (step 7).
    case noSession(agent: String, asset: String)
    /// A budget gate refused (steps 7 and 9).
    case budgetExceeded(GateEvaluation, payment: PaymentSummary)
    /// The fallback approval was created; the end user must approve it (step 8).
    case approvalRequested(id: String, tool: String, payment: PaymentSummary)
    /// The presented fallback approval is not approved yet (step 8).
    case approvalNotGranted(id: String)
    /// The gates still want an approval after every channel was tried (step 9).
    case approvalStillRequired
    /// An MRTR request state is invalid, expired, or for another payment (step 8).
    case approvalStateInvalid
    /// A presented approval is unknown, used, expired, or for another payment (step 8).
    case approvalUnusable
    /// The ledger did not accept a given approval when reserving (step 9).
    case approvalNotAccepted
    /// An in-band approval could not be recorded as redeemed (step 8).
    case approvalNotRecorded
    /// The human declined; `payment` is named when known (step 8).
    case approvalDeclined(payment: PaymentSummary?)
    /// Asking the human failed (step 8).
    case approvalRequestFailed(message: String)
    /// The ledger could not be read or written before anything was signed.
    case ledgerUnavailable
    /// The wallet could not sign (step 9).
    case signingFailed(code: String)
    /// The signature's validity outlasts the hold; it was never sent (step 9).
    case paymentWindowMoved
    /// The paid request provably never left this machine (step 10).
    case notDelivered(message: String)
    /// The upstream refused the signed payment; it could still settle until `heldUntil` (step 10).
    case refusedAfterSigning(reason: String, payment: PaymentSummary, heldUntil: Int64)
    /// The payment may have gone through (step 10).
    case outcomeUnknown(failure: String, payment: PaymentSummary, heldUntil: Int64, reservation: String)
    /// The x402 client returned an outcome a retry never produces (step 10).
    case unexpectedPaymentOutcome
    /// The seller reported a settlement but the ledger could not record it (step 12): held, never released.
    case unrecordedPayment(payment: PaymentSummary, transaction: String, reservation: String)
    /// The seller's settlement claim contradicts what was signed (step 10b); held, never shown as paid.
    case settlementContradicted(problems: [String], payment: PaymentSummary, reservation: String)
    /// A step found the call's state incomplete (a programming error in the step order).
    case stepOrder(step: String, signed: Bool)
    /// The session requires a spend plan and none is approved; `pending` names a plan waiting for the human
    /// (step 5c, or the reservation's `plan` gate).
    case planRequired(tool: String, payment: PaymentSummary, pending: String?)
    /// The payment is outside the approved plan `plan`: the evaluation's failing gate says how (step 5c or 9a).
    case outsidePlan(tool: String, payment: PaymentSummary, plan: String, evaluation: GateEvaluation)
    /// A plan tool was called in a session that pays per call (not granted with `--require-plan`).
    case plansNotUsed
    /// A new plan was proposed while `id` is still open.
    case planStillOpen(id: String)
    /// The plan's total does not fit what the session has left (`remaining`, displayed).
    case planExceedsSession(total: String, remaining: String)
    /// There is no open plan.
    case noOpenPlan
    /// The human declined the plan (it is closed).
    case planDeclined(id: String)
    /// The plan could not be approved: `reason` (expired, closed, session revoked or expired, budget).
    case planNotApproved(id: String, reason: String)

    /// The stable code for `structuredContent.error`, receipts and traces.
    public var code: ToolRefusal.Code {
        switch self {
        case .invalidArguments, .idempotencyKeyNotString, .idempotencyKeyLength, .idempotencyWithoutLedger,
            .invalidURLArgument:
            return .invalidArguments
        case .callPolicyDenied: return .policyDenied
        case .idempotencyInProgress: return .idempotencyInProgress
        case .idempotencyConflict: return .idempotencyConflict
        case .secretMissing: return .notConfigured
        case .noTransport, .upstreamUnreachable: return .upstreamFailed
        case .crossOriginRedirect: return .crossOriginRedirect
        case .unreadableChallenge, .noServiceableOffer: return .paymentUnserviceable
        case .paymentsDisabled, .noSession: return .noSession
        case .payPolicyDenied, .changeDenied: return .paymentPolicyDenied
        case .budgetExceeded: return .budgetExceeded
        case .approvalRequested, .changeApprovalRequested, .approvalNotGranted, .approvalStillRequired:
            return .approvalRequired
        case .approvalStateInvalid, .approvalUnusable, .approvalNotAccepted, .approvalNotRecorded:
            return .approvalInvalid
        case .approvalDeclined, .approvalRequestFailed: return .approvalDeclined
        case .ledgerUnavailable: return .ledgerUnavailable
        case .signingFailed, .paymentWindowMoved, .notDelivered, .refusedAfterSigning: return .paymentFailed
        case .outcomeUnknown, .unexpectedPaymentOutcome, .unrecordedPayment: return .outcomeUnknown
        case .settlementContradicted: return .settlementContradicted
        case .stepOrder: return .internalError
        case .planRequired: return .planRequired
        case .outsidePlan: return .outsidePlan
        case .plansNotUsed: return .planNotRequired
        case .planStillOpen: return .planOpen
        case .planExceedsSession: return .budgetExceeded
        case .noOpenPlan: return .noPlan
        case .planDeclined: return .approvalDeclined
        case .planNotApproved: return .planNotApproved
        }
    }

    /// Whether money may have moved: decides the wording, the hold and whether the idempotency key stays bound.
    public var money: MoneyMovement {
        switch self {
        case .refusedAfterSigning, .outcomeUnknown, .unexpectedPaymentOutcome, .unrecordedPayment,
            .settlementContradicted:
            return .mayHaveMoved
        case .stepOrder(_, let signed):
            return signed ? .mayHaveMoved : .none
        default:
            return .none
        }
    }
}

/// One schema problem of the arguments.
public struct ArgumentProblem: Sendable, Hashable {
    /// JSON Pointer to the offending value.
    public var pointer: String
    /// What is wrong.
    public var message: String

    /// Creates a problem.
    public init(pointer: String, message: String) {
        self.pointer = pointer
        self.message = message
    }
}
