import Foundation
import Ledger
import Synchronization

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let milliseconds: Mutex<Int64>

    init(_ start: Int64 = 1_750_000_000_000) {
        milliseconds = Mutex(start)
    }

    var now: Int64 { milliseconds.withLock { $0 } }

    func advance(_ delta: Int64) {
        milliseconds.withLock { $0 += delta }
    }

    var ledgerClock: LedgerClock {
        LedgerClock { [self] in self.now }
    }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var databasePath: String { path + "/ledger.sqlite" }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

enum Fixtures {
    static let usdcBaseSepolia = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
    static let payee = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    static let network = "eip155:84532"

    /// USDC on Base Sepolia, one payee, and the given per-asset limits.
    static func limits(_ assetLimits: LimitsConfiguration.AssetLimits = .init()) -> LimitsConfiguration {
        LimitsConfiguration(
            assets: [
                "USDC": .init(symbol: "USDC", decimals: 6, contracts: [network: usdcBaseSepolia])
            ],
            limits: ["USDC": assetLimits], allowedNetworks: [network], allowedAssets: ["USDC"],
            allowedPayees: .only([payee.lowercased()]))
    }

    static func request(
        session: String, amount: Int64, agent: String = "agent-1", tool: String = "weather",
        payee: String = payee, network: String = network, approval: String? = nil
    ) -> ReservationRequest {
        ReservationRequest(
            sessionID: session, agent: agent, tool: tool, payee: payee, network: network, asset: "USDC",
            amount: amount, purpose: "data.weather", argumentsDigest: String(repeating: "ab", count: 32),
            approvalID: approval)
    }
}

extension ReserveOutcome {
    var reservation: Reservation? {
        if case .reserved(let reservation, _) = self { return reservation }
        return nil
    }
}

extension TransitionOutcome {
    var applied: Reservation? {
        if case .applied(let reservation) = self { return reservation }
        return nil
    }
}
