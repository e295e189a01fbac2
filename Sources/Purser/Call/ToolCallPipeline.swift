import Foundation
public import JSONCore
public import MCP
public import X402

/// A step that may refuse a call before anything leaves the process (the call-policy seam).
public protocol CallAuthorizer: Sendable {
    /// Nil to let the call proceed, or the refusal to return.
    func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject) async -> ToolRefusal?
    /// Whether `agent` could ever be allowed to call `tool` (tools it never may are left out of `tools/list`).
    func mayEverCall(agent: String, tool: ToolManifest) async -> Bool
}

/// What the pipeline knows about the caller of one call.
public struct CallerContext: Sendable {
    /// The agent identity the server was started for.
    public var agent: String
    /// Reports progress to the client, when it asked for it.
    public var progress: @Sendable (_ step: Int, _ total: Int, _ message: String) async -> Void

    /// Creates a context.
    public init(agent: String, progress: @escaping @Sendable (Int, Int, String) async -> Void = { _, _, _ in }) {
        self.agent = agent
        self.progress = progress
    }
}

/// The governed tool call as a pipeline of steps, each of which may end the call with a result.
///
/// Steps, in order: input check → call policy → upstream request → response mapping. A refusal at any
/// step is an `isError` result and nothing after it runs; the upstream is contacted only after every
/// earlier step passed. (Payment steps attach at the upstream 402; see `docs/architecture.md`.)
public final class ToolCallPipeline: Sendable {
    /// Redirects followed within the same origin, at most.
    public static let maximumRedirects = 3

    private let catalog: ToolCatalog
    private let transports: [String: any HTTPTransport]
    private let secrets: any SecretSource
    private let authorizer: (any CallAuthorizer)?

    /// Creates a pipeline.
    /// - Parameters:
    ///   - catalog: the tools.
    ///   - transport: makes the HTTP transport for a tool (its timeout and size cap come from the manifest).
    ///   - secrets: where secret headers come from.
    ///   - authorizer: the call policy; nil means no policy step (only for tests and `purser call --no-policy`).
    public init(
        catalog: ToolCatalog, transport: (ToolManifest) -> any HTTPTransport, secrets: any SecretSource,
        authorizer: (any CallAuthorizer)?
    ) {
        self.catalog = catalog
        var transports: [String: any HTTPTransport] = [:]
        for manifest in catalog.manifests { transports[manifest.name] = transport(manifest) }
        self.transports = transports
        self.secrets = secrets
        self.authorizer = authorizer
    }

    /// The tools `agent` may see.
    public func visibleTools(agent: String) async -> [ToolManifest] {
        guard let authorizer else { return catalog.manifests }
        var visible: [ToolManifest] = []
        for manifest in catalog.manifests where await authorizer.mayEverCall(agent: agent, tool: manifest) {
            visible.append(manifest)
        }
        return visible
    }

    /// Runs one call. An unknown tool is a protocol error; everything else is a result.
    public func call(name: String, arguments: JSONObject, caller: CallerContext) async throws(MCPError) -> ToolResult {
        guard let manifest = catalog.manifest(named: name) else {
            throw MCPError.invalidParams("Unknown tool: \(name)")
        }
        if let refusal = checkInput(manifest: manifest, arguments: arguments) { return refusal.result }
        if let authorizer,
            let refusal = await authorizer.authorizeCall(agent: caller.agent, tool: manifest, arguments: arguments)
        {
            return refusal.result
        }
        let request: HTTPRequest
        switch UpstreamCall.buildRequest(manifest: manifest, arguments: arguments, secrets: secrets) {
        case .success(let built): request = built
        case .failure(let refusal): return refusal.result
        }
        await caller.progress(1, 2, "calling the upstream API")
        let response: HTTPResponse
        switch await send(request, manifest: manifest) {
        case .success(let received): response = received
        case .failure(let refusal): return refusal.result
        }
        await caller.progress(2, 2, "upstream answered")
        if response.status == 402 {
            return ToolRefusal(
                code: .paymentUnavailable,
                message:
                    "The upstream API asks for payment (HTTP 402), and payments are not enabled for this call. Nothing was paid. Ask the user to grant a spending session.",
                detail: ["tool": .string(manifest.name)]
            ).result
        }
        return UpstreamCall.mapResponse(manifest: manifest, response: response)
    }

