import EVMSigning
import Foundation
public import JSONCore
import Ledger
public import MCP
public import X402

/// A step that may refuse a call before anything leaves the process (the call-policy seam).
public protocol CallAuthorizer: Sendable {
    /// Nil to let the call proceed, or the refusal to return.
    func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject) async -> ToolRefusal?
    /// Whether `agent` could ever be allowed to call `tool` (tools it never may are left out of `tools/list`).
    func mayEverCall(agent: String, tool: ToolManifest) async -> Bool
}

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

/// The governed tool call as a pipeline of steps, each of which may end the call with a result.
///
/// Steps, in order (see `docs/governed-call.md`): input check → call policy → idempotency → upstream →
/// 402 selection → pay policy → budget gates → approval → reserve → sign → mark in doubt → retry →
/// commit / release / in doubt → result with receipt → trace. A refusal at any step is an `isError`
/// result and nothing after it runs; nothing is signed before every check passed, and nothing is
/// signed twice for one call.
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
    let transports: [String: any HTTPTransport]
    let secrets: any SecretSource
    let authorizer: (any CallAuthorizer)?
    let payments: PaymentEnvironment?
    /// What selection may accept, derived once from the limits (they do not change for a pipeline).
    let selectionPolicy: SelectionPolicy?

    /// Creates a pipeline.
    /// - Parameters:
    ///   - catalog: the tools.
    ///   - transport: makes the HTTP transport for a tool (its timeout and size cap come from the manifest).
    ///   - secrets: where secret headers come from.
    ///   - authorizer: the call policy; nil means no policy step (tests only).
    ///   - payments: what paying needs; nil means this pipeline never pays (a 402 is refused).
    public init(
        catalog: ToolCatalog, transport: (ToolManifest) -> any HTTPTransport, secrets: any SecretSource,
        authorizer: (any CallAuthorizer)?, payments: PaymentEnvironment? = nil
    ) {
        self.catalog = catalog
        var transports: [String: any HTTPTransport] = [:]
        for manifest in catalog.manifests {
            transports[manifest.name] = SameOriginRedirects(base: transport(manifest), manifest: manifest)
        }
        self.transports = transports
        self.secrets = secrets
        self.authorizer = authorizer
        self.payments = payments
        self.selectionPolicy = payments.flatMap { payments in
            payments.limits.map { payments.selectionPolicy(limits: $0) }
        }
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

    /// Runs one call. An unknown tool is a protocol error; everything else is a result.
    public func call(name: String, arguments: JSONObject, caller: CallerContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        guard let manifest = catalog.manifest(named: name) else {
            throw MCPError.invalidParams("Unknown tool: \(name)")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var trace = CallTrace(manifest: manifest)
        var arguments = arguments
        var idempotencyKey = caller.meta[Self.idempotencyMetaKey]?.stringValue
        if manifest.price != nil, let value = arguments[Self.idempotencyArgument] {
            arguments[Self.idempotencyArgument] = nil
            guard let key = value.stringValue else {
                return .complete(
                    ToolRefusal(code: .invalidArguments, message: "idempotency_key must be a string.").result)
            }
            idempotencyKey = idempotencyKey ?? key
        }
        trace.argumentsDigest = Self.digest(arguments)
        trace.idempotencyKey = idempotencyKey
        trace.started = started
        let outcome = await run(
            manifest: manifest, arguments: arguments, key: idempotencyKey, caller: caller, trace: &trace)
        return await record(outcome, trace: &trace, agent: caller.agent)
    }

    /// Step 12: appends the call's trace to the audit chain and names it in the receipt.
    private func record(_ outcome: ToolCallOutcome, trace: inout CallTrace, agent: String) async -> ToolCallOutcome {
        // A paid call's trace was written in the commit's transaction already; never write it twice.
        guard !trace.recorded else { return outcome }
        trace.recorded = true
        trace.latencyMicroseconds = Int64((DispatchTime.now().uptimeNanoseconds - trace.started) / 1000)
        guard let ledger = payments?.ledger, trace.shouldRecord,
            let record = try? await ledger.appendAudit(kind: "call", payload: trace.payload(agent: agent))
        else { return outcome }
        guard trace.paid, case .complete(var result) = outcome,
            var receipt = result.meta?["com.purser/receipt"]?.objectValue
        else { return outcome }
        receipt["traceId"] = .string("trc_\(record.sequence)")
        result.meta?["com.purser/receipt"] = .object(receipt)
        return .complete(result)
    }

    private func run(
        manifest: ToolManifest, arguments: JSONObject, key: String?, caller: CallerContext, trace: inout CallTrace
    ) async -> ToolCallOutcome {
        // 1. Input check: nothing leaves the process before this passes.
        if let refusal = checkInput(manifest: manifest, arguments: arguments) {
            return .complete(trace.refuse(refusal))
        }
        // 2. Call policy.
        if let authorizer,
            let refusal = await authorizer.authorizeCall(agent: caller.agent, tool: manifest, arguments: arguments)
        {
            return .complete(trace.refuse(refusal))
        }
        trace.callPolicy = "allowed"
        // 3. Idempotency.
        var idempotency: (ledger: Ledger, key: String)?
        if let key {
            guard (1...128).contains(key.count), let ledger = payments?.ledger else {
                return .complete(
                    trace.refuse(
                        ToolRefusal(
                            code: .invalidArguments,
                            message: payments?.ledger == nil
                                ? "Idempotency keys need the ledger, and no spending session exists yet."
                                : "An idempotency key is 1 to 128 characters.")))
            }
            let begin: IdempotencyBegin
            do {
                begin = try await ledger.beginIdempotent(
                    agent: caller.agent, key: Self.ledgerName(key), argumentsDigest: trace.argumentsDigest)
            } catch {
                return .complete(trace.refuse(ToolRefusal(code: .ledgerUnavailable, message: Self.ledgerMessage)))
            }
            switch begin {
            case .started:
                idempotency = (ledger, Self.ledgerName(key))
            case .replay(let stored):
                trace.outcome = "replayed"
                return .complete(Self.replayed(stored))
            case .inProgress:
                return .complete(
                    trace.refuse(
                        ToolRefusal(
                            code: .idempotencyInProgress,
                            message:
                                "A call with this idempotency key is still in progress (or its outcome is unknown). Do not retry with a new key; try the same key again later."
                        )))
            case .conflict:
                return .complete(
                    trace.refuse(
                        ToolRefusal(
                            code: .idempotencyConflict,
                            message:
                                "This idempotency key was already used with different arguments. Use a new key for a new purchase."
                        )))
            }
        }
        var outcome = await upstreamAndPay(manifest: manifest, arguments: arguments, caller: caller, trace: &trace)
        // Record before storing, so a replay returns the same receipt, trace id included.
        outcome = await record(outcome, trace: &trace, agent: caller.agent)
        if let idempotency {
            switch outcome {
            case .complete(let result) where trace.paid || trace.inDoubt || !result.isError:
                _ = try? await idempotency.ledger.completeIdempotent(
                    agent: caller.agent, key: idempotency.key,
                    result: JSONValue.object(result.json).serialized())
            default:
                // Nothing was paid: the key may be used again.
                _ = try? await idempotency.ledger.abandonIdempotent(agent: caller.agent, key: idempotency.key)
            }
        }
        return outcome
    }

    private func upstreamAndPay(
        manifest: ToolManifest, arguments: JSONObject, caller: CallerContext, trace: inout CallTrace
    ) async -> ToolCallOutcome {
        let request: HTTPRequest
        switch UpstreamCall.buildRequest(manifest: manifest, arguments: arguments, secrets: secrets) {
        case .success(let built): request = built
        case .failure(let refusal): return .complete(trace.refuse(refusal))
        }
        guard let transport = transports[manifest.name] else {
            return .complete(
                trace.refuse(ToolRefusal(code: .upstreamFailed, message: "No transport for \(manifest.name).")))
        }
        await caller.progress(1, 3, "calling the upstream API")
        // Without a wallet the client never signs; the placeholder signer refuses if ever asked.
        let client = X402Client(
            transport: transport, signer: payments?.signer ?? NoWallet(), clock: payments?.clock ?? Self.unixNow)
        let first: X402Client.FirstResponse
        do {
            first = try await client.send(request)
        } catch let redirect as CrossOriginRedirect {
            return .complete(trace.refuse(redirect.refusal))
        } catch let error as HTTPTransportError {
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .upstreamFailed,
                        message:
                            "The upstream API could not be reached (\(error.code)): \(error.message). Nothing was paid.",
                        detail: ["reason": .string(error.code.name)])))
        } catch {
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .upstreamFailed, message: "The upstream API could not be reached. Nothing was paid.")))
        }
        switch first {
        case .completed(let response):
            await caller.progress(2, 3, "upstream answered")
            trace.outcome = "ok"
            return .complete(UpstreamCall.mapResponse(manifest: manifest, response: response))
        case .unreadableChallenge(_, let error):
            return .complete(
                trace.refuse(
                    ToolRefusal(
                        code: .paymentUnserviceable,
                        message:
                            "The upstream API asked for payment in a form Purser refuses (\(error)). Nothing was paid.")
                ))
        case .paymentRequired(let challenge):
            await caller.progress(2, 3, "payment required")
            return await pay(
                challenge, client: client, manifest: manifest, arguments: arguments, caller: caller, trace: &trace)
        }
    }

    /// Step 1: arguments against the input schema.
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

    /// The digest recorded instead of raw arguments: SHA-256 of the canonical (sorted-key) JSON.
    static func digest(_ arguments: JSONObject) -> String {
        "sha256:"
            + Hex.encode(SHA256.hash(JSONValue.object(arguments).serializedBytes(sortedKeys: true)))
    }

    /// Ledger names allow a restricted alphabet; keys are hashed so any key text is accepted.
    static func ledgerName(_ key: String) -> String {
        "k" + Hex.encode(Array(SHA256.hash(Array(key.utf8)).prefix(16)))
    }

    static let ledgerMessage = "The spending ledger is unavailable; nothing was paid. Ask the user to check Purser."

    static func replayed(_ stored: String) -> ToolResult {
        guard let value = try? JSONParser.parse(stored), let object = value.objectValue else {
            return ToolResult.failure(
                "The stored result for this idempotency key could not be read; nothing was paid again.")
        }
        var result = ToolResult(
            content: object["content"]?.arrayValue ?? [], structuredContent: object["structuredContent"],
            isError: object["isError"]?.boolValue ?? false, meta: object["_meta"]?.objectValue)
        var meta = result.meta ?? JSONObject()
        meta["com.purser/replayed"] = true
        result.meta = meta
        return result
    }

    static let unixNow: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
}

