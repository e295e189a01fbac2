public import JSONCore
public import MCP

/// What the pipeline knows about the caller of one call, and how it may reach the human.
public struct CallerContext: Sendable {
    /// How the approval gate can ask the human, given the client and the protocol era.
    public enum ApprovalChannel: Sendable {
        /// Legacy era with form elicitation declared: ask now, in-band.
        case elicitation(@Sendable (JSONObject) async throws(MCPError) -> JSONObject)
        /// 2026-07-28 era: return `input_required` and wait for the retry.
        case inputRequired
        /// Neither: the fallback token, approved by the end user with `purser approve`.
        case fallbackToken
    }

    /// The agent identity the server was started for.
    public var agent: String
    /// The request's `_meta` (idempotency key, fallback approval id).
    public var meta: JSONObject
    /// MRTR retry fields, when present.
    public var requestState: String?
    /// MRTR input responses, when present.
    public var inputResponses: JSONObject?
    /// How to ask for approval.
    public var approvalChannel: ApprovalChannel
    /// Reports progress to the client, when it asked for it.
    public var progress: @Sendable (_ step: Int, _ total: Int, _ message: String) async -> Void

    /// Creates a context.
    public init(
        agent: String, meta: JSONObject = JSONObject(), requestState: String? = nil, inputResponses: JSONObject? = nil,
        approvalChannel: ApprovalChannel = .fallbackToken,
        progress: @escaping @Sendable (Int, Int, String) async -> Void = { _, _, _ in }
    ) {
        self.agent = agent
        self.meta = meta
        self.requestState = requestState
        self.inputResponses = inputResponses
        self.approvalChannel = approvalChannel
        self.progress = progress
    }
}
