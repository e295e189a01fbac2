import Foundation
import JSONCore
import PurserTesting
import Synchronization
import Testing
import X402

@testable import Chain

/// Many payments in one pass: batched JSON-RPC requests and one log query over many nonces. A batch answer is
/// as hostile as any other answer, and a payment whose evidence is missing stays undecided.
@Suite("Chain: many payments per pass, batched requests")
struct BatchTests {
    static let token = ChainTests.token
    static let authorizer = ChainTests.authorizer
    static let payTo = ChainTests.payTo

    static func nonce(_ index: Int) -> String { "0x" + String(format: "%064x", index + 1) }
    static func transaction(_ index: Int) -> String { "0x" + String(format: "%064x", 0xF000 + index) }

    func rpc(_ node: FakeNode, batchSize: Int = 100, maximumResponseBytes: Int = 4 << 20) -> EthereumRPC {
        EthereumRPC(
            transport: node,
            endpoint: .init(
                url: URL(string: "http://127.0.0.1:8545")!, timeoutSeconds: 5,
                maximumResponseBytes: maximumResponseBytes, batchSize: batchSize))
    }

    func facts(_ index: Int, claimed: String? = nil) -> SignedPaymentFacts {
        SignedPaymentFacts(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(index), payTo: Self.payTo,
            amount: "10000", validBefore: 1_800_000_060, claimedTransaction: claimed)
    }

    /// `count` payments: the even ones settled on chain, the odd ones never used; the chain then passes
    /// their `validBefore`, so each is decidable (settled or void).
    func chain(_ count: Int) -> (FakeNode, [SignedPaymentFacts]) {
        let node = FakeNode()
        for index in stride(from: 0, to: count, by: 2) {
            node.settle(
                token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(index), payTo: Self.payTo,
                amount: 10_000, transaction: Self.transaction(index))
        }
        node.mine(seconds: 60)
        return (node, (0..<count).map { facts($0) })
    }

    /// What the chain says of payment `index` of `chain(_:)`, worked out from how it was built.
    func expected(_ index: Int, count: Int) -> ChainEvidence {
        let final = UInt64(100 + (count + 1) / 2 + 1)
        return index % 2 == 0
            ? .settled(transaction: Self.transaction(index), block: UInt64(101 + index / 2))
            : .unused(block: final, timestamp: 1_800_000_060)
    }

    static func evidence(_ results: [Result<ChainEvidence, ChainError>]) -> [ChainEvidence?] {
        results.map { try? $0.get() }
    }

    @Test("250 payments: every one decided as the chain says, in a handful of requests instead of ~900")
    func fewRequests() async throws {
        let (node, payments) = chain(250)
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        #expect(Self.evidence(results) == (0..<250).map { expected($0, count: 250) })
        // finalized (1), authorizationState (3 batches of at most 100), one log query for 125 nonces, the 125
        // receipts (2 batches): 7 POSTs; one by one it was 1 + 250 + 125 × 2.
        let posts = node.state.withLock { $0.posts }
        #expect(posts.count <= 7, "\(posts)")
        #expect(posts.allSatisfy { $0 <= 100 })
        #expect(node.state.withLock { $0.calls.filter { $0 == "eth_getLogs" }.count } == 1)
    }

