import Foundation
import JSONCore
import PurserTesting
import Synchronization
import Testing
import X402

@testable import Chain

/// The `AuthorizationUsed` search against nodes that limit `eth_getLogs` ranges: only the blocks whose
/// timestamps allow the authorization (EIP-3009: `validAfter < block.timestamp < validBefore`), found by
/// binary search over headers, in consecutive ranges of at most `maxLogBlocks` blocks.
///
/// The chains here: blocks 0 to 99 are 12 s apart with block 100 at `t0` (FakeNode's genesis history), the
/// settlement is block 101 at `t0`, then blocks are mined 2 s apart, so block `101 + k` is at `t0 + 2k`.
@Suite("Chain: the log search by time window, in ranges a hosted node accepts")
struct LogRangeTests {
    static let token = ChainTests.token
    static let authorizer = ChainTests.authorizer
    static let payTo = ChainTests.payTo
    static let nonce = ChainTests.nonce
    static let transaction = ChainTests.transaction
    static let t0: UInt64 = 1_800_000_000

    func rpc(_ node: FakeNode) -> EthereumRPC {
        EthereumRPC(transport: node, endpoint: .init(url: URL(string: "http://127.0.0.1:8545")!, timeoutSeconds: 5))
    }

    func facts(validAfter: UInt64?, validBefore: UInt64?, nonce: String = nonce) -> SignedPaymentFacts {
        SignedPaymentFacts(
            token: Self.token, authorizer: Self.authorizer, nonce: nonce, payTo: Self.payTo, amount: "10000",
            validAfter: validAfter, validBefore: validBefore, claimedTransaction: nil)
    }