    /// Step 1: arguments against the input schema. Nothing leaves the process before this passes.
    func checkInput(manifest: ToolManifest, arguments: JSONObject) -> ToolRefusal? {
        let problems = manifest.inputSchema.validate(.object(arguments))
        guard !problems.isEmpty else { return nil }
        let lines = problems.prefix(10).map(\.message)
        return ToolRefusal(
            code: .invalidArguments,
            message: "Invalid arguments for \(manifest.name): " + lines.joined(separator: "; ")
                + ". Fix the arguments and call again; nothing was sent upstream.",
            detail: [
                "problems": .array(
                    problems.prefix(10).map { ["path": .string($0.pointer), "message": .string($0.message)] })
            ])
    }

    /// Sends the request, following same-origin redirects only; another origin is refused, never contacted.
    func send(_ first: HTTPRequest, manifest: ToolManifest) async -> Result<HTTPResponse, ToolRefusal> {
        guard let transport = transports[manifest.name] else {
            return .failure(ToolRefusal(code: .upstreamFailed, message: "No transport for \(manifest.name)."))
        }
        var request = first
        for _ in 0...Self.maximumRedirects {
            let response: HTTPResponse
            do {
                response = try await transport.send(request)
            } catch let error as HTTPTransportError {
                return .failure(
                    ToolRefusal(
                        code: .upstreamFailed,
                        message:
                            "The upstream API could not be reached (\(error.code)): \(error.message). Nothing was paid.",
                        detail: ["reason": .string(error.code.name)]))
            } catch {
                return .failure(
                    ToolRefusal(
                        code: .upstreamFailed, message: "The upstream API could not be reached. Nothing was paid."))
            }
            guard [301, 302, 303, 307, 308].contains(response.status) else { return .success(response) }
            guard let location = response.headers["Location"],
                let next = URL(string: location, relativeTo: request.url)?.absoluteURL
            else { return .success(response) }
            guard manifest.upstream.urlTemplate.isSameOrigin(next) else {
                return .failure(
                    ToolRefusal(
                        code: .crossOriginRedirect,
                        message:
                            "The upstream API redirected to another host; Purser does not follow it, so no credentials or payment travel there. Nothing was paid.",
                        detail: ["status": .number(JSONNumber(response.status))]))
            }
            if response.status == 303
                || ((response.status == 301 || response.status == 302) && request.method == "POST")
            {
                request = HTTPRequest(method: "GET", url: next, headers: request.headers, body: [])
                request.headers.remove(name: "Content-Type")
            } else {
                request.url = next
            }
        }
        return .failure(ToolRefusal(code: .upstreamFailed, message: "The upstream API redirected too many times."))
    }
}

/// The loaded tools, in a stable order.
public struct ToolCatalog: Sendable {
    /// Every tool, sorted by name.
    public let manifests: [ToolManifest]
    private let index: [String: Int]

    /// Creates a catalog; later duplicates of a name are ignored (the loader already reports them).
    public init(_ manifests: [ToolManifest]) {
        var unique: [ToolManifest] = []
        var index: [String: Int] = [:]
        for manifest in manifests.sorted(by: { $0.name < $1.name }) where index[manifest.name] == nil {
            index[manifest.name] = unique.count
            unique.append(manifest)
        }
        self.manifests = unique
        self.index = index
    }

    /// The tool called `name`.
    public func manifest(named name: String) -> ToolManifest? {
        index[name].map { manifests[$0] }
    }
}

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
        await pipeline.visibleTools(agent: agent).map(\.toolDescription)
    }

    public func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        let caller = CallerContext(agent: agent) { step, total, message in
            await context.reportProgress(step, total, message)
        }
        await context.log(.debug, ["event": "tools/call", "tool": .string(name)])
        return .complete(try await pipeline.call(name: name, arguments: arguments, caller: caller))
    }
}