    @Test("a batch pass decides each payment exactly as a lone check does, hostile cases included")
    func sameAsAlone() async throws {
        func build() -> FakeNode {
            let node = FakeNode()
            node.settle(  // 0: settled, claimed honestly
                token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(0), payTo: Self.payTo,
                amount: 10_000, transaction: Self.transaction(0))
            node.settle(  // 1: settled, the claim names another transaction
                token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(1), payTo: Self.payTo,
                amount: 10_000, transaction: Self.transaction(1))
            node.settle(  // 2: used for another amount: unmatched
                token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(2), payTo: Self.payTo,
                amount: 9_999, transaction: Self.transaction(2))
            node.settle(  // 4: another authorizer's payment, found by its own log query
                token: Self.token, authorizer: "0x" + String(repeating: "bb", count: 20), nonce: Self.nonce(4),
                payTo: Self.payTo, amount: 10_000, transaction: Self.transaction(4))
            node.mine(seconds: 60)
            node.settle(  // 5: settled above the final block (finalized lags by one): never void, pending
                token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce(5), payTo: Self.payTo,
                amount: 10_000, transaction: Self.transaction(5))
            node.state.withLock { $0.finalizedLag = 1 }
            return node
        }
        var payments = [
            facts(0, claimed: Self.transaction(0)), facts(1, claimed: "0x" + String(repeating: "ee", count: 32)),
            facts(2), facts(3), facts(4), facts(5, claimed: Self.transaction(5)), facts(6, claimed: "0x12"),
        ]
        payments[4].authorizer = "0x" + String(repeating: "bb", count: 20)
        payments.append(
            SignedPaymentFacts(
                token: "not a token", authorizer: Self.authorizer, nonce: Self.nonce(7), payTo: Self.payTo,
                amount: "10000", validBefore: 1_800_000_060, claimedTransaction: nil))
        let batched = try await SettlementVerifier(rpc: rpc(build())).check(payments)
        for (index, payment) in payments.enumerated() {
            let alone: Result<ChainEvidence, ChainError>
            do {
                alone = .success(try await SettlementVerifier(rpc: rpc(build())).check(payment))
            } catch {
                alone = .failure(error)
            }
            #expect((try? batched[index].get()) == (try? alone.get()), "payment \(index)")
            if case .failure(let error) = alone {
                guard case .failure(let batchError) = batched[index] else {
                    Issue.record("payment \(index) failed alone but was decided in a batch")
                    continue
                }
                #expect(batchError.code == error.code)
            }
        }
        #expect(try batched[0].get() == .settled(transaction: Self.transaction(0), block: 101))
        #expect(try batched[1].get() == .settled(transaction: Self.transaction(1), block: 102))
        #expect(try batched[4].get() == .settled(transaction: Self.transaction(4), block: 104))
        #expect(try batched[3].get() == .unused(block: 105, timestamp: 1_800_000_060))
        #expect(try batched[5].get() == .pending)
        guard case .usedUnmatched = try batched[2].get() else {
            Issue.record("a transfer of another amount was taken as the payment")
            return
        }
        #expect(throws: ChainError.self) { try batched[7].get() }
    }

    @Test("batch answers out of order are matched by id")
    func outOfOrder() async throws {
        let (node, payments) = chain(40)
        node.state.withLock { $0.batchRewrite = { .array($0.reversed()) } }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        #expect(Self.evidence(results) == (0..<40).map { expected($0, count: 40) })
    }