/// Stands in for a wallet when none is configured: refuses to sign (the pipeline refuses before that).
struct NoWallet: Signer {
    var address: EVMAddressText { EVMAddressText("0x0000000000000000000000000000000000000000")! }
    func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        throw X402Error(.signerFailed, "no wallet is configured")
    }
}

/// The upstream redirected to another origin: refused, never contacted.
struct CrossOriginRedirect: Error {
    var status: Int
    var refusal: ToolRefusal {
        ToolRefusal(
            code: .crossOriginRedirect,
            message:
                "The upstream API redirected to another host; Purser does not follow it, so no credentials or payment travel there. Nothing was paid.",
            detail: ["status": .number(JSONNumber(status))])
    }
}

/// Follows same-origin redirects for unpaid requests; never follows anything for a paid request (a 3xx
/// after payment is an ambiguous outcome for the payment code to classify).
struct SameOriginRedirects: HTTPTransport {
    let base: any HTTPTransport
    let manifest: ToolManifest

    func send(_ first: HTTPRequest) async throws -> HTTPResponse {
        let paid = first.headers["PAYMENT-SIGNATURE"] != nil || first.headers["X-PAYMENT"] != nil
        var request = first
        for _ in 0...ToolCallPipeline.maximumRedirects {
            let response = try await base.send(request)
            guard !paid, [301, 302, 303, 307, 308].contains(response.status),
                let location = response.headers["Location"],
                let next = URL(string: location, relativeTo: request.url)?.absoluteURL
            else { return response }
            guard manifest.upstream.urlTemplate.isSameOrigin(next) else {
                throw CrossOriginRedirect(status: response.status)
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
        throw HTTPTransportError(.other, "too many redirects")
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
        await pipeline.visibleTools(agent: agent).map { pipeline.listing(of: $0) }
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