    /// A settled payment at block 101, then `blocks` more blocks 2 s apart.
    func settledChain(blocks: Int) -> FakeNode {
        let node = FakeNode()
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: Self.nonce, payTo: Self.payTo, amount: 10_000,
            transaction: Self.transaction)
        node.mine(blocks: blocks, seconds: 2)
        return node
    }

    @Test("a node refusing ranges over 2,000 blocks still lets a settled payment be proved settled")
    func hostedNodeLimit() async throws {
        let node = settledChain(blocks: 10_000)  // final block 10,101
        node.state.withLock { $0.maximumLogRange = 2000 }
        // validAfter 600 s before the settlement: the first block after it is 51 ((100 - n) × 12 < 600);
        // validBefore 60 s after: the last block before it is 130 (2k < 60, k = 29).
        let payment = facts(validAfter: Self.t0 - 600, validBefore: Self.t0 + 60)
        let evidence = try await SettlementVerifier(rpc: rpc(node)).check(payment)
        #expect(evidence == .settled(transaction: Self.transaction, block: 101))
        #expect(node.state.withLock { $0.logRanges } == [51...130])
        // The whole chain in one query, as before the window, is what the node refuses.
        await #expect(throws: ChainError.self) {
            try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 1_000_000).check(
                facts(validAfter: nil, validBefore: nil))
        }
        #expect(node.state.withLock { $0.logRanges.last } == 0...10_101)
    }

    @Test("validBefore unknown: from validAfter's block to the final block, in ranges of maxLogBlocks")
    func openEnded() async throws {
        let node = settledChain(blocks: 10_000)
        node.state.withLock { $0.maximumLogRange = 2000 }
        let evidence = try await SettlementVerifier(rpc: rpc(node)).check(
            facts(validAfter: Self.t0 - 600, validBefore: nil))
        #expect(evidence == .settled(transaction: Self.transaction, block: 101))
        // From block 51 (the first after validAfter) to 10,101, cut at multiples of 2,000 from fromBlock 0.
        #expect(
            node.state.withLock { $0.logRanges }
                == [51...1999, 2000...3999, 4000...5999, 6000...7999, 8000...9999, 10_000...10_101])
    }

    @Test("neither bound known: fromBlock to the final block, in ranges of maxLogBlocks")
    func unbounded() async throws {
        let node = settledChain(blocks: 50)  // final block 151
        node.state.withLock { $0.maximumLogRange = 40 }
        let evidence = try await SettlementVerifier(rpc: rpc(node), fromBlock: 30, maxLogBlocks: 40).check(
            facts(validAfter: nil, validBefore: nil))
        #expect(evidence == .settled(transaction: Self.transaction, block: 101))
        #expect(node.state.withLock { $0.logRanges } == [30...69, 70...109, 110...149, 150...151])
        // No header was needed: both ends are given.
        #expect(node.state.withLock { $0.blocksAsked } == ["finalized"])
    }

    @Test("the window is what the timestamps say: a log outside it is not searched")
    func windowFromTimestamps() async throws {
        let node = settledChain(blocks: 100)  // final block 201, at t0 + 200
        // validAfter t0 + 50: first block after it is 127 (2k > 50, k = 26); validBefore t0 + 100: the last
        // block before it is 150 (2k < 100, k = 49). The settlement's log (block 101) is outside.
        let outside = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 10).check(
            facts(validAfter: Self.t0 + 50, validBefore: Self.t0 + 100))
        #expect(node.state.withLock { $0.logRanges } == [127...129, 130...139, 140...149, 150...150])
        guard case .usedUnmatched = outside else {
            Issue.record("a log outside the authorization's window was taken: \(outside)")
            return
        }
        // The same payment with its true window is found.
        node.state.withLock { $0.logRanges = [] }
        let inside = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 10).check(
            facts(validAfter: Self.t0 - 1, validBefore: Self.t0 + 1))
        #expect(inside == .settled(transaction: Self.transaction, block: 101))
        // After t0 - 1: block 100 (t0); before t0 + 1: block 101 (t0), the settlement.
        #expect(node.state.withLock { $0.logRanges } == [100...101])
    }

    @Test("a window no final block is inside decides nothing settled: used but unmatched, held")
    func emptyWindow() async throws {
        let node = settledChain(blocks: 30)  // final block 131, at t0 + 60
        let evidence = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 10).check(
            facts(validAfter: Self.t0 + 60, validBefore: nil))
        guard case .usedUnmatched = evidence else {
            Issue.record("expected used but unmatched, got \(evidence)")
            return
        }
        #expect(node.state.withLock { $0.logRanges }.isEmpty)
    }

    @Test("many payments: one header search each round, windows shared by range, every one decided")
    func manyPayments() async throws {
        let node = FakeNode()
        // Payment i settles at block 101 + 10i (at t0 + 18i: nine blocks 2 s apart between settlements),
        // validAfter 60 s before, validBefore 60 s after.
        var payments: [SignedPaymentFacts] = []
        for index in 0..<20 {
            let nonce = "0x" + String(format: "%064x", index + 1)
            let transaction = "0x" + String(format: "%064x", 0xF000 + index)
            node.settle(
                token: Self.token, authorizer: Self.authorizer, nonce: nonce, payTo: Self.payTo, amount: 10_000,
                transaction: transaction)
            node.mine(blocks: 9, seconds: 2)
            let time = Self.t0 + 18 * UInt64(index)
            payments.append(facts(validAfter: time - 60, validBefore: time + 60, nonce: nonce))
        }
        node.mine(blocks: 100, seconds: 2)
        node.state.withLock { $0.maximumLogRange = 25 }
        let results = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 25).check(payments)
        for (index, result) in results.enumerated() {
            let transaction = "0x" + String(format: "%064x", 0xF000 + index)
            #expect(try result.get() == .settled(transaction: transaction, block: UInt64(101 + 10 * index)))
        }
        // Binary search over ~400 blocks: 9 rounds or so, each one POST; not one POST per header.
        let headerPosts = node.state.withLock { state in state.blocksAsked.filter { $0.hasPrefix("0x") }.count }
        #expect(headerPosts > 0)
        #expect(node.state.withLock { $0.posts.count } <= 20, "\(node.state.withLock { $0.posts })")
    }

    @Test("a node whose timestamps go back decides nothing")
    func timestampsGoingBack() async throws {
        let node = settledChain(blocks: 100)
        // Every block asked by number is later than the final block: a higher block would be earlier.
        node.state.withLock {
            $0.rewrite["eth_getBlockByNumber"] = { params, result in
                guard params.first?.stringValue?.hasPrefix("0x") == true, case .object(var fields) = result else {
                    return result
                }
                fields["timestamp"] = .string("0x" + String(Self.t0 + 10_000, radix: 16))
                return .object(fields)
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 10).check([
            facts(validAfter: Self.t0 - 600, validBefore: Self.t0 + 60)
        ])
        guard case .failure(let error) = results[0] else {
            Issue.record("a node going back in time decided \(results[0])")
            return
        }
        #expect(error.code == .invalidAnswer)
        #expect(error.message.contains("timestamp"))
    }

    @Test("a node answering another block than the one asked decides nothing")
    func headerOfAnotherBlock() async throws {
        let node = settledChain(blocks: 100)
        node.state.withLock {
            $0.rewrite["eth_getBlockByNumber"] = { params, result in
                guard let tag = params.first?.stringValue, tag.hasPrefix("0x"), case .object(var fields) = result,
                    let number = UInt64(tag.dropFirst(2), radix: 16)
                else { return result }
                fields["number"] = .string("0x" + String(number + 1, radix: 16))
                return .object(fields)
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 10).check([
            facts(validAfter: Self.t0 - 600, validBefore: Self.t0 + 60)
        ])
        guard case .failure(let error) = results[0] else {
            Issue.record("a node answering other blocks decided \(results[0])")
            return
        }
        #expect(error.code == .invalidAnswer)
    }

    @Test("a failed range fails only the payments whose window it covers")
    func failedRangeFailsItsPayments() async throws {
        let node = FakeNode()
        let early = "0x" + String(repeating: "01", count: 32)
        let late = "0x" + String(repeating: "02", count: 32)
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: early, payTo: Self.payTo, amount: 10_000,
            transaction: "0x" + String(repeating: "e1", count: 32))  // block 101, t0
        node.mine(blocks: 100, seconds: 2)  // blocks 102-201, t0 + 2 to t0 + 200
        node.settle(
            token: Self.token, authorizer: Self.authorizer, nonce: late, payTo: Self.payTo, amount: 10_000,
            transaction: "0x" + String(repeating: "e2", count: 32))  // block 202, t0 + 200
        node.mine(blocks: 10, seconds: 2)
        // The range holding block 202 (200-209 with maxLogBlocks 10) answers garbage.
        node.state.withLock {
            $0.rewrite["eth_getLogs"] = { params, result in
                params.first?["fromBlock"]?.stringValue.flatMap { UInt64($0.dropFirst(2), radix: 16) }
                    .map { $0 >= 200 && $0 <= 209 ? .string("garbage") : result } ?? result
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node), maxLogBlocks: 10).check([
            facts(validAfter: Self.t0 - 1, validBefore: Self.t0 + 1, nonce: early),
            facts(validAfter: Self.t0 + 199, validBefore: Self.t0 + 201, nonce: late),
        ])
        #expect(try results[0].get() == .settled(transaction: "0x" + String(repeating: "e1", count: 32), block: 101))
        #expect(throws: ChainError.self) { try results[1].get() }
    }

    @Test("a node naming a final block near 2^64 gets a bounded search: the payment fails, nothing hangs")
    func hugeFinalBlock() async throws {
        let node = settledChain(blocks: 10)
        node.state.withLock {
            $0.rewrite["eth_getBlockByNumber"] = { params, result in
                guard params.first?.stringValue == "finalized", case .object(var fields) = result else { return result }
                fields["number"] = "0xffffffffffffffff"
                fields["timestamp"] = "0xffffffffffffffff"
                return .object(fields)
            }
        }
        let results = try await SettlementVerifier(rpc: rpc(node)).check([
            facts(validAfter: nil, validBefore: nil), facts(validAfter: Self.t0 - 600, validBefore: nil),
        ])
        for result in results {
            guard case .failure(let error) = result else {
                Issue.record("decided against a final block of 2^64 - 1: \(result)")
                continue
            }
            #expect(error.message.contains("fromBlock"))
        }
        #expect(node.state.withLock { $0.logRanges }.isEmpty)
    }

    @Test("the range plan: consecutive ranges from fromBlock, gaps skipped, each narrowed to its windows")
    func rangePlan() {
        // Ranges of 10 blocks from block 10: 10-19, 20-29, 30-39, 40-49.
        var plan = LogRangePlan(
            origin: 10, width: 10, groups: [[0, 1, 3], [2]], windows: [12...35, 40...41, 10...10, 18...22])
        var ranges: [LogRangePlan.Range] = []
        while let range = plan.next() { ranges.append(range) }
        #expect(
            ranges == [
                .init(members: [0, 3], blocks: 12...19), .init(members: [0, 3], blocks: 20...29),
                .init(members: [0], blocks: 30...35), .init(members: [1], blocks: 40...41),
                .init(members: [2], blocks: 10...10),
            ])
        #expect(LogRangePlan.count(12...35, origin: 10, width: 10) == 3)
        // A gap of a million ranges between two windows costs nothing.
        var sparse = LogRangePlan(origin: 0, width: 1, groups: [[0, 1]], windows: [5...5, 9_000_000...9_000_001])
        #expect(sparse.next() == .init(members: [0], blocks: 5...5))
        #expect(sparse.next() == .init(members: [1], blocks: 9_000_000...9_000_000))
        #expect(sparse.next() == .init(members: [1], blocks: 9_000_001...9_000_001))
        #expect(sparse.next() == nil)
        // The last block there is: no overflow.
        var top = LogRangePlan(origin: 0, width: 1, groups: [[0]], windows: [UInt64.max...UInt64.max])
        #expect(top.next() == .init(members: [0], blocks: UInt64.max...UInt64.max))
        #expect(top.next() == nil)
    }

    @Test("maxLogBlocks in nodes.json: 1 to 1,000,000, default 2,000, errors at file:line:col")
    func configuration() throws {
        let plain = try NodeConfiguration.parse(
            Array(#"{"nodes": {"eip155:1": {"url": "http://h/"}}}"#.utf8), file: "nodes.json", environment: [:])
        #expect(plain.nodes["eip155:1"]?.maxLogBlocks == 2000)
        let set = try NodeConfiguration.parse(
            Array(#"{"nodes": {"eip155:1": {"url": "http://h/", "maxLogBlocks": 10000}}}"#.utf8), file: "nodes.json",
            environment: [:])
        #expect(set.nodes["eip155:1"]?.maxLogBlocks == 10_000)
        for value in ["0", "1000001", "1.5", "\"2000\"", "-1"] {
            let text = #"{"nodes": {"eip155:1": {"url": "http://h/", "maxLogBlocks": "# + value + "}}}"
            do {
                _ = try NodeConfiguration.parse(Array(text.utf8), file: "nodes.json", environment: [:])
                Issue.record("maxLogBlocks \(value) was accepted")
            } catch {
                #expect(error.problems == ["nodes.json:1:61: \"maxLogBlocks\" must be an integer from 1 to 1000000"])
            }
        }
    }
}
