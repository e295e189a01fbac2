public import Cedar
import FoundationEssentials
public import JSONCore
import MCP

/// What policy may know about a tool (from its manifest): the `Tool::"<name>"` entity.
public struct ToolFacts: Sendable, Hashable {
    /// The MCP tool name: the entity id.
    public var name: String
    /// `resource.tags`.
    public var tags: Set<String>
    /// Tool groups: the entity's parents `ToolGroup::"<group>"`.
    public var groups: [String]
    /// The announced price in whole asset units as an exact decimal string (e.g. `"0.01"`), if any:
    /// `resource.price` as a Cedar decimal (omitted when it has more than 4 fractional digits).
    public var priceHint: String?
    /// The asset of the price hint (e.g. `"USDC"`): `resource.priceAsset`.
    public var priceAsset: String?
    /// The tool's `inputSchema`: arguments declared `number` become decimals even when written as integers.
    public var inputSchema: JSONValue?

    /// Creates facts.
    public init(
        name: String, tags: Set<String> = [], groups: [String] = [], priceHint: String? = nil,
        priceAsset: String? = nil
    ) {
        self.name = name
        self.tags = tags
        self.groups = groups
        self.priceHint = priceHint
        self.priceAsset = priceAsset
    }

    /// The facts of a loaded tool manifest.
    public init(manifest: ToolManifest) {
        self.init(
            name: manifest.name, tags: Set(manifest.tags), groups: manifest.groups,
            priceHint: manifest.price?.amount, priceAsset: manifest.price?.asset)
        self.inputSchema = manifest.inputSchema.document
    }
}

/// The payment a tool call is about to make (from the chosen x402 requirement). Amounts are exact.
public struct PaymentFacts: Sendable, Hashable {
    /// The amount in the asset's atomic units, as a decimal integer string (uint256 range).
    public var amountAtomic: String
    /// The asset's decimals (6 for USDC): `amount = amountAtomic / 10^decimals`.
    public var decimals: Int
    /// The asset (symbol or contract address, as the rules name it).
    public var asset: String
    /// The network, e.g. `base` or `eip155:8453`.
    public var network: String
    /// The payee address.
    public var payTo: String
    /// How this payment differs from what the tool paid before (`context.payeeIsNew`, …).
    public var change: ChangeFacts
    /// The payment is a step of the session's approved spend plan (`context.inPlan`).
    public var inPlan: Bool

    /// Creates facts.
    public init(
        amountAtomic: String, decimals: Int, asset: String, network: String, payTo: String,
        change: ChangeFacts = ChangeFacts(), inPlan: Bool = false
    ) {
        self.inPlan = inPlan
        self.amountAtomic = amountAtomic
        self.decimals = decimals
        self.asset = asset
        self.network = network
        self.payTo = payTo
        self.change = change
    }
}

/// How a payment differs from the tool's payment history: `context.payeeIsNew`, `context.networkChanged`
/// and `context.priceRatio` of the pay policy. A tool that never paid has no change (trust on first use;
/// `allow.payees` in limits.json governs a first payee).
public struct ChangeFacts: Sendable, Hashable {
    /// The tool has paid before, never this payee.
    public var payeeIsNew: Bool
    /// The tool has paid before, never on this network or in this asset.
    public var networkChanged: Bool
    /// This amount ÷ the highest the tool paid before in this asset, ×10⁴ rounded up (1.0 without history).
    public var priceRatioScaled: Int64

    /// Creates facts (the defaults: nothing changed).
    public init(payeeIsNew: Bool = false, networkChanged: Bool = false, priceRatioScaled: Int64 = 10_000) {
        self.payeeIsNew = payeeIsNew
        self.networkChanged = networkChanged
        self.priceRatioScaled = priceRatioScaled
    }
}

/// Who is calling, as far as the MCP client said: `context.client`.
public struct ClientFacts: Sendable, Hashable {
    /// The client's name from `initialize`.
    public var name: String?
    /// The client's version from `initialize`.
    public var version: String?

    /// Creates facts.
    public init(name: String? = nil, version: String? = nil) {
        self.name = name
        self.version = version
    }
}

/// The answer of the policy engine for one step.
public struct PolicyDecision: Sendable, Hashable {
    /// A policy that errored for this request (and was therefore skipped).
    public struct PolicyError: Sendable, Hashable {
        /// The `@id` when present, else the positional id.
        public var policy: String
        /// What went wrong.
        public var message: String
    }

