import JSONCore
import MCP

/// The governed provider of an agent whose approvals only the owner may give (`"approvals": "owner"` in
/// agents.json): the governed call never sees the client's elicitation capability, so it never asks in band
/// and answers `approval_required` instead, to wait for the owner's signed `approve`. An agent's own script,
/// which can connect to the socket and play the MCP client, then has no question to answer.
struct OwnerApprovalsOnlyProvider: ToolProvider {
    let base: any ToolProvider

    private static func withoutElicitation(_ client: ClientDescription) -> ClientDescription {
        var client = client
        client.capabilities["elicitation"] = nil
        return client
    }

    func tools(for client: ClientDescription) async -> [ToolDescription] {
        await base.tools(for: Self.withoutElicitation(client))
    }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        var context = context
        context.client = Self.withoutElicitation(context.client)
        // Not reachable through the capability; refused here too, so no path leads to the client's answer.
        context.elicit = { (_: JSONObject) async throws(MCPError) -> JSONObject in
            throw MCPError.missingCapability(["elicitation": ["form": [:]]])
        }
        return try await base.callTool(name: name, arguments: arguments, context: context)
    }
}
