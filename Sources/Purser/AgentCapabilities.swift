import Cedar
import FoundationEssentials
public import Ledger

/// What one agent can do with the configured tools, policies and limits: which tools it can see and call,
/// and which paid tools can never be paid. `purser check --agent` prints it, `purser serve` prints its
/// summary line at start, so "the client sees zero tools" always comes with the reason.
public struct AgentCapabilities: Sendable {
    /// One tool as this agent sees it.
    public struct ToolAccess: Sendable, Hashable {
        /// The tool name.
        public var name: String
        /// Some call by the agent could be permitted (the tool is listed to it).
        public var callable: Bool
        /// The announced price, e.g. `0.01 USDC`; nil for a free tool.
        public var price: String?
        /// Why this paid tool can never be paid (empty when it can, or when it is free).
        public var unpayable: [String]
    }

    /// The agent.
    public var agent: String
    /// Every tool, in catalog order.
    public var tools: [ToolAccess]
    /// Why the agent can call nothing (nil when it can call something).
    public var noneReason: String?

    /// How many tools the agent may call.
    public var callableCount: Int { tools.filter(\.callable).count }

    /// `agent claude may call 2 of 3 tools`, with the reason when none.
    public var summary: String {
        var text = "agent \(agent) may call \(callableCount) of \(tools.count) tool\(tools.count == 1 ? "" : "s")"
        if let noneReason { text += ": \(noneReason)" }
        return text
    }

    /// Every warning: none callable, and each paid tool that can never be paid.
    public var warnings: [String] {
        var all: [String] = []
        if callableCount == 0 { all.append(summary) }
        for tool in tools where tool.callable {
            for reason in tool.unpayable { all.append("\(tool.name) can never be paid: \(reason)") }
        }
        return all
    }

    /// Assesses `agent` against the loaded runtime.
    ///
    /// - Parameters:
    ///   - limits: `limits.json`, nil when missing or invalid (`limitsProblem` says which).
    public static func assess(
        agent: String, manifests: [ToolManifest], policies: PolicyStore, policiesDirectory: String,
        limits: LimitsConfiguration?, limitsProblem: String?
    ) async -> AgentCapabilities {
        var tools: [ToolAccess] = []
        for manifest in manifests {
            let facts = ToolFacts(manifest: manifest)
            let callable = await policies.mayEverCall(agent: agent, tool: facts)
            var unpayable: [String] = []
            if let price = manifest.price {
                unpayable = await payProblems(
                    agent: agent, tool: facts, price: price, policies: policies, limits: limits,
                    limitsProblem: limitsProblem)
            }
            tools.append(
                ToolAccess(
                    name: manifest.name, callable: callable, price: manifest.price.map { "\($0.amount) \($0.asset)" },
                    unpayable: unpayable))
        }
        var result = AgentCapabilities(agent: agent, tools: tools, noneReason: nil)
        if result.callableCount == 0 {
            result.noneReason = await noneReason(
                agent: agent, toolCount: manifests.count, policies: policies, directory: policiesDirectory)
        }
        return result
    }

    private static func noneReason(agent: String, toolCount: Int, policies: PolicyStore, directory: String) async
        -> String
    {
        if toolCount == 0 { return "there are no tools (add manifests to the tools folder, or `purser tool add URL`)" }
        let status = await policies.status()
        if let problem = status.problem { return "the policies do not load (\(problem.description))" }
        if status.policies == 0 { return "there are no policies in \(directory), so every call is denied" }
        var text = "no policy permits Agent::\"\(agent)\""
        if let files = try? PolicyFiles.load(directory: directory) {
            let known = files.entities.all.filter { $0.uid.type == "Agent" }.map { $0.uid.id.value }.sorted()
            if !known.contains(agent) {
                text += " (it is not in \(directory)/entities.json"
                text += known.isEmpty ? ")" : "; the agents there are \(known.joined(separator: ", ")))"
            }
        }
        return text
            + "; to let it call every tool, add `permit (principal == Agent::\"\(agent)\", action == Action::\"call_tool\", resource);` to a .cedar file in \(directory) (docs/policies.md)"
    }

    private static func payProblems(
        agent: String, tool: ToolFacts, price: ToolManifest.PriceHint, policies: PolicyStore,
        limits: LimitsConfiguration?, limitsProblem: String?
    ) async -> [String] {
        guard let limits else { return [limitsProblem ?? "limits.json is missing or invalid"] }
        var problems: [String] = []
        guard let asset = limits.assets[price.asset] else {
            return ["its asset \(price.asset) is not declared in limits.json \"assets\""]
        }
        if !limits.allowedAssets.isEmpty, !limits.allowedAssets.contains(price.asset) {
            problems.append("its asset \(price.asset) is not in limits.json \"allow\".\"assets\"")
        }
        if let network = price.network {
            if !limits.allowedNetworks.isEmpty, !limits.allowedNetworks.contains(network) {
                problems.append("its network \(network) is not in limits.json \"allow\".\"networks\"")
            }
            if asset.contracts[network] == nil {
                problems.append(
                    "limits.json \"assets\".\"\(price.asset)\".\"networks\" has no contract for \(network)")
            }
        }
        if let payTo = price.payTo, !limits.allowedPayees.allows(payTo) {
            problems.append("its payee \(payTo) is not in limits.json \"allow\".\"payees\"")
        }
        if case .success(let atomic) = AssetAmount.parse(price.amount, decimals: asset.decimals),
            let cap = limits.limits(for: price.asset).perCall, atomic > cap
        {
            problems.append(
                "its price \(price.amount) \(price.asset) is above the per-call limit \(AssetAmount.format(cap, decimals: asset.decimals)) in limits.json"
            )
        }
        if problems.isEmpty, let network = price.network, let payTo = price.payTo,
            case .success(let atomic) = AssetAmount.parse(price.amount, decimals: asset.decimals)
        {
            let decision = await policies.authorizePayment(
                agent: agent, tool: tool,
                payment: PaymentFacts(
                    amountAtomic: String(atomic), decimals: asset.decimals, asset: price.asset, network: network,
                    payTo: payTo))
            if !decision.allowed { problems.append("the pay policy refuses it (\(decision.summary))") }
        }
        return problems
    }
}
