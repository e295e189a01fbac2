import FoundationEssentials
public import JSONCore
public import MCP
public import X402

/// Where named secrets (upstream API tokens) come from. Values never leave the upstream request.
public protocol SecretSource: Sendable {
    /// The secret's value, or nil when it is not configured.
    func secret(named name: String) -> String?
}

/// Secrets from the process environment: on stdio, MCP clients pass credentials this way.
public struct EnvironmentSecrets: SecretSource {
    /// Creates the source.
    public init() {}

    public func secret(named name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Builds upstream requests from manifests and maps upstream responses to tool results.
///
/// Pure functions: no I/O, so every rule here is unit-tested without a network.
public enum UpstreamCall {
    /// Builds the request for `arguments` (already validated against the input schema).
    public static func buildRequest(
        manifest: ToolManifest, arguments: JSONObject, secrets: any SecretSource
    ) -> Result<HTTPRequest, CallRefusal> {
        let upstream = manifest.upstream
        let url: URL
        switch upstream.urlTemplate.expand(arguments: arguments, query: upstream.query) {
        case .success(let built): url = built
        case .failure(let error): return .failure(.invalidURLArgument(message: error.message))
        }
        var headers = HTTPHeaders()
        headers.set(name: "Accept", value: "application/json, text/plain;q=0.9, */*;q=0.1")
        headers.set(name: "User-Agent", value: "purser/\(PurserVersion.current)")
        for header in upstream.headers { headers.set(name: header.name, value: header.value) }
        for header in upstream.secretHeaders {
            guard let value = secrets.secret(named: header.secret) else {
                return .failure(.secretMissing(name: header.secret))
            }
            headers.set(name: header.name, value: header.prefix + value)
        }
        var body: [UInt8] = []
        if let names = upstream.bodyArguments {
            var object = JSONObject()
            for name in names {
                if let value = arguments[name] { object[name] = value }
            }
            body = JSONValue.object(object).serializedBytes()
            headers.set(name: "Content-Type", value: "application/json")
        }
        return .success(HTTPRequest(method: upstream.method, url: url, headers: headers, body: body))
    }

    /// Maps a final (non-402, non-redirect) upstream response to the tool result.
    public static func mapResponse(manifest: ToolManifest, response: HTTPResponse) -> ToolResult {
        guard (200..<300).contains(response.status) else {
            let excerpt = excerptOf(response.body)
            return ToolResult.failure(
                "The upstream API answered HTTP \(response.status)\(excerpt.isEmpty ? "" : ": " + excerpt)",
                structured: ["error": "upstream_status", "status": .number(JSONNumber(response.status))])
        }
        guard let text = String(validating: response.body, as: UTF8.self) else {
            return ToolResult.failure("The upstream API returned a body that is not UTF-8 text.")
        }
        guard let outputSchema = manifest.outputSchema else {
            return ToolResult.text(text)
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(response.body)
        } catch {
            return ToolResult.failure(
                "The upstream API returned data that is not JSON (\(error.description)); this tool promises structured results.",
                structured: ["error": "upstream_invalid_output"])
        }
        let problems = outputSchema.validate(value)
        guard value.objectValue != nil, problems.isEmpty else {
            let detail = problems.prefix(3).map { ($0.pointer.isEmpty ? "" : $0.pointer + ": ") + $0.message }
            return ToolResult.failure(
                "The upstream API returned data that does not match this tool's outputSchema: "
                    + (detail.isEmpty ? "the result must be a JSON object" : detail.joined(separator: "; ")),
                structured: ["error": "upstream_invalid_output"])
        }
        return ToolResult.text(value.serialized(), structured: value)
    }

    static func excerptOf(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        let flattened = text.unicodeScalars.map { $0.value < 0x20 ? " " : String($0) }.joined()
        return body.count > 300 ? flattened + "…" : flattened
    }
}

/// A refusal as the model receives it: a stable code, a sentence and structured detail (rendered from a
/// `CallRefusal` by `CallRefusal+Wording.swift`).
public struct ToolRefusal: Error, Sendable, Hashable {
    /// A stable reason code, for receipts, traces and `structuredContent`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable name.
        public let name: String
        /// Creates a code.
        public init(_ name: String) { self.name = name }
        /// The arguments do not match the tool's input schema.
        public static let invalidArguments = Code("invalid_arguments")
        /// The server is missing configuration for this tool (a secret).
        public static let notConfigured = Code("not_configured")
        /// The upstream could not be reached, timed out or misbehaved.
        public static let upstreamFailed = Code("upstream_failed")
        /// The upstream redirected to another origin; not followed.
        public static let crossOriginRedirect = Code("cross_origin_redirect")
        /// A policy denied the call.
        public static let policyDenied = Code("policy_denied")
        public var description: String { name }
    }

    /// Why.
    public var code: Code
    /// What happened and what the model may do next.
    public var message: String
    /// Extra machine-readable detail for `structuredContent`.
    public var detail: JSONObject

    /// Creates a refusal.
    public init(code: Code, message: String, detail: JSONObject = JSONObject()) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    /// The `isError` result a model reads.
    public var result: ToolResult {
        var structured = detail
        structured["error"] = .string(code.name)
        return ToolResult.failure(message, structured: .object(structured))
    }
}

/// The version Purser reports in `serverInfo` and `User-Agent`.
public enum PurserVersion {
    /// The current version.
    public static let current = "0.1.0"
}
