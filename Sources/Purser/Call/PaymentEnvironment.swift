import EVMSigning
public import FoundationEssentials
import HTTPClient
public import Ledger
public import X402

/// What paying needs: the ledger, the limits, the wallet, and the key that protects approval states.
///
/// Each piece may be missing (no session granted yet, no wallet, no limits file) when loaded; `payments`
/// turns the pieces into `Payments.enabled` (all present) or `.disabled` with the reasons, so a paid call
/// refuses with the reason and free calls still work. Nothing here is ever shown to the agent.
public struct PaymentEnvironment: Sendable {
    /// The durable ledger, when one exists in the state home.
    public var ledger: (any PaymentLedger)?
    /// `policies/limits.json`, when it loaded without errors.
    public var limits: LimitsConfiguration?
    /// The wallet, when configured (`purser wallet new`).
    public var signer: (any Signer)?
    /// HMAC key for MRTR request states.
    public var approvalKey: [UInt8]?
    /// Why a piece is missing, for refusals (never secret).
    public var problems: [String]
    /// Unix seconds now (injected for tests).
    public var clock: @Sendable () -> Int64

    /// Creates an environment from parts (tests and embedders).
    public init(
        ledger: (any PaymentLedger)?, limits: LimitsConfiguration?, signer: (any Signer)?, approvalKey: [UInt8]?,
        problems: [String] = [], clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.ledger = ledger
        self.limits = limits
        self.signer = signer
        self.approvalKey = approvalKey
        self.problems = problems
        self.clock = clock
    }

    /// Loads everything from the state home and the policies folder.
    /// - Parameter ledgerLocation: the ledger's path or PostgreSQL URL; `<home>/ledger.sqlite` when nil.
    public static func load(home: String, policiesDirectory: String, ledgerLocation: String? = nil) async
        -> PaymentEnvironment
    {
        var problems: [String] = []
        var ledger: Ledger?
        let ledgerPath = ledgerLocation ?? Ledger.path(inHome: home)
        let shared = (try? LedgerLocation(ledgerPath))?.isPostgres ?? false
        if shared || FileManager.default.fileExists(atPath: ledgerPath) {
            do {
                let opened = try Ledger.open(path: ledgerPath)
                _ = try await opened.recover()
                ledger = opened
            } catch {
                problems.append("the ledger could not be opened (\(error.code))")
            }
        } else {
            problems.append("no spending session has been granted (no ledger in \(home))")
        }
        var limits: LimitsConfiguration?
        let limitsPath = PathText.join(policiesDirectory, "limits.json")
        do {
            limits = try LimitsConfiguration.load(path: limitsPath)
        } catch {
            problems.append("\(limitsPath) is missing or invalid")
        }
        var signer: (any Signer)?
        let homeURL = URL(fileURLWithPath: home)
        do {
            let configuration = try SignerConfiguration.load(home: homeURL)
            signer = try configuration.makeSigner(home: homeURL, transport: HTTPClient())
        } catch {
            problems.append("no usable wallet (\(error)); see purser wallet new")
        }
        let approvalKey = ApprovalKey.loadOrCreate(home: home)
        if approvalKey == nil { problems.append("the approval key could not be created in \(home)") }
        return PaymentEnvironment(
            ledger: ledger, limits: limits, signer: signer, approvalKey: approvalKey, problems: problems)
    }

    /// Paying enabled when every piece is present, else disabled with the reasons.
    public var payments: Payments {
        guard let ledger, let limits, let signer, let approvalKey else {
            var reasons = problems
            if reasons.isEmpty {
                if ledger == nil { reasons.append("no ledger") }
                if limits == nil { reasons.append("no limits") }
                if signer == nil { reasons.append("no wallet") }
                if approvalKey == nil { reasons.append("no approval key") }
            }
            return .disabled(reasons: reasons, ledger: ledger)
        }
        return .enabled(
            PaymentRail(ledger: ledger, limits: limits, signer: signer, approvalKey: approvalKey, clock: clock))
    }

    /// What the selection step may accept: assets on allowed networks, below the per-call cap.
    static func selectionPolicy(limits: LimitsConfiguration) -> SelectionPolicy {
        var allowed = Set<AllowedAsset>()
        for (symbol, asset) in limits.assets where limits.allowedAssets.isEmpty || limits.allowedAssets.contains(symbol)
        {
            for (network, contract) in asset.contracts
            where limits.allowedNetworks.isEmpty || limits.allowedNetworks.contains(network) {
                guard let chain = EVMNetwork.parseCAIP2(network),
                    let entry = AllowedAsset(chainId: chain.chainId, address: contract)
                else { continue }
                allowed.insert(entry)
            }
        }
        // The ledger's gates enforce the real caps; this bound only refuses absurd offers early.
        let ceiling = limits.limits.values.compactMap(\.perCall).max() ?? Int64.max
        return SelectionPolicy(
            allowedAssets: allowed, maximumAmount: AtomicAmount(UInt64(max(1, ceiling))), maximumTimeoutSeconds: 3600,
            minimumTimeoutSeconds: 10)
    }
}
