import EVMSigning
import Foundation
import JSONCore
import PurserTesting
import Synchronization
import Testing
import X402

@testable import Chain

@Suite("Chain: ABI, JSON-RPC validation, settlement evidence, node configuration")
struct ChainTests {
    static let token = "0x036cbd53842c5426634e7929541ec2318f3dcf7e"
    static let authorizer = "0x" + String(repeating: "aa", count: 20)
    static let payTo = "0x209693bc6afc0c5328ba36faf03c514ef312287c"
    static let nonce = "0x" + String(repeating: "11", count: 32)
    static let transaction = "0x" + String(repeating: "cd", count: 32)

    func verifier(_ node: FakeNode, timeout: Double = 5, confirmations: UInt64 = 12) -> SettlementVerifier {
        SettlementVerifier(rpc: rpc(node, timeout: timeout), confirmations: confirmations)
    }

    func rpc(_ node: FakeNode, timeout: Double = 5) -> EthereumRPC {
        EthereumRPC(
            transport: node, endpoint: .init(url: URL(string: "http://127.0.0.1:8545")!, timeoutSeconds: timeout))
    }

    func facts(validBefore: UInt64? = 1_800_000_060, claimed: String? = nil, amount: String = "10000")
        -> SignedPaymentFacts
    {
        SignedPaymentFacts(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: amount,
            validBefore: validBefore, claimedTransaction: claimed)
    }

    @Test("selector and topics are the Keccak-256 of their signatures")
    func constants() {
        func keccak(_ text: String) -> String { HexBytes.prefixed(Keccak256.hash(Array(text.utf8))) }
        #expect(keccak("authorizationState(address,bytes32)").hasPrefix(ABI.authorizationStateSelector))
        #expect(keccak("AuthorizationUsed(address,bytes32)") == ABI.authorizationUsedTopic)
        #expect(keccak("Transfer(address,address,uint256)") == ABI.transferTopic)
    }

