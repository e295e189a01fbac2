import Chain
import Foundation
import HTTPClient
import JSONCore
import Ledger
import Purser
import PurserTesting
import Synchronization
import Testing
import X402

@Suite("Settlement reconciler: the chain decides held payments")
struct SettlementReconcilerTests {
    static let token = "0x036cbd53842c5426634e7929541ec2318f3dcf7e"
    static let payee = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    static let authorizer = "0x" + String(repeating: "aa", count: 20)
    static let network = "eip155:84532"

    let directory: URL
    let ledger: Ledger
    let node = FakeNode()
    let limits: LimitsConfiguration

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-reconcile-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        ledger = try Ledger.open(path: directory.appendingPathComponent("ledger.sqlite").path)
        limits = LimitsConfiguration(
            assets: ["USDC": .init(symbol: "USDC", decimals: 6, contracts: [Self.network: Self.token])],
            limits: ["USDC": .init()], allowedNetworks: [Self.network], allowedAssets: ["USDC"], allowedPayees: .any)
    }

    var reconciler: SettlementReconciler {
        SettlementReconciler(
            ledger: ledger,
            verifiers: [
                Self.network: SettlementVerifier(
                    rpc: EthereumRPC(transport: node, endpoint: .init(url: URL(string: "http://127.0.0.1:8545")!)))
            ])
    }

    func session(cap: Int64 = 100_000) async throws -> PaymentSession {
        try await ledger.grantSession(agent: "alice", asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 3_600_000)
    }

    /// A payment held in doubt as the governed call holds it; `nonce` distinguishes payments.
    func held(_ session: PaymentSession, nonce: UInt8, validBefore: Int64 = 1_800_000_060, recorded: Bool = true)
        async throws -> Reservation
    {
        let request = ReservationRequest(
            sessionID: session.id, agent: "alice", tool: "weather", payee: Self.payee, network: Self.network,
            asset: "USDC", amount: 10_000, purpose: "data.weather", argumentsDigest: "d")
        let outcome = try await ledger.reserve(
            request, limits: limits, holdUntil: validBefore,
            authorization: recorded
                ? SignedAuthorization(nonce: Self.nonce(nonce), authorizer: Self.authorizer, token: Self.token) : nil)
        guard case .reserved(let reservation, _) = outcome else { throw CocoaError(.featureUnsupported) }
        return reservation
    }

    static func nonce(_ byte: UInt8) -> String { "0x" + String(repeating: String(format: "%02x", byte), count: 32) }
    static func transaction(_ byte: UInt8) -> String {
        "0x" + String(repeating: String(format: "%02x", byte), count: 32)
    }

    func settleOnChain(nonce: UInt8, transaction: UInt8) {
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(nonce), payTo: Self.payee, amount: 10_000,
            transaction: Self.transaction(transaction))
    }

    @Test("settled on chain → verified (spent); unused after validBefore → void (restored); otherwise held")
    func decides() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try await session()
        let settled = try await held(session, nonce: 1)
        let unused = try await held(session, nonce: 2)
        let legacy = try await held(session, nonce: 3, recorded: false)
        settleOnChain(nonce: 1, transaction: 0xA1)
        var summary = try await reconciler.reconcile()
        #expect(summary.verified == [settled.id] && summary.pending == [unused.id])
        #expect(summary.unresolvable == [legacy.id])
        #expect(try await ledger.reservation(id: settled.id)?.transaction == Self.transaction(0xA1))
        #expect(try await ledger.reservation(id: settled.id)?.evidence == .verified)
        #expect(try await ledger.sessions().first?.remaining == 70_000)

        node.mine(seconds: 60)  // the chain passes validBefore
        summary = try await reconciler.reconcile()
        #expect(summary.voided == [unused.id])
        #expect(try await ledger.reservation(id: unused.id)?.releaseReason == "unused_on_chain")
        #expect(try await ledger.sessions().first?.remaining == 80_000)
        #expect(try await ledger.verify().isValid)
    }

    @Test("a settled payment on a long chain is searched only near its hold's window, in ranges a hosted node accepts")
    func logSearchNearTheHold() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // 20,000 blocks of 2 s before the payment (40,000 s of chain), and a node that refuses ranges over 2,000.
        node.mine(blocks: 20_000, seconds: 2)
        node.state.withLock { $0.maximumLogRange = 2_000 }
        let holdUntil = Int64(node.state.withLock { $0.timestamp }) + 302
        let session = try await session()
        let settled = try await held(session, nonce: 1, validBefore: holdUntil)
        settleOnChain(nonce: 1, transaction: 0xA1)
        node.mine(blocks: 20, seconds: 2)
        let summary = try await reconciler.reconcile()
        #expect(summary.verified == [settled.id])
        // The window is at most validityCap + 2 + backdate + clock slack (4,802 s, 2,401 blocks) before the hold's
        // end: the search starts after block 17,000 and needs at most three ranges, where from block 0 it took
        // eleven (the payment is in block 20,101).
        let ranges = node.state.withLock { $0.logRanges }
        #expect(!ranges.isEmpty && ranges.count <= 3, "\(ranges)")
        #expect(ranges.allSatisfy { $0.lowerBound > 17_000 }, "\(ranges)")
    }

    @Test("a pass over 150 held payments decides each one in a few batched node requests, not three or four each")
    func manyPaymentsFewRequests() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try await session(cap: 2_000_000)
        var settled: [String] = []
        var unused: [String] = []
        for nonce in UInt8(1)...150 {
            let reservation = try await held(session, nonce: nonce)
            if nonce % 2 == 0 {
                settleOnChain(nonce: nonce, transaction: nonce &+ 100)
                settled.append(reservation.id)
            } else {
                unused.append(reservation.id)
            }
        }
        node.mine(seconds: 60)  // past every validBefore
        let summary = try await reconciler.reconcile()
        #expect(summary.verified == settled && summary.voided == unused && summary.failed.isEmpty)
        #expect(try await ledger.sessions().first?.remaining == 2_000_000 - 75 * 10_000)
        // One at a time this was 150 × 2 + 75 × 2 requests (final block and authorizationState each, logs and
        // receipt for each used one); batched: the final block, 2 batches of authorizationState, one log query,
        // one batch of receipts.
        let posts = node.state.withLock { $0.posts }
        #expect(posts.count <= 6, "\(posts.count) requests")
        #expect(try await ledger.verify().isValid)
    }

    @Test("a seller's claim naming another transaction is replaced by the chain's; a contradicted one is settled")
    func claimsOverridden() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try await session()
        let claimed = try await held(session, nonce: 4)
        _ = try await ledger.commit(
            claimed.id, settledAmount: 10_000, transaction: Self.transaction(0xEE), payer: Self.authorizer)
        let contradicted = try await held(session, nonce: 5)
        _ = try await ledger.contradict(contradicted.id, claimedTransaction: nil, reason: "payer is not the signer")
        settleOnChain(nonce: 4, transaction: 0xB4)
        settleOnChain(nonce: 5, transaction: 0xB5)
        let summary = try await reconciler.reconcile()
        #expect(Set(summary.verified) == [claimed.id, contradicted.id])
        #expect(try await ledger.reservation(id: claimed.id)?.transaction == Self.transaction(0xB4))
        #expect(try await ledger.reservation(id: contradicted.id)?.state == .committed)
        #expect(try await ledger.unsettled().isEmpty)
    }

    @Test("a seller that claimed a settlement the chain never saw: void after validBefore, budget restored")
    func lyingClaimVoided() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try await session(cap: 10_000)
        let claimed = try await held(session, nonce: 6)
        _ = try await ledger.commit(
            claimed.id, settledAmount: 10_000, transaction: Self.transaction(0xEF), payer: Self.authorizer)
        #expect(try await reconciler.reconcile().pending == [claimed.id])
        node.mine(seconds: 120)
        #expect(try await reconciler.reconcile().voided == [claimed.id])
        #expect(try await ledger.sessions().first?.remaining == 10_000)
    }

    @Test("an unreachable node decides nothing: the amount stays held")
    func unreachable() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try await session()
        let reservation = try await held(session, nonce: 7)
        node.mine(seconds: 3_600)
        node.state.withLock { $0.unreachable = true }
        let summary = try await reconciler.reconcile()
        #expect(summary.failed.keys.sorted() == [reservation.id])
        #expect(try await ledger.reservation(id: reservation.id)?.state == .inDoubt)
        let (verifiers, problems) = await SettlementReconciler.verifiers(
            NodeConfiguration(nodes: [
                Self.network: .init(
                    network: Self.network, chainID: 84532,
                    endpoint: .init(url: URL(string: "http://127.0.0.1:8545")!), fromBlock: 0)
            ]), transport: node)
        #expect(verifiers.isEmpty && problems.count == 1)
    }

    @Test("the periodic run (serve and vault) decides held payments without a hand: at start, then each interval")
    func periodic() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try #"{"nodes": {"eip155:84532": {"url": "http://127.0.0.1:8545"}}}"#.write(
            to: directory.appendingPathComponent("nodes.json"), atomically: true, encoding: .utf8)
        let session = try await session()
        let settled = try await held(session, nonce: 8)
        let unused = try await held(session, nonce: 9)
        settleOnChain(nonce: 8, transaction: 0xC8)
        let lines = Mutex<[String]>([])
        let node = self.node
        let run = Task {
            await SettlementReconciler.runPeriodically(
                ledger: ledger, home: directory.path, interval: .milliseconds(20), transport: { node },
                process: "purser vault", log: { line in lines.withLock { $0.append(line) } })
        }
        func state(_ id: String, becomes expected: ReservationState) async throws -> Bool {
            // A liveness bound, not a timing assertion: passes run every 20 ms.
            for _ in 0..<2000 {
                if try await ledger.reservation(id: id)?.state == expected { return true }
                try await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
        // Wait for the first pass to finish (its log line), not only for the commit: mining while that
        // pass is still running would let the same pass void the second payment too.
        let firstPass = "purser vault: reconcile: 1 verified, 0 void, 1 pending"
        for _ in 0..<2000 where !lines.withLock({ $0.contains(firstPass) }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(lines.withLock { $0.contains(firstPass) })
        #expect(try await ledger.reservation(id: settled.id)?.state == .committed)
        #expect(try await ledger.reservation(id: settled.id)?.evidence == .verified)
        #expect(try await ledger.reservation(id: unused.id)?.state == .inDoubt)
        node.mine(seconds: 60)  // a later pass sees validBefore passed, unused
        #expect(try await state(unused.id, becomes: .released))
        run.cancel()
        await run.value
        #expect(try await ledger.sessions().first?.remaining == 90_000)
        #expect(lines.withLock { $0 }.contains("purser vault: reconcile: 1 verified, 0 void, 1 pending"))
    }

    @Test("the node transport never cuts a node's configured timeout short (it stopped every request at 10 s)")
    func transportTimeout() throws {
        let client = try #require(SettlementReconciler.defaultTransport() as? HTTPClient)
        #expect(client.configuration.timeout >= .seconds(NodeConfiguration.maximumTimeoutSeconds))
        #expect(client.configuration.maximumResponseBytes == 4 << 20)
    }

    @Test("a node on another chain is not used")
    func wrongChain() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        node.state.withLock { $0.chainID = 1 }
        let (verifiers, problems) = await SettlementReconciler.verifiers(
            NodeConfiguration(nodes: [
                Self.network: .init(
                    network: Self.network, chainID: 84532,
                    endpoint: .init(url: URL(string: "http://127.0.0.1:8545")!), fromBlock: 0)
            ]), transport: node)
        #expect(verifiers.isEmpty && problems == ["the node for eip155:84532 reports chain id 1"])
    }
}