    /// True only when some permit held and no forbid did.
    public var allowed: Bool
    /// The deciding policies (`@id` when present, else positional): the permits when allowed, the forbids
    /// when denied; empty for a default deny.
    public var deciding: [String]
    /// Policies that errored and were skipped.
    public var errors: [PolicyError]
    /// Why the engine refused without evaluating (no valid policies, an argument Cedar cannot represent).
    public var refusal: String?
    /// True when an allowing permit carries `@approval("required")`: the human must approve the payment
    /// whatever the amount.
    public var requiresApproval = false

    /// Creates a decision (for authorizers other than the Cedar store).
    public init(
        allowed: Bool, deciding: [String], errors: [PolicyError] = [], refusal: String? = nil,
        requiresApproval: Bool = false
    ) {
        self.allowed = allowed
        self.deciding = deciding
        self.errors = errors
        self.refusal = refusal
        self.requiresApproval = requiresApproval
    }

    /// A one-line explanation for refusals and traces (no argument values).
    public var summary: String {
        if let refusal { return "denied: \(refusal)" }
        var text = allowed ? "allowed by " : "denied"
        if allowed {
            text += deciding.joined(separator: ", ")
        } else if deciding.isEmpty {
            text += " (no permit applies)"
        } else {
            text += " by " + deciding.joined(separator: ", ")
        }
        if !errors.isEmpty { text += "; skipped after errors: " + errors.map { $0.policy }.joined(separator: ", ") }
        return text
    }

    static func refused(_ why: String) -> PolicyDecision {
        PolicyDecision(allowed: false, deciding: [], errors: [], refusal: why)
    }
}