    @Test("ABI words: bool only 0 or 1, quantities bounded, big decimals exact")
    func words() {
        #expect(ABI.bool([UInt8](repeating: 0, count: 31) + [1]) == true)
        #expect(ABI.bool([UInt8](repeating: 0, count: 31) + [2]) == nil)
        #expect(ABI.bool([1] + [UInt8](repeating: 0, count: 31)) == nil)
        #expect(ABI.quantity("0x1f") == 31 && ABI.quantity("0x") == nil && ABI.quantity("1f") == nil)
        #expect(ABI.quantity("0x" + String(repeating: "f", count: 17)) == nil)
        #expect(
            ABI.decimal([UInt8](repeating: 0xff, count: 32))
                == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(ABI.decimal([UInt8](repeating: 0, count: 30) + [0x27, 0x10]) == "10000")
        #expect(
            ABI.authorizationStateCall(authorizer: ABI.address(Self.authorizer)!, nonce: ABI.word(Self.nonce)!)
                == "0xe94a0102" + String(repeating: "0", count: 24) + String(repeating: "aa", count: 20)
                + String(repeating: "11", count: 32))
    }

    @Test("settled: the claimed transaction carries AuthorizationUsed and the Transfer of the signed amount")
    func settledByClaim() async throws {
        let node = FakeNode()
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 10_000,
            transaction: Self.transaction)
        #expect(
            try await verifier(node).check(facts(claimed: Self.transaction))
                == .settled(transaction: Self.transaction, block: 101))
    }

    @Test("a lying claim is ignored: the real transaction is found through AuthorizationUsed logs")
    func settledByLogs() async throws {
        let node = FakeNode()
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 10_000,
            transaction: Self.transaction)
        let evidence = try await verifier(node).check(facts(claimed: "0x" + String(repeating: "ee", count: 32)))
        #expect(evidence == .settled(transaction: Self.transaction, block: 101))
    }

    @Test("a transfer of another amount is not this payment: used but unmatched, stays held")
    func unmatchedAmount() async throws {
        let node = FakeNode()
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 9_999,
            transaction: Self.transaction)
        guard case .usedUnmatched = try await verifier(node).check(facts(claimed: Self.transaction)) else {
            Issue.record("a different transfer was accepted as the payment")
            return
        }
    }

    @Test("unused before validBefore is pending; unused at a block at or after validBefore is void")
    func unusedAfterExpiry() async throws {
        let node = FakeNode()
        #expect(try await verifier(node).check(facts()) == .pending)
        #expect(try await verifier(node).check(facts(validBefore: nil)) == .pending)
        node.mine(seconds: 60)
        #expect(try await verifier(node).check(facts()) == .unused(block: 101, timestamp: 1_800_000_060))
    }

    @Test("void is decided at the finalized block: unused at latest past validBefore is still pending")
    func voidWaitsForFinality() async throws {
        let node = FakeNode()
        node.state.withLock { $0.finalizedLag = 2 }
        node.mine(seconds: 60)
        // latest (101) is past validBefore, but a reorg could still replace it with a block that uses the
        // authorization; the finalized block (99) is before validBefore.
        #expect(try await verifier(node).check(facts()) == .pending)
        node.mine(seconds: 12)
        node.mine(seconds: 12)
        #expect(try await verifier(node).check(facts()) == .unused(block: 101, timestamp: 1_800_000_060))
        #expect(node.state.withLock { $0.blocksAsked.allSatisfy { $0 == "finalized" } })
    }

    @Test("a settlement is verified only once its block is final; until then it stays pending (held)")
    func settledWaitsForFinality() async throws {
        let node = FakeNode()
        node.state.withLock { $0.finalizedLag = 2 }
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 10_000,
            transaction: Self.transaction)
        #expect(try await verifier(node).check(facts(claimed: Self.transaction)) == .pending)
        #expect(try await verifier(node).check(facts()) == .pending)
        node.mine(seconds: 12)
        node.mine(seconds: 12)
        #expect(
            try await verifier(node).check(facts(claimed: Self.transaction))
                == .settled(transaction: Self.transaction, block: 101))
        #expect(try await verifier(node).check(facts()) == .settled(transaction: Self.transaction, block: 101))
    }

    @Test("without finalized the safe block decides; without either, latest minus the confirmation depth")
    func finalityFallbacks() async throws {
        let safeOnly = FakeNode()
        safeOnly.state.withLock {
            $0.knownTags = ["latest", "safe"]
            $0.safeLag = 1
        }
        safeOnly.mine(seconds: 60)
        let safe = try await rpc(safeOnly).finalBlock(confirmations: 12)
        #expect(safe == FinalBlock(header: BlockHeader(number: 100, timestamp: 1_800_000_000), basis: .safe))
        #expect(try await verifier(safeOnly).check(facts()) == .pending)

        let neither = FakeNode()
        neither.state.withLock {
            $0.knownTags = ["latest"]
            $0.nullTags = ["safe"]  // a node may also answer an unknown tag with a null block
        }
        neither.mine(seconds: 60)
        neither.mine(seconds: 60)
        let deep = try await rpc(neither).finalBlock(confirmations: 12)
        #expect(
            deep == FinalBlock(header: BlockHeader(number: 90, timestamp: 1_799_999_880), basis: .confirmations(12)))
        #expect(try await verifier(neither).check(facts()) == .pending)
        #expect(
            try await verifier(neither, confirmations: 1).check(facts())
                == .unused(block: 101, timestamp: 1_800_000_060))
        let asked = neither.state.withLock { $0.blocksAsked }
        #expect(Array(asked.prefix(4)) == ["finalized", "safe", "latest", "0x5a"])

        // A node that cannot be reached is not a node without the tags: no fallback, no decision.
        let down = FakeNode()
        down.state.withLock { $0.unreachable = true }
        await #expect(throws: ChainError.self) { _ = try await rpc(down).finalBlock(confirmations: 12) }
    }

    @Test("an unreachable or lying node is an error, never evidence")
    func badNodes() async throws {
        let node = FakeNode()
        node.state.withLock { $0.unreachable = true }
        await #expect(throws: ChainError.self) { _ = try await verifier(node).check(facts()) }
        for lie: JSONValue in [
            ["jsonrpc": "2.0", "id": 999, "result": "0x1"],
            ["jsonrpc": "1.0", "id": 1, "result": "0x1"],
            ["jsonrpc": "2.0", "id": 1, "error": ["code": -32000, "message": "boom"]],
            "not an object",
        ] {
            let liar = FakeNode()
            liar.state.withLock { $0.lie = lie }
            await #expect(throws: ChainError.self) { _ = try await verifier(liar).check(facts()) }
        }
    }

    /// A copy of a receipt (or log list) with one member of log `index` set to `value`.
    static func settingLog(_ index: Int, _ key: String, _ value: JSONValue) -> FakeNode.Rewrite {
        { _, result in
            func edit(_ logs: JSONValue) -> JSONValue {
                guard var entries = logs.arrayValue, entries.indices.contains(index),
                    var log = entries[index].objectValue
                else { return logs }
                log[key] = value
                entries[index] = .object(log)
                return .array(entries)
            }
            guard var receipt = result.objectValue, let logs = receipt["logs"] else { return edit(result) }
            receipt["logs"] = edit(logs)
            return .object(receipt)
        }
    }

    func settledNode() -> FakeNode {
        let node = FakeNode()
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 10_000,
            transaction: Self.transaction)
        return node
    }

    @Test("quantities are 0x and hex digits only: no sign, no leading zero (found by Fuzz/ChainNode)")
    func strictQuantities() {
        #expect(ABI.quantity("0x0") == 0 && ABI.quantity("0xff") == 255 && ABI.quantity("0xFF") == 255)
        #expect(ABI.quantity("0x" + String(repeating: "f", count: 16)) == UInt64.max)
        for malformed in ["0x+1", "0x-0", "0x-", "0x01", "0x00", "0x 1", "0x1 ", "0xg", "0X1"] {
            #expect(ABI.quantity(malformed) == nil, "\(malformed) was read as a quantity")
        }
    }

    @Test("a receipt whose status is a signed quantity is no evidence")
    func signedStatus() async throws {
        let node = settledNode()
        node.state.withLock {
            $0.rewrite["eth_getTransactionReceipt"] = { _, receipt in
                guard var object = receipt.objectValue else { return receipt }
                object["status"] = "0x+1"
                return .object(object)
            }
        }
        await #expect(throws: ChainError.self) { _ = try await verifier(node).check(facts(claimed: Self.transaction)) }
    }

    @Test(
        "a receipt put together from other transactions' or blocks' logs, or with malformed logs, is no evidence",
        arguments: [
            (0, "transactionHash", JSONValue.string("0x" + String(repeating: "ce", count: 32))),
            (1, "transactionHash", JSONValue.string("0x" + String(repeating: "ce", count: 32))),
            (1, "blockNumber", JSONValue.string("0x64")),
            (0, "removed", JSONValue.string("true")),
            (1, "removed", JSONValue.null),
            (1, "data", JSONValue.string(String(repeating: "0", count: 60) + "2710")),
            (1, "blockNumber", JSONValue.string("0x065")),
        ])
    func hostileReceiptLogs(index: Int, key: String, value: JSONValue) async throws {
        let node = settledNode()
        node.state.withLock { $0.rewrite["eth_getTransactionReceipt"] = Self.settingLog(index, key, value) }
        await #expect(throws: ChainError.self) { _ = try await verifier(node).check(facts(claimed: Self.transaction)) }
        // The same receipt, with a log's own block number given and equal, is still evidence.
        let honest = settledNode()
        honest.state.withLock {
            $0.rewrite["eth_getTransactionReceipt"] = Self.settingLog(index, "blockNumber", "0x65")
        }
        #expect(
            try await verifier(honest).check(facts(claimed: Self.transaction))
                == .settled(transaction: Self.transaction, block: 101))
    }

    @Test("asked for a block by number, a node answering another block is not believed (found by Fuzz/ChainNode)")
    func otherBlockThanAsked() async throws {
        let node = settledNode()
        node.state.withLock {
            $0.knownTags = ["latest"]
            // Block 89 (101 - 12) asked; the head (101) answered: the settlement would look final.
            $0.rewrite["eth_getBlockByNumber"] = { params, block in
                guard params.first?.stringValue == "0x59", var object = block.objectValue else { return block }
                object["number"] = "0x65"
                return .object(object)
            }
        }
        await #expect(throws: ChainError.self) { _ = try await verifier(node).check(facts(claimed: Self.transaction)) }
        node.state.withLock { $0.rewrite = [:] }
        #expect(try await verifier(node).check(facts(claimed: Self.transaction)) == .pending)
    }

    @Test("a receipt of the signed transfer above the final block forbids void (found by Fuzz/ChainNode)")
    func noVoidWhileATransferIsSeen() async throws {
        let node = FakeNode()
        node.state.withLock { $0.finalizedLag = 1 }
        node.mine(seconds: 60)  // block 101, at validBefore: final once 102 exists
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 10_000,
            transaction: Self.transaction)  // block 102, above the final block 101
        // Unused at the final block, which is at validBefore; but the seller's receipt shows the transfer.
        #expect(try await verifier(node).check(facts(claimed: Self.transaction)) == .pending)
        // Without the receipt nothing contradicts it: void.
        #expect(try await verifier(node).check(facts()) == .unused(block: 101, timestamp: 1_800_000_060))
    }

    @Test("eth_getLogs answers outside the filter (another contract, event, or block range) are no evidence")
    func logsOutsideTheFilter() async throws {
        for (key, value) in [
            ("address", JSONValue.string("0x" + String(repeating: "de", count: 20))),
            ("topics", JSONValue.array([.string(ABI.transferTopic)])),
            ("blockNumber", JSONValue.string("0x66")),
        ] {
            let node = settledNode()
            node.mine(seconds: 12)
            node.state.withLock {
                $0.finalizedLag = 1
                $0.rewrite["eth_getLogs"] = Self.settingLog(0, key, value)
            }
            await #expect(throws: ChainError.self, "\(key)") { _ = try await verifier(node).check(facts()) }
        }
    }

    @Test("a node that never answers times out")
    func timeout() async throws {
        struct Hang: HTTPTransport {
            func send(_ request: HTTPRequest) async throws -> HTTPResponse {
                try await Task.sleep(nanoseconds: 60_000_000_000)
                throw HTTPTransportError(.timeout, "never")
            }
        }
        let rpc = EthereumRPC(
            transport: Hang(), endpoint: .init(url: URL(string: "http://127.0.0.1:1")!, timeoutSeconds: 0.2))
        do {
            _ = try await rpc.chainID()
            Issue.record("a hanging node answered")
        } catch {
            #expect(error.code == .unreachable)
        }
    }

    @Test("node configuration: credentials from the environment; every problem with file:line:col")
    func configuration() throws {
        let good = """
            {"nodes": {"eip155:84532": {"url": "http://127.0.0.1:8545",
              "headers": {"Authorization": {"env": "NODE_TOKEN", "prefix": "Bearer "}}, "fromBlock": 7}}}
            """
        let parsed = try NodeConfiguration.parse(
            Array(good.utf8), file: "nodes.json", environment: ["NODE_TOKEN": "s3"])
        let node = try #require(parsed.nodes["eip155:84532"])
        #expect(node.chainID == 84532 && node.fromBlock == 7 && node.confirmations == 12)
        let deeper = try NodeConfiguration.parse(
            Array(#"{"nodes": {"eip155:1": {"url": "http://h/", "confirmations": 64}}}"#.utf8), file: "nodes.json",
            environment: [:])
        #expect(deeper.nodes["eip155:1"]?.confirmations == 64)
        for depth in ["0", "10001", "1.5", "\"12\""] {
            let text = #"{"nodes": {"eip155:1": {"url": "http://h/", "confirmations": "# + depth + "}}}"
            do {
                _ = try NodeConfiguration.parse(Array(text.utf8), file: "nodes.json", environment: [:])
                Issue.record("confirmations \(depth) was accepted")
            } catch {
                #expect(error.problems == ["nodes.json:1:62: \"confirmations\" must be an integer from 1 to 10000"])
            }
        }
        #expect(node.endpoint.headers["Authorization"] == "Bearer s3")
        let bad = """
            {"nodes": {"base": {"url": "http://x"},
              "eip155:1": {"url": "http://user:pw@h/", "extra": 1},
              "eip155:2": {"url": "http://h/", "headers": {"X-Key": {"env": "MISSING"}}}}}
            """
        do {
            _ = try NodeConfiguration.parse(Array(bad.utf8), file: "nodes.json", environment: [:])
            Issue.record("a bad configuration loaded")
        } catch {
            let lines = bad.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(error.problems.count == 4)
            #expect(error.problems.contains { $0.hasPrefix("nodes.json:1:") && $0.contains("CAIP-2") })
            let extraColumn = lines[1].distance(from: lines[1].startIndex, to: lines[1].range(of: "1}")!.lowerBound) + 1
            #expect(error.problems.contains { $0 == "nodes.json:2:\(extraColumn): unknown key \"extra\"" })
            #expect(error.problems.contains { $0.contains("MISSING is not set") })
            #expect(!error.description.contains("pw"))
        }
        // Header names are HTTP tokens byte for byte (U+212A KELVIN SIGN is not "K"), and a value is one line;
        // the message never repeats the secret.
        for headers in [
            #"{"X-\u212Aey": {"env": "NODE_TOKEN"}}"#, #"{"X Key": {"env": "NODE_TOKEN"}}"#,
            #"{"X-Key": {"env": "SPLIT_TOKEN"}}"#,
        ] {
            let text = #"{"nodes": {"eip155:1": {"url": "http://h/", "headers": "# + headers + "}}}"
            do {
                _ = try NodeConfiguration.parse(
                    Array(text.utf8), file: "nodes.json",
                    environment: ["NODE_TOKEN": "s3", "SPLIT_TOKEN": "s3cr3t\r\nX-Evil: 1"])
                Issue.record("headers \(headers) were accepted")
            } catch {
                #expect(error.problems.count == 1)
                #expect(error.problems.allSatisfy { $0.contains("HTTP token") && !$0.contains("s3cr3t") })
            }
        }
    }
}
