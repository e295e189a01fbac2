public import Foundation
public import JSONCore
public import Ledger
public import MCP
public import Purser
import Synchronization
public import X402

/// A temporary Purser world: policies, limits, a ledger with a session, a wallet, and one paid tool
/// (the unit tests' governed calls, and `purser-bench governed` and `pipeline`).
public final class World: Sendable {
    /// The temporary directory (`policies/`, `home/`), removed when the world goes.
    public let directory: URL
    /// The real ledger (the pipeline may see it through a fault-injecting wrapper).
    public let ledger: Ledger
    /// The governed call, with the world's tools, policies, limits, ledger and wallet.
    public let pipeline: ToolCallPipeline
    /// The seller behind the tool (unless `transport` replaced it).
    public let seller: FakeSeller
    /// The agent's payment session (`budget` atomic USDC units, one hour).
    public let session: PaymentSession
    /// The limits the pipeline enforces.
    public let limits: LimitsConfiguration
    /// What the pipeline reported on its stderr sink (failed ledger writes).
    public let logged = LineLog()
    /// The Cedar policies and `limits.json`.
    public var policiesDirectory: URL { directory.appendingPathComponent("policies") }
    /// The state home (`ledger.sqlite`, `wallet.key`).
    public var homeDirectory: URL { directory.appendingPathComponent("home") }
    /// The manifest of the one tool, `weather`, whose upstream is `http://seller.test/weather/{city}`.
    public static let weatherManifest = """
        {"name": "weather", "description": "Paid weather.", "purpose": "data.weather",
         "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                         "additionalProperties": false},
         "upstream": {"url": "http://seller.test/weather/{city}"}, "price": {"amount": "0.01", "asset": "USDC"}}
        """

    /// - Parameters:
    ///   - transport: replaces the seller as the tool's transport (the seller then sees nothing).
    ///   - ledger: wraps the ledger the pipeline uses (fault injection); `self.ledger` stays the real one.
    ///   - authorizer: replaces the Cedar policy store built from `policy`.
    ///   - ownerCommands: the mode refusals word their commands for (`.vault` as behind `purser vault serve`).
    ///   - limits: the whole `limits.json`, replacing the one built from `approvalAbove` and `changes`.
    ///   - agent: whose payment session is granted (the default policy permits only `alice`).
    public init(
        seller: FakeSeller = FakeSeller(), budget: Int64 = 1_000_000, approvalAbove: String? = nil,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        policy: String = "permit (principal == Agent::\"alice\", action, resource);",
        manifestText: String = World.weatherManifest, transport: (any HTTPTransport)? = nil,
        ledger wrap: (Ledger) -> any PaymentLedger = { $0 }, authorizer: (any CallAuthorizer)? = nil,
        signer wrapSigner: (any Signer) -> any Signer = { $0 }, ledgerClock: LedgerClock = .system,
        changes: String = "", ownerCommands: OwnerCommands = .singleUser, requirePlan: Bool = false,
        extraManifests: [String] = [], limits limitsText: String? = nil, agent: String = "alice"
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "purser-governed-\(UUID().uuidString)")
        let policies = directory.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try policy.write(to: policies.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        let approval = approvalAbove.map { #", "approvalAbove": "\#($0)""# } ?? ""
        let limits =
            limitsText ?? """
                {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "\(FakeSeller.asset)"}}},
                 "limits": {"USDC": {"perCall": "1.00"\(approval)}},
                 "allow": {"networks": ["eip155:84532"], "assets": ["USDC"], "payees": ["\(FakeSeller.payee)"]}\(changes)}
                """
        try limits.write(to: policies.appendingPathComponent("limits.json"), atomically: true, encoding: .utf8)
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let keyPath = home.appendingPathComponent("wallet.key").path
        _ = try KeyFile.create(at: keyPath)
        ledger = try Ledger.open(path: home.appendingPathComponent("ledger.sqlite").path, clock: ledgerClock)
        session = try await ledger.grantSession(
            agent: agent, asset: "USDC", decimals: 6, cap: budget, ttlMilliseconds: 3_600_000,
            requirePlan: requirePlan)
        var manifests: [ToolManifest] = []
        for text in [manifestText] + extraManifests {
            let (manifest, problems) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "tool.json")
            guard let manifest, problems.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
            manifests.append(manifest)
        }
        self.seller = seller
        self.limits = try LimitsConfiguration.load(path: policies.appendingPathComponent("limits.json").path)
        let payments = PaymentEnvironment(
            ledger: wrap(ledger), limits: self.limits,
            signer: wrapSigner(try KeyFileSigner(path: keyPath)), approvalKey: Array(repeating: 7, count: 32),
            clock: clock)
        pipeline = ToolCallPipeline(
            catalog: ToolCatalog(manifests), transport: { _ in transport ?? seller }, secrets: EnvironmentSecrets(),
            authorizer: authorizer ?? PolicyStore(directory: policies.path), payments: payments,
            log: { [logged] line in logged.append(line) }, ownerCommands: ownerCommands)
    }

    /// One call of `tool` as `agent` (the weather in `city` unless `arguments` are given).
    public func call(
        agent: String = "alice", city: String = "Paris", meta: JSONObject = [:],
        channel: CallerContext.ApprovalChannel = .fallbackToken, requestState: String? = nil,
        inputResponses: JSONObject? = nil, arguments: JSONObject? = nil, tool: String = "weather"
    ) async throws -> ToolCallOutcome {
        try await pipeline.call(
            name: tool, arguments: arguments ?? ["city": .string(city)],
            caller: CallerContext(
                agent: agent, meta: meta, requestState: requestState, inputResponses: inputResponses,
                approvalChannel: channel))
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The state of every reservation, oldest first.
    public func reservationStates() async throws -> [ReservationState] {
        try await ledger.reservations().map(\.state)
    }
}

/// Lines a pipeline wrote to its stderr sink.
public final class LineLog: Sendable {
    private let lines = Mutex<[String]>([])
    /// An empty log.
    public init() {}
    /// Adds a line.
    public func append(_ line: String) { lines.withLock { $0.append(line) } }
    /// Every line, in order.
    public var all: [String] { lines.withLock { $0 } }
}
