public import JSONCore

/// A tool as listed by `tools/list`.
public struct ToolDescription: Sendable, Hashable {
    /// Unique name, 1–128 characters of `[A-Za-z0-9_.-]`.
    public var name: String
    /// Display title.
    public var title: String?
    /// What the tool does, for the model.
    public var description: String?
    /// JSON Schema of the arguments; its root has `"type": "object"`.
    public var inputSchema: JSONValue
    /// JSON Schema of `structuredContent`, when the tool returns structured results.
    public var outputSchema: JSONValue?
    /// Behaviour hints (untrusted by clients): readOnlyHint, destructiveHint, idempotentHint, openWorldHint.
    public var annotations: JSONObject?
    /// Extra metadata, e.g. the announced price.
    public var meta: JSONObject?

    /// Creates a tool description.
    public init(
        name: String, title: String? = nil, description: String? = nil, inputSchema: JSONValue,
        outputSchema: JSONValue? = nil, annotations: JSONObject? = nil, meta: JSONObject? = nil
    ) {
        self.name = name
        self.title = title
        self.description = description
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.annotations = annotations
        self.meta = meta
    }

    /// The wire form.
    public var json: JSONValue {
        var object: JSONObject = ["name": .string(name)]
        if let title { object["title"] = .string(title) }
        if let description { object["description"] = .string(description) }
        object["inputSchema"] = inputSchema
        if let outputSchema { object["outputSchema"] = outputSchema }
        if let annotations, !annotations.isEmpty { object["annotations"] = .object(annotations) }
        if let meta, !meta.isEmpty { object["_meta"] = .object(meta) }
        return .object(object)
    }

    /// True when `name` is a valid MCP tool name.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...128).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }
}

/// The result of `tools/call`.
public struct ToolResult: Sendable, Hashable {
    /// Content blocks, e.g. `{"type":"text","text":"…"}`.
    public var content: [JSONValue]
    /// Structured result, validated against the tool's `outputSchema` when it has one.
    public var structuredContent: JSONValue?
    /// True when the tool failed; the content explains why, for the model.
    public var isError: Bool
    /// Result metadata, e.g. receipts.
    public var meta: JSONObject?

    /// Creates a result.
    public init(
        content: [JSONValue], structuredContent: JSONValue? = nil, isError: Bool = false, meta: JSONObject? = nil
    ) {
        self.content = content
        self.structuredContent = structuredContent
        self.isError = isError
        self.meta = meta
    }

    /// A text result.
    public static func text(_ text: String, structured: JSONValue? = nil, meta: JSONObject? = nil) -> ToolResult {
        ToolResult(content: [["type": "text", "text": .string(text)]], structuredContent: structured, meta: meta)
    }

    /// A failure the model can read: `isError` with a message, and optional machine-readable detail.
    public static func failure(_ message: String, structured: JSONValue? = nil, meta: JSONObject? = nil) -> ToolResult {
        ToolResult(
            content: [["type": "text", "text": .string(message)]], structuredContent: structured, isError: true,
            meta: meta)
    }

    /// The wire form (without the era-specific fields the server adds).
    public var json: JSONObject {
        var object: JSONObject = ["content": .array(content)]
        if let structuredContent { object["structuredContent"] = structuredContent }
        if isError { object["isError"] = true }
        if let meta, !meta.isEmpty { object["_meta"] = .object(meta) }
        return object
    }
}

/// What a `tools/call` produced: a final result, or (2026-07-28 era) a request for more input.
public enum ToolCallOutcome: Sendable {
    /// The call finished.
    case complete(ToolResult)
    /// MRTR: the client must gather `inputRequests` and retry with `requestState` echoed.
    case inputRequired(inputRequests: JSONObject, requestState: String)
}

/// The protocol era a request is served in.
public enum ProtocolEra: Sendable, Hashable {
    /// `initialize`-based sessions: 2025-06-18 and 2025-11-25.
    case legacy(version: String)
    /// Stateless 2026-07-28: version and capabilities arrive with every request.
    case stateless(version: String)

    /// The protocol version string.
    public var version: String {
        switch self {
        case .legacy(let version), .stateless(let version): return version
        }
    }
}

/// The client as it described itself.
public struct ClientDescription: Sendable, Hashable {
    /// `clientInfo`, if sent.
    public var info: JSONObject?
    /// Declared capabilities.
    public var capabilities: JSONObject

    /// Creates a description.
    public init(info: JSONObject?, capabilities: JSONObject) {
        self.info = info
        self.capabilities = capabilities
    }

    /// True when the client declared form elicitation (`elicitation: {}` or `elicitation: {form: {}}`).
    public var supportsFormElicitation: Bool {
        guard let elicitation = capabilities["elicitation"]?.objectValue else { return false }
        return elicitation.isEmpty || elicitation["form"] != nil
    }
}

/// Everything a tool provider may know about, and do within, one `tools/call`.
public struct ToolCallContext: Sendable {
    /// The era this request is served in.
    public var era: ProtocolEra
    /// The client.
    public var client: ClientDescription
    /// The request's `_meta` (idempotency keys, payment payloads, …).
    public var meta: JSONObject
    /// The full request params (MRTR `inputResponses` and `requestState` live here).
    public var params: JSONObject
    /// Sends `notifications/progress` when the caller asked for progress; a no-op otherwise.
    public var reportProgress: @Sendable (_ progress: Int, _ total: Int?, _ message: String?) async -> Void
    /// Sends a log message to the client when its level is enabled.
    public var log: @Sendable (_ level: LogLevel, _ data: JSONValue) async -> Void
    /// The lowest level ``log`` delivers; nil when the client asked for no log messages. A provider that relays
    /// calls elsewhere (the vault front) passes it on, so messages that would be dropped are never sent.
    public var logLevel: LogLevel?
    /// Legacy era only: sends `elicitation/create` and awaits the answer; throws when not possible.
    public var elicit: @Sendable (_ params: JSONObject) async throws(MCPError) -> JSONObject

    /// Creates a context (for providers that relay calls, such as the vault behind `purser serve --vault`).
    /// `logLevel` defaults to every level: a context that does not know the client's wish relays everything.
    public init(
        era: ProtocolEra, client: ClientDescription, meta: JSONObject, params: JSONObject,
        reportProgress: @escaping @Sendable (_ progress: Int, _ total: Int?, _ message: String?) async -> Void,
        log: @escaping @Sendable (_ level: LogLevel, _ data: JSONValue) async -> Void,
        elicit: @escaping @Sendable (_ params: JSONObject) async throws(MCPError) -> JSONObject,
        logLevel: LogLevel? = .debug
    ) {
        self.logLevel = logLevel
        self.era = era
        self.client = client
        self.meta = meta
        self.params = params
        self.reportProgress = reportProgress
        self.log = log
        self.elicit = elicit
    }
}

/// Serves tools to the MCP server. Knows nothing of the protocol's framing or eras' wire details.
public protocol ToolProvider: Sendable {
    /// The tools to list for this client, in a stable order.
    func tools(for client: ClientDescription) async -> [ToolDescription]
    /// Runs one call. An unknown tool is an `MCPError` (-32602); a tool failure is an `isError` result.
    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
}

/// RFC 5424 severities, as MCP logging uses them.
public enum LogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, notice, warning, error, critical, alert, emergency

    private var rank: Int { LogLevel.allCases.firstIndex(of: self)! }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }
}
