import FoundationEssentials
import JSONCore
import Ledger
import X402

/// The state of one governed call, filled in step by step (each phase's value exists once its step ran).
///
/// Like the x402 client's `PaymentChallenge` → `SignedPayment` → outcome, each phase is a value that only
/// its step creates: `payment` (offer selection), `hold` (reservation), `signed` (signing), `settled`
/// (settlement). A step that needs an earlier phase finds it here or ends the call (fail closed).
struct CallState: Sendable {
    /// The payment chosen from the 402.
    struct ChosenPayment: Sendable {
        var offer: PaymentOffer
        var asset: LimitsConfiguration.Asset
        var amount: Int64
        var summary: PaymentSummary
    }

    /// The durable hold of the amount.
    struct Hold: Sendable {
        var reservation: Reservation
        var evaluation: GateEvaluation
        /// The latest `validBefore` the authorization may carry.
        var holdUntil: Int64
        /// The EIP-3009 nonce to sign, chosen before the hold and stored with it (for reconciliation).
        var nonce: [UInt8] = []
        /// The x402 `payment-identifier` (stable per agent and idempotency key).
        var paymentID: String?
    }

    /// What the seller reported after the paid request (a claim until it is committed).
    struct SettledPayment: Sendable {
        var settlement: Settlement
        /// The upstream's paid answer.
        var response: HTTPResponse
        var payer: String
    }

    let manifest: ToolManifest
    let caller: CallerContext
    /// The arguments (the idempotency argument removed by the input check).
    var arguments: JSONObject
    /// The idempotency key from `_meta` or the arguments.
    var idempotencyKey: String?
    var trace: CallTrace

    /// The claimed idempotency key (ledger name), once step 3 claimed it.
    var idempotencyClaim: String?
    /// The x402 client of this call (transport, wallet, clock).
    var client: X402Client?
    /// The 402's requirements.
    var challenge: PaymentChallenge?
    var payment: ChosenPayment?
    /// A pay policy permit marked `@approval("required")` allowed the payment.
    var policyWantsApproval = false
    /// How the payment differs from the tool's history (change detection), for the pay policy.
    var changeFacts = ChangeFacts()
    /// What changed, when the change rules want the human to approve it (the approval says it).
    var changeToApprove: String?
    var session: PaymentSession?
    /// The approved spend plan this payment is a step of (a session granted with `--require-plan`).
    var plan: PlanStatus?
    var reservationRequest: ReservationRequest?
    var approvalBinding: ApprovalBinding?
    var hold: Hold?
    var signed: SignedPayment?
    var settled: SettledPayment?

    init(manifest: ToolManifest, arguments: JSONObject, caller: CallerContext) {
        self.manifest = manifest
        self.caller = caller
        self.arguments = arguments
        self.idempotencyKey = caller.meta[ToolCallPipeline.idempotencyMetaKey]?.stringValue
        self.trace = CallTrace(manifest: manifest)
    }

    /// Ends the call because an earlier phase is missing: refused, never paid past this point.
    func outOfOrder(_ step: String) -> StepOutcome {
        .finish(.refused(.stepOrder(step: step, signed: signed != nil)))
    }
}
