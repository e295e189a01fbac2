public import JSONCore

/// The one policy seam of the governed call: the call decision, the pay decision, and tool visibility.
///
/// Every authorizer answers all three questions: a pipeline that can pay always asks `authorizePayment`
/// (there is no optional pay step to skip), and denial is the default of an authorizer that cannot decide.
public protocol CallAuthorizer: Sendable {
    /// May `agent` call `tool` with these arguments? (step 2, before anything leaves the process)
    func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject) async -> PolicyDecision
    /// May `agent` make this payment for a call to `tool`? (step 6, after the 402, before any gate)
    func authorizePayment(agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject) async
        -> PolicyDecision
    /// The call decision with the session's state as `context.session` (nil when there is none).
    func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject, session: SessionFacts?) async
        -> PolicyDecision
    /// The pay decision with the session's state as `context.session` (nil when there is no session).
    func authorizePayment(
        agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject, session: SessionFacts?
    ) async -> PolicyDecision
    /// Whether `agent` could ever be allowed to call `tool` (tools it never may are left out of `tools/list`).
    func mayEverCall(agent: String, tool: ToolManifest) async -> Bool
}

extension CallAuthorizer {
    /// Authorizers that do not read session state answer as without it.
    public func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject, session: SessionFacts?)
        async -> PolicyDecision
    {
        await authorizeCall(agent: agent, tool: tool, arguments: arguments)
    }

    /// Authorizers that do not read session state answer as without it.
    public func authorizePayment(
        agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject, session: SessionFacts?
    ) async -> PolicyDecision {
        await authorizePayment(agent: agent, tool: tool, payment: payment, arguments: arguments)
    }
}
