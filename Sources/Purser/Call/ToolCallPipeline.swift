import Dispatch
import FoundationEssentials
public import JSONCore
public import MCP
public import X402

/// The governed tool call as a short loop over named steps, each of which may end the call.
///
/// Steps, in order (`standardSteps`, the table of `docs/governed-call.md`): input check → call policy →
/// idempotency claim → upstream request → offer selection → pay policy → limits and approval →
/// reservation → signing → settlement → receipt; then the call is recorded once (trace, settlement
/// commit, idempotency completion). A refusal at any step is an `isError` result and nothing after it
/// runs; nothing is signed before every check passed, and nothing is signed twice for one call.
public final class ToolCallPipeline: Sendable {
    /// Redirects followed within the same origin, at most.
    public static let maximumRedirects = 3
    /// The argument name Purser adds to paid tools for idempotency keys.
    public static let idempotencyArgument = "idempotency_key"
    /// The `_meta` key for idempotency keys.
    public static let idempotencyMetaKey = "com.purser/idempotency-key"
    /// The `_meta` key for fallback approval ids.
    public static let approvalMetaKey = "com.purser/approval"

    let catalog: ToolCatalog
    let environment: CallEnvironment
    let steps: [any CallStep]
    /// Purser's own spend-plan tools (listed where a session requires a plan).
    let planTools: PlanTools

    /// Creates a pipeline.
    /// - Parameters:
    ///   - catalog: the tools.
    ///   - transport: makes the HTTP transport for a tool (its timeout and size cap come from the manifest).
    ///   - secrets: where secret headers come from.
    ///   - authorizer: the call and pay policy (both are always asked).
    ///   - payments: whether and how this pipeline pays (`.disabled` refuses every 402 with the reasons).
    ///   - log: where failed ledger writes are reported (stderr by default; never stdout).
    ///   - ownerCommands: the commands refusals tell the user to run (`.vault` behind `purser vault`).
    public convenience init(
        catalog: ToolCatalog, transport: (ToolManifest) -> any HTTPTransport, secrets: any SecretSource,
        authorizer: any CallAuthorizer, payments: Payments,
        log: @escaping @Sendable (String) -> Void = ToolCallPipeline.standardError,
        ownerCommands: OwnerCommands = .singleUser
    ) {
        self.init(
            catalog: catalog, transport: transport, secrets: secrets, authorizer: authorizer, payments: payments,
            log: log, ownerCommands: ownerCommands, steps: Self.standardSteps)
    }

    /// Creates a pipeline from a payment environment (`environment.payments` decides enabled or disabled).
    public convenience init(
        catalog: ToolCatalog, transport: (ToolManifest) -> any HTTPTransport, secrets: any SecretSource,
        authorizer: any CallAuthorizer, payments: PaymentEnvironment?,
        log: @escaping @Sendable (String) -> Void = ToolCallPipeline.standardError,
        ownerCommands: OwnerCommands = .singleUser
    ) {
        self.init(
            catalog: catalog, transport: transport, secrets: secrets, authorizer: authorizer,
            payments: payments?.payments ?? .disabled(reasons: ["payments are not enabled"], ledger: nil), log: log,
            ownerCommands: ownerCommands)
    }

    init(
        catalog: ToolCatalog, transport: (ToolManifest) -> any HTTPTransport, secrets: any SecretSource,
        authorizer: any CallAuthorizer, payments: Payments, log: @escaping @Sendable (String) -> Void,
        ownerCommands: OwnerCommands = .singleUser, steps: [any CallStep]
    ) {
        self.catalog = catalog
        var transports: [String: any HTTPTransport] = [:]
        for manifest in catalog.manifests {
            // Scrubbing wraps everything: no upstream byte reaches a result, trace or record unscrubbed.
            transports[manifest.name] = SecretScrubbingTransport(
                base: SameOriginRedirects(base: transport(manifest), manifest: manifest),
                secretHeaders: manifest.upstream.secretHeaders)
        }
        self.environment = CallEnvironment(
            transports: transports, secrets: secrets, authorizer: authorizer, payments: payments,
            backlog: LedgerBacklog(log: log), log: log, ownerCommands: ownerCommands)
        self.steps = steps
        self.planTools = PlanTools(catalog: catalog, environment: environment)
    }

    /// Writes one line to stderr.
    public static let standardError: @Sendable (String) -> Void = { line in
        StandardStream.error.write(line + "\n")
    }

    /// The tools `agent` may see.
    public func visibleTools(agent: String) async -> [ToolManifest] {
        var visible: [ToolManifest] = []
        for manifest in catalog.manifests where await environment.authorizer.mayEverCall(agent: agent, tool: manifest) {
            visible.append(manifest)
        }
        return visible
    }

    /// The listing of a tool: paid tools gain the optional idempotency-key argument.
    public func listing(of manifest: ToolManifest) -> ToolDescription {
        var description = manifest.toolDescription
        guard manifest.price != nil, var schema = description.inputSchema.objectValue else { return description }
        var properties = schema["properties"]?.objectValue ?? JSONObject()
        if properties[Self.idempotencyArgument] == nil {
            properties[Self.idempotencyArgument] = [
                "type": "string", "minLength": 1, "maxLength": 128,
                "description":
                    "Optional. Reuse the same key when retrying the same purchase: a retry then returns the first result and pays nothing. Use a new key only for a new purchase.",
            ]
            schema["properties"] = .object(properties)
            description.inputSchema = .object(schema)
        }
        return description
    }

    /// Runs one call. An unknown tool is a protocol error; everything else is a result. Purser's own
    /// spend-plan tools (`purser_plan_…`, a prefix manifests cannot use) are answered by `PlanTools`.
    public func call(name: String, arguments: JSONObject, caller: CallerContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        if PlanTools.names.contains(name) {
            return await planTools.call(name: name, arguments: arguments, caller: caller)
        }
        guard let manifest = catalog.manifest(named: name) else {
            throw MCPError.invalidParams("Unknown tool: \(name)")
        }
        var state = CallState(manifest: manifest, arguments: arguments, caller: caller)
        state.trace.started = DispatchTime.now().uptimeNanoseconds
        for step in steps {
            if case .finish(let end) = await step.run(&state, in: environment) {
                return await record(end, state: &state)
            }
        }
        // Every standard run ends at the receipt; a pipeline whose steps never finish refuses.
        return await record(.refused(.stepOrder(step: "end", signed: state.signed != nil)), state: &state)
    }
}