    @Test("a call the batch answer leaves out fails alone; the others are decided")
    func missingAnswer() async throws {
        let (node, payments) = chain(40)
        // Drop the answer to the first authorizationState call of the pass (payment 0); receipts stay whole.
        let dropped = Mutex(false)
        node.state.withLock {
            $0.batchRewrite = { answers in
                dropped.withLock { done in
                    guard !done else { return .array(answers) }
                    done = true
                    return .array(Array(answers.dropFirst()))
                }
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        guard case .failure(let error) = results[0] else {
            Issue.record("a payment without an answer was decided: \(results[0])")
            return
        }
        #expect(error.code == .invalidAnswer)
        #expect(Array(Self.evidence(results).dropFirst()) == (1..<40).map { expected($0, count: 40) })
    }

    @Test(
        "an answer that cannot be matched to its calls fails every call of the batch, deciding nothing",
        arguments: ["duplicate", "unknown id", "id as a string", "not an object", "more than asked", "object"])
    func unmatchable(_ shape: String) async throws {
        let (node, payments) = chain(40)
        node.state.withLock {
            $0.batchRewrite = { answers in
                var entries = answers
                switch shape {
                case "duplicate": entries[1] = entries[0]  // two answers for one call, none for another
                case "unknown id":
                    if var first = entries[0].objectValue {
                        first["id"] = 999_999
                        entries[0] = .object(first)
                    }
                case "id as a string":
                    if var first = entries[0].objectValue {
                        first["id"] = .string(first["id"]?.numberValue?.description ?? "1")
                        entries[0] = .object(first)
                    }
                case "not an object": entries[0] = "0x1"
                case "more than asked": entries.append(entries[0])
                default: return entries[0]  // one answer object for the whole batch
                }
                return .array(entries)
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        for (index, result) in results.enumerated() {
            guard case .failure(let error) = result else {
                Issue.record("payment \(index) decided from an unmatchable batch answer: \(result)")
                continue
            }
            #expect(error.code == .invalidAnswer)
        }
    }

    @Test("a batch answer larger than the node's limit is no answer")
    func oversized() async throws {
        let (node, payments) = chain(40)
        // A lone answer (a block, a bool) fits in 400 bytes; 40 of them in one answer do not.
        let results = try await SettlementVerifier(rpc: rpc(node, maximumResponseBytes: 400)).check(payments)
        for result in results {
            guard case .failure(let error) = result else {
                Issue.record("decided from an oversized answer: \(result)")
                continue
            }
            #expect(error.code == .invalidAnswer)
        }
    }

    @Test(
        "a node that refuses batches gets every call alone, and the pass still decides",
        arguments: [
            HTTPResponse(status: 400, body: Array("batch requests are not supported".utf8)),
            HTTPResponse(status: 413, body: []),
            HTTPResponse(
                status: 200,
                body: Array(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}"#.utf8)),
            HTTPResponse(
                status: 200,
                body: Array(#"[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}]"#.utf8)),
        ])
    func refusesBatches(_ refusal: HTTPResponse) async throws {
        let (node, payments) = chain(20)
        node.state.withLock { $0.batchRefusal = refusal }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        #expect(Self.evidence(results) == (0..<20).map { expected($0, count: 20) })
        // One batch tried, then everything alone: 1 (final block) + 1 refused + 20 + 1 + 10.
        let posts = node.state.withLock { $0.posts }
        #expect(posts.filter { $0 > 1 }.count == 1, "\(posts)")
    }

    @Test("a node that is down for a batch (503) is not a refusal: the calls fail, nothing is sent again")
    func downIsNotRefusal() async throws {
        let (node, payments) = chain(20)
        node.state.withLock { $0.batchRefusal = HTTPResponse(status: 503, body: []) }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        #expect(results.allSatisfy { (try? $0.get()) == nil })
        #expect(node.state.withLock { $0.posts } == [1, 20])
    }

    @Test("batchSize 1 sends every call alone")
    func batchSizeOne() async throws {
        let (node, payments) = chain(10)
        let results = try await SettlementVerifier(rpc: rpc(node, batchSize: 1)).check(payments)
        #expect(Self.evidence(results) == (0..<10).map { expected($0, count: 10) })
        #expect(node.state.withLock { $0.posts }.allSatisfy { $0 == 1 })
    }

    @Test("a log query answer naming a nonce not asked about is no evidence for any payment of the query")
    func logsOfNoncesNotAsked() async throws {
        let (node, payments) = chain(20)
        let stranger = "0x" + String(repeating: "77", count: 32)
        node.state.withLock {
            $0.rewrite["eth_getLogs"] = { _, result in
                // A copy of the first log, about a nonce no payment of this pass has.
                guard var logs = result.arrayValue, var log = logs.first?.objectValue,
                    var topics = log["topics"]?.arrayValue
                else { return result }
                topics[2] = .string(stranger)
                log["topics"] = .array(topics)
                logs.append(.object(log))
                return .array(logs)
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        for index in stride(from: 0, to: 20, by: 2) {
            guard case .failure(let error) = results[index] else {
                Issue.record("payment \(index) decided from a log answer outside its filter: \(results[index])")
                continue
            }
            #expect(error.code == .invalidAnswer)
        }
        // The unused ones never needed the logs: still void.
        for index in stride(from: 1, to: 20, by: 2) {
            #expect(try results[index].get() == expected(index, count: 20))
        }
    }

    @Test("a log of another nonce of the same query is another payment's, never this one's")
    func logsOfOtherPaymentsInTheQuery() async throws {
        let (node, payments) = chain(6)
        // Each receipt answer is the one of payment 0's transaction: only payment 0 can match it.
        node.state.withLock {
            $0.rewrite["eth_getTransactionReceipt"] = { params, result in
                guard
                    params.first?.stringValue == Self.transaction(2) || params.first?.stringValue == Self.transaction(4)
                else { return result }
                return .null
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node)).check(payments)
        #expect(try results[0].get() == expected(0, count: 6))
        for index in [2, 4] {
            guard case .usedUnmatched = try results[index].get() else {
                Issue.record("payment \(index) settled without its own receipt: \(results[index])")
                continue
            }
        }
    }

    @Test("batch matching: ids, duplicates, refusals")
    func matching() {
        let ids: [Int64] = [7, 8, 9]
        func entry(_ id: JSONValue, _ result: JSONValue = "0x1") -> JSONValue {
            ["jsonrpc": "2.0", "id": id, "result": result]
        }
        guard case .matched(let byID) = EthereumRPC.match([entry(9), entry(7)], ids: ids) else {
            Issue.record("a well-formed partial answer was not matched")
            return
        }
        #expect(Set(byID.keys) == [7, 9])
        #expect(EthereumRPC.match([entry(7), entry(7)], ids: ids) == .unmatched("two answers to one call"))
        #expect(
            EthereumRPC.match([entry(6)], ids: ids) == .unmatched("an answer that is not to any call of the batch"))
        #expect(
            EthereumRPC.match([entry(.null)], ids: ids) == .unmatched("an answer that is not to any call of the batch"))
        #expect(
            EthereumRPC.match([entry(7), entry(8), entry(9), entry(7)], ids: ids)
                == .unmatched("more answers than calls"))
        let refusal: JSONValue = ["jsonrpc": "2.0", "id": .null, "error": ["code": -32600, "message": "no"]]
        #expect(EthereumRPC.match(refusal, ids: ids) == .refused)
        #expect(EthereumRPC.match([refusal], ids: ids) == .refused)
        #expect(EthereumRPC.match(entry(7), ids: ids) == .unmatched("a single answer to a batch"))
        #expect(EthereumRPC.match("[]", ids: ids) == .unmatched("not a JSON-RPC batch answer"))
        #expect(EthereumRPC.match([], ids: ids) == .matched([:]))
    }

    @Test("nodes.json batchSize: 1 to 1000, default 100, file:line:col otherwise")
    func configuration() throws {
        let parsed = try NodeConfiguration.parse(
            Array(#"{"nodes": {"eip155:1": {"url": "http://h/", "batchSize": 1}}}"#.utf8), file: "nodes.json",
            environment: [:])
        #expect(parsed.nodes["eip155:1"]?.endpoint.batchSize == 1)
        let plain = try NodeConfiguration.parse(
            Array(#"{"nodes": {"eip155:1": {"url": "http://h/"}}}"#.utf8), file: "nodes.json", environment: [:])
        #expect(plain.nodes["eip155:1"]?.endpoint.batchSize == 100)
        for size in ["0", "1001", "2.5", "\"10\""] {
            let text = #"{"nodes": {"eip155:1": {"url": "http://h/", "batchSize": "# + size + "}}}"
            do {
                _ = try NodeConfiguration.parse(Array(text.utf8), file: "nodes.json", environment: [:])
                Issue.record("batchSize \(size) was accepted")
            } catch {
                // The column of the value, 1-based.
                let column = text.utf8.count - size.utf8.count - 3 + 1
                #expect(error.problems == ["nodes.json:1:\(column): \"batchSize\" must be an integer from 1 to 1000"])
            }
        }
    }
}