/// Loads `policies/*.cedar` and `policies/entities.json`, reloads them when they change, and answers the
/// product's questions as Cedar requests.
///
/// Requests:
/// - a call: `Agent::"<agent>"`, `Action::"call_tool"`, `Tool::"<name>"`, context `{params, tool, client?}`;
/// - a payment: `Action::"pay"`, context `{amount, amountAtomic, asset, network, payTo, tool, params}`.
///
/// A reload is atomic: a broken edit keeps the last good set in force and is reported by `status()` with
/// file, line and column. With no good set at all, everything is denied.
public actor PolicyStore: CallAuthorizer {
    /// How the store watches its files.
    public struct Configuration: Sendable {
        /// The policies directory.
        public var directory: String
        /// Minimum time between two looks at the files.
        public var reloadInterval: Duration
        /// The clock that paces reload checks (injected for tests).
        public var now: @Sendable () -> ContinuousClock.Instant

        /// Creates a configuration.
        public init(
            directory: String, reloadInterval: Duration = .seconds(1),
            now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
        ) {
            self.directory = directory
            self.reloadInterval = reloadInterval
            self.now = now
        }
    }

    private let configuration: Configuration
    private var files: PolicyFiles?
    private var problem: Diagnostic?
    private var lastCheck: ContinuousClock.Instant?
    private var toolStores: [ToolFacts: Result<Entities, CedarDataError>] = [:]
    /// Display names and `@approval("required")` permits of the loaded set (per policy generation).
    private var decisionFacts: (names: [String: String], approval: Set<String>)?

    /// Loads the directory now; a problem is kept for `status()` and everything is denied until fixed.
    public init(configuration: Configuration) {
        self.configuration = configuration
        do {
            files = try PolicyFiles.load(directory: configuration.directory)
        } catch {
            problem = error.diagnostic
        }
        lastCheck = configuration.now()
    }

    /// Loads `directory` with the default configuration.
    public init(directory: String) {
        self.init(configuration: Configuration(directory: directory))
    }

    /// The policies in force (count) and the last load problem, if the last edit was refused.
    public func status() -> (policies: Int, problem: Diagnostic?) {
        (files?.policySet.policies.count ?? 0, problem)
    }

    /// Re-reads the files if they changed since the last good load. Returns the problem if the new version
    /// was refused (the previous set stays in force).
    @discardableResult
    public func reloadIfChanged(force: Bool = false) -> Diagnostic? {
        let now = configuration.now()
        if !force, let lastCheck, lastCheck.duration(to: now) < configuration.reloadInterval { return problem }
        lastCheck = now
        let current = PolicyFiles.currentFingerprint(directory: configuration.directory)
        if !force, let files, files.fingerprint == current { return problem }
        do {
            files = try PolicyFiles.load(directory: configuration.directory)
            toolStores = [:]
            decisionFacts = nil
            problem = nil
        } catch {
            problem = error.diagnostic
        }
        return problem
    }

    // MARK: Questions

    /// May `agent` call `tool` with these arguments?
    public func authorizeToolCall(
        agent: String, tool: ToolFacts, arguments: JSONValue, client: ClientFacts? = nil,
        session: SessionFacts? = nil
    ) -> PolicyDecision {
        reloadIfChanged()
        guard let files else { return .refused(noPolicies) }
        let params: CedarValue
        // In the agents' shape a string `enum` argument is an entity of its enumerated type, as in the schema.
        let enumType = files.shape == .agents ? PolicySchema.enumNamespace(tool: tool.name) : nil
        switch PolicyContext.value(arguments, schema: tool.inputSchema, enumType: enumType) {
        case .success(let value): params = value
        case .failure(let problem): return .refused(problem.message)
        }
        if files.shape == .agents {
            guard tool.name != "pay" else {
                return .refused(
                    "a tool named `pay` cannot be governed in the agents' shape: its action is the payment's")
            }
            return decide(files, agent: agent, action: tool.name, tool: tool, context: ["input": params])
        }
        var context: [CedarString: CedarValue] = ["params": params, "tool": .string(CedarString(tool.name))]
        if let client { context["client"] = PolicyContext.client(client) }
        if let session {
            switch session.cedarValue() {
            case .success(let value): context["session"] = value
            case .failure(let problem): return .refused(problem.message)
            }
        }
        return decide(files, agent: agent, action: "call_tool", tool: tool, context: context)
    }

    /// May `agent` pay for a call to `tool`? `arguments` become `context.params`.
    public func authorizePayment(
        agent: String, tool: ToolFacts, payment: PaymentFacts, arguments: JSONValue = .object(JSONObject()),
        session: SessionFacts? = nil
    ) -> PolicyDecision {
        reloadIfChanged()
        guard let files else { return .refused(noPolicies) }
        let params: CedarValue
        switch PolicyContext.value(arguments, schema: tool.inputSchema) {
        case .success(let value): params = value
        case .failure(let problem): return .refused(problem.message)
        }
        let amounts: (amount: CedarValue, atomic: CedarValue)
        switch PolicyContext.amounts(payment) {
        case .success(let value): amounts = value
        case .failure(let problem): return .refused(problem.message)
        }
        var context: [CedarString: CedarValue] = [
            "amount": amounts.amount, "amountAtomic": amounts.atomic, "asset": .string(CedarString(payment.asset)),
            "network": .string(CedarString(payment.network)), "payTo": .string(CedarString(payment.payTo)),
            "tool": .string(CedarString(tool.name)),
            "payeeIsNew": .bool(payment.change.payeeIsNew), "networkChanged": .bool(payment.change.networkChanged),
            "priceRatio": .decimal(CedarDecimal(scaled: payment.change.priceRatioScaled)),
            "inPlan": .bool(payment.inPlan),
        ]
        if let session {
            switch session.cedarValue() {
            case .success(let value): context["session"] = value
            case .failure(let problem): return .refused(problem.message)
            }
        }
        // In the agents' shape one `pay` action serves every tool, so its context cannot type each tool's input.
        if files.shape == .purser { context["params"] = params }
        return decide(files, agent: agent, action: "pay", tool: tool, context: context)
    }

    /// Whether some call by `agent` to `tool` could be permitted, for filtering `tools/list`.
    ///
    /// Conservative: conditions that do not read `context` are evaluated exactly; a permit whose conditions
    /// read `context` is assumed able to hold, a forbid whose conditions read `context` able not to. So a tool
    /// is hidden only when every call would certainly be denied; listing never grants anything, since each
    /// call is still authorized on its own.
    public func mayEverCall(agent: String, tool: ToolFacts) -> Bool {
        reloadIfChanged()
        guard let files else { return false }
        let (principal, action, resource) = Self.request(files, agent: agent, action: "call_tool", tool: tool.name)
        // Entities that cannot take the tool refuse every call to it (see `decide`), so it is never callable.
        guard case .success(let entities) = self.entities(for: tool, files) else { return false }
        return Authorizer().mayAllow(
            principal: principal, action: action, resource: resource, policies: files.policySet, entities: entities)
    }

    // MARK: CallAuthorizer

    public func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject) async -> PolicyDecision {
        authorizeToolCall(agent: agent, tool: ToolFacts(manifest: tool), arguments: .object(arguments))
    }

    public func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject, session: SessionFacts?)
        async -> PolicyDecision
    {
        authorizeToolCall(
            agent: agent, tool: ToolFacts(manifest: tool), arguments: .object(arguments), session: session)
    }

    public func authorizePayment(agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject) async
        -> PolicyDecision
    {
        authorizePayment(agent: agent, tool: ToolFacts(manifest: tool), payment: payment, arguments: .object(arguments))
    }

    public func authorizePayment(
        agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject, session: SessionFacts?
    ) async -> PolicyDecision {
        authorizePayment(
            agent: agent, tool: ToolFacts(manifest: tool), payment: payment, arguments: .object(arguments),
            session: session)
    }

    public func mayEverCall(agent: String, tool: ToolManifest) async -> Bool {
        mayEverCall(agent: agent, tool: ToolFacts(manifest: tool))
    }

    // MARK: Lint

    /// Everything `purser check` should say about a policies directory: parse and data errors (with file,
    /// line and column) and warnings (an unguarded attribute read in a `forbid`, decimals compared with `<`).
    ///
    /// With `tools`, every policy is also validated against the schema generated from them (`PolicySchema`),
    /// the way Cedar's strict validator does: each problem is an error.
    public static func lint(directory: String, tools: [ToolManifest]? = nil) -> [Diagnostic] {
        let files: PolicyFiles
        do {
            files = try PolicyFiles.load(directory: directory)
        } catch {
            return [error.diagnostic]
        }
        var warnings = PolicyLint.warnings(files.policySet)
        var problems: [ValidationError] = []
        if let tools {
            let schema = PolicySchema.generate(
                shape: files.shape, tools: tools.map { ($0.name, $0.inputSchema.document) }, entities: files.entities)
            problems = Validator(schema: schema).validate(files.policySet)
            // A policy that validates reads no attribute the schema does not guarantee (every attribute that
            // may be missing is optional there), so the lint's unguarded-read warning would be a false alarm.
            let invalid = Set(problems.map(\.policyID))
            warnings.removeAll { !invalid.contains($0.policyID) && $0.message.contains("without a `has` guard") }
        }
        var result: [Diagnostic] = []
        if let tools, files.shape == .purser {
            result += toolEntityProblems(directory: directory, files: files, tools: tools)
        }
        result += warnings.map { warning in
            Diagnostic(
                file: warning.file ?? directory,
                location: SourceLocation(line: warning.position.line, column: warning.position.column),
                severity: .warning, message: warning.message)
        }
        result += problems.map { problem in
            Diagnostic(
                file: problem.file ?? directory,
                location: SourceLocation(line: problem.position.line, column: problem.position.column),
                severity: .error, message: problem.message)
        }
        return result
    }

    /// A tool whose manifest's `groups` close a cycle with `entities.json` (a group that has the tool among its
    /// ancestors): every call to it would be refused, so `purser check` reports it where entities.json says it.
    private static func toolEntityProblems(directory: String, files: PolicyFiles, tools: [ToolManifest])
        -> [Diagnostic]
    {
        let path = PathText.join(directory, "entities.json")
        var result: [Diagnostic] = []
        for tool in tools {
            let facts = ToolFacts(manifest: tool)
            do {
                _ = try entities(files.entities, adding: facts)
            } catch {
                let uid = EntityUID(type: "Tool", id: tool.name)
                let groups = tool.groups.map { EntityUID(type: "ToolGroup", id: $0) }
                let bytes = FileManager.default.contents(atPath: path).map { Array($0) } ?? []
                let location = PolicyFiles.toolCycleLocation(
                    bytes: bytes, tool: uid, groups: groups, entities: files.entities)
                result.append(
                    Diagnostic(
                        file: path, location: location,
                        message: "\(uid) is made an ancestor of its own group here, and its manifest \(tool.file) puts "
                            + "it in groups \(tool.groups.map { "`\($0)`" }.joined(separator: ", ")): \(error.message); "
                            + "every call to `\(tool.name)` is refused until the cycle is removed"))
            }
        }
        return result
    }

    // MARK: Internals

    private var noPolicies: String {
        if let problem { return "no valid policies are loaded (\(problem))" }
        return "no valid policies are loaded"
    }

    private func decide(
        _ files: PolicyFiles, agent: String, action: String, tool: ToolFacts, context: [CedarString: CedarValue]
    ) -> PolicyDecision {
        let (principal, actionUID, resource) = Self.request(files, agent: agent, action: action, tool: tool.name)
        let request = Request(principal: principal, action: actionUID, resource: resource, context: context)
        // Fail closed: evaluating against fewer entities than configured could drop the membership a
        // `forbid` relies on (`principal in Group::"blocked"`) and let the call through.
        let entities: Entities
        switch self.entities(for: tool, files) {
        case .success(let store): entities = store
        case .failure(let error): return .refused(Self.entitiesRefusal(tool: tool.name, error))
        }
        let response = Authorizer().isAuthorized(request, policies: files.policySet, entities: entities)
        let facts = decisionFacts ?? Self.decisionFacts(files)
        decisionFacts = facts
        let (names, marked) = facts
        var decision = PolicyDecision(
            allowed: response.decision == .allow, deciding: response.reasons.map { names[$0] ?? $0 },
            errors: response.errors.map {
                PolicyDecision.PolicyError(policy: names[$0.policyID] ?? $0.policyID, message: $0.error.message)
            }, refusal: nil)
        decision.requiresApproval = decision.allowed && response.reasons.contains { marked.contains($0) }
        return decision
    }

    /// The request's entities in the configured shape. Purser's: `Agent::"<agent>"`, `Action::"<action>"`,
    /// `Tool::"<tool>"`. The agents': `Purser::Agent::"<agent>"`, `Purser::Action::"<action>"` (the tool's name
    /// for a call), `Purser::McpServer::"<server>"`.
    static func request(_ files: PolicyFiles, agent: String, action: String, tool: String) -> (
        EntityUID, EntityUID, EntityUID
    ) {
        switch files.shape {
        case .purser:
            return (
                EntityUID(type: "Agent", id: agent), EntityUID(type: "Action", id: action),
                EntityUID(type: "Tool", id: tool)
            )
        case .agents:
            let namespace = PolicySchema.agentsNamespace
            return (
                EntityUID(type: "\(namespace)::Agent", id: agent),
                EntityUID(type: "\(namespace)::Action", id: action == "call_tool" ? tool : action),
                EntityUID(type: "\(namespace)::McpServer", id: files.server)
            )
        }
    }

    private static func decisionFacts(_ files: PolicyFiles) -> (names: [String: String], approval: Set<String>) {
        let names = Dictionary(uniqueKeysWithValues: files.policySet.policies.map { ($0.id, $0.displayID) })
        let marked = Set(
            files.policySet.policies.filter { policy in
                policy.annotations.contains { $0.key == "approval" && $0.value == "required" }
            }.map { $0.id })
        return (names, marked)
    }

    /// The store with the tool's entity merged in (cached per tool and policy generation), or why it cannot be
    /// built (a cycle through the tool's groups): then every call to the tool is refused.
    private func entities(for tool: ToolFacts, _ files: PolicyFiles) -> Result<Entities, CedarDataError> {
        // The agents' shape has no Tool entity: the resource is the server.
        if files.shape == .agents { return .success(files.entities) }
        // The entity does not depend on the input schema; leaving it out of the key keeps the lookup cheap.
        var key = tool
        key.inputSchema = nil
        if let cached = toolStores[key] { return cached }
        let store = Result { () throws(CedarDataError) in try PolicyStore.entities(files.entities, adding: tool) }
        toolStores[key] = store
        return store
    }

    /// The refusal when the tool's entity cannot join `entities.json`.
    public static func entitiesRefusal(tool: String, _ error: CedarDataError) -> String {
        "the entities cannot take tool `\(tool)` (\(error.message)): its manifest's `groups` and entities.json "
            + "form a cycle, so no call to it is evaluated; `purser check` shows where"
    }

    /// `base` with the `Tool::"<name>"` entity built from `tool` merged in: attributes `name`, `tags`, `price`
    /// (decimal) and `priceAsset` override those in `base`; parents `ToolGroup::"<group>"` are added.
    ///
    /// - Throws: when the result is not a valid store (a group of the tool has the tool among its ancestors in
    ///   `base`: a cycle). There is no smaller fallback: a policy evaluated against less than the configured
    ///   entities could miss the membership a `forbid` relies on.
    public static func entities(_ base: Entities, adding tool: ToolFacts) throws(CedarDataError) -> Entities {
        let uid = EntityUID(type: "Tool", id: tool.name)
        let existing = base[uid]
        var attributes = existing?.attributes ?? [:]
        attributes["name"] = .string(CedarString(tool.name))
        attributes["tags"] = .set(Set(tool.tags.map { .string(CedarString($0)) }))
        if let hint = tool.priceHint, let price = CedarDecimal(parsing: PolicyContext.decimalText(hint)) {
            attributes["price"] = .decimal(price)
        }
        if let asset = tool.priceAsset { attributes["priceAsset"] = .string(CedarString(asset)) }
        var parents = existing?.parents ?? []
        for group in tool.groups {
            let parent = EntityUID(type: "ToolGroup", id: group)
            if !parents.contains(parent) { parents.append(parent) }
        }
        let entity = Entity(uid: uid, attributes: attributes, parents: parents, tags: existing?.tags ?? [:])
        return try base.adding([entity])
    }
}
