import FoundationEssentials
import JSONCore
import Ledger
import MCP
import X402

/// One step of the governed call: reads and extends the call's state, then lets the call go on or ends it.
///
/// Steps run in the order of `ToolCallPipeline.standardSteps` (the table of `docs/governed-call.md`).
/// A step never writes the trace or words a refusal: it records facts in `state.trace` and returns a
/// `CallEnd` value; the pipeline records the trace once and `CallRefusal+Wording.swift` words refusals.
protocol CallStep: Sendable {
    /// The step's name, for docs and internal errors.
    var name: String { get }
    /// Runs the step.
    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome
}

/// What a step decided.
enum StepOutcome: Sendable {
    /// Go on with the next step.
    case proceed
    /// The call ends here.
    case finish(CallEnd)
}

/// How a call ended, before it is recorded.
enum CallEnd: Sendable {
    /// The upstream answered without asking for payment.
    case answered(ToolResult)
    /// A stored idempotent result, returned again.
    case replayed(ToolResult)
    /// Refused (before, during or after paying; `CallRefusal.money` says whether money may have moved).
    case refused(CallRefusal)
    /// MRTR: waiting for the human's approval.
    case awaitingInput(ToolCallOutcome)
    /// Paid: the result with its receipt; the settlement in `state.settled` is committed when recorded.
    case paid(ToolResult)
}

/// What every step may use, the same for every call of a pipeline.
struct CallEnvironment: Sendable {
    /// One transport per tool (same-origin redirects only).
    let transports: [String: any HTTPTransport]
    /// Where secret headers come from.
    let secrets: any SecretSource
    /// Call and pay policy.
    let authorizer: any CallAuthorizer
    /// Whether and how this pipeline pays.
    let payments: Payments
    /// Failed ledger writes waiting for the ledger to accept writes again.
    let backlog: LedgerBacklog
    /// stderr (never stdout, which is JSON-RPC).
    let log: @Sendable (String) -> Void
    /// The commands refusals tell the user to run (single-user mode or the vault).
    var ownerCommands: OwnerCommands = .singleUser
}

/// The steps every pipeline runs, in order.
extension ToolCallPipeline {
    /// The governed call, step by step (`docs/governed-call.md`). To add a step, write a `CallStep` type
    /// in `Steps/` and insert it here at its place; the other steps do not change.
    static let standardSteps: [any CallStep] = [
        InputCheckStep(), CallPolicyStep(), IdempotencyClaimStep(), UpstreamRequestStep(), OfferSelectionStep(),
        ChangeDetectionStep(), SpendPlanStep(), PayPolicyStep(), LimitsAndApprovalStep(), ReservationStep(),
        SigningStep(),
        SettlementStep(), SettlementClaimStep(), ReceiptStep(),
    ]
}
