public import JSONCore
public import MCP

/// Serves the pipeline's tools over MCP.
public struct PurserToolProvider: ToolProvider {
    private let pipeline: ToolCallPipeline
    private let agent: String

    /// Creates the provider for `agent`.
    public init(pipeline: ToolCallPipeline, agent: String) {
        self.pipeline = pipeline
        self.agent = agent
    }

    public func tools(for client: ClientDescription) async -> [ToolDescription] {
        let tools = await pipeline.visibleTools(agent: agent).map { pipeline.listing(of: $0) }
        // The plan tools only where they apply: a session that pays per call lists exactly what it did before.
        guard await pipeline.planTools.apply(agent: agent) else { return tools }
        return tools + pipeline.planTools.descriptions
    }

    public func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        let channel: CallerContext.ApprovalChannel
        switch context.era {
        // Input requests only for capabilities the client declared (MCP: never ask what it cannot answer).
        case .stateless: channel = context.client.supportsFormElicitation ? .inputRequired : .fallbackToken
        case .legacy: channel = context.client.supportsFormElicitation ? .elicitation(context.elicit) : .fallbackToken
        }
        let caller = CallerContext(
            agent: agent, meta: context.meta, requestState: context.params["requestState"]?.stringValue,
            inputResponses: context.params["inputResponses"]?.objectValue, approvalChannel: channel
        ) { step, total, message in
            await context.reportProgress(step, total, message)
        }
        await context.log(.debug, ["event": "tools/call", "tool": .string(name)])
        return try await pipeline.call(name: name, arguments: arguments, caller: caller)
    }
}
