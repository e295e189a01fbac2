import CSQLite
import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import Synchronization
import Testing
import X402

/// A temporary Purser world: policies, limits, a ledger with a session, a wallet, and one paid tool.
private final class World: Sendable {
    let directory: URL
    let ledger: Ledger
    let pipeline: ToolCallPipeline
    let seller: FakeSeller
    let session: PaymentSession

    init(
        seller: FakeSeller = FakeSeller(), budget: Int64 = 1_000_000, approvalAbove: String? = nil,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        ledgerClock: LedgerClock = .system, ledgerSetup: (String) throws -> Void = { _ in },
        policy: String = "permit (principal == Agent::\"alice\", action, resource);"
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "purser-governed-\(UUID().uuidString)")
        let policies = directory.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try policy.write(to: policies.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        let approval = approvalAbove.map { #", "approvalAbove": "\#($0)""# } ?? ""
        let limits = """
            {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "\(FakeSeller.asset)"}}},
             "limits": {"USDC": {"perCall": "1.00"\(approval)}},
             "allow": {"networks": ["eip155:84532"], "assets": ["USDC"], "payees": ["\(FakeSeller.payee)"]}}
            """
        try limits.write(to: policies.appendingPathComponent("limits.json"), atomically: true, encoding: .utf8)
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let keyPath = home.appendingPathComponent("wallet.key").path
        _ = try KeyFile.create(at: keyPath)
        ledger = try Ledger.open(path: home.appendingPathComponent("ledger.sqlite").path, clock: ledgerClock)
        try ledgerSetup(home.appendingPathComponent("ledger.sqlite").path)
        session = try await ledger.grantSession(
            agent: "alice", asset: "USDC", decimals: 6, cap: budget, ttlMilliseconds: 3_600_000)
        let manifestText = """
            {"name": "weather", "description": "Paid weather.", "purpose": "data.weather",
             "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                             "additionalProperties": false},
             "upstream": {"url": "http://seller.test/weather/{city}"}, "price": {"amount": "0.01", "asset": "USDC"}}
            """
        let (manifest, problems) = ToolManifestLoader.load(bytes: Array(manifestText.utf8), file: "weather.json")
        guard let manifest, problems.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
        self.seller = seller
        let payments = PaymentEnvironment(
            ledger: ledger,
            limits: try LimitsConfiguration.load(path: policies.appendingPathComponent("limits.json").path),
            signer: try KeyFileSigner(path: keyPath), approvalKey: Array(repeating: 7, count: 32), clock: clock)
        pipeline = ToolCallPipeline(
            catalog: ToolCatalog([manifest]), transport: { _ in seller }, secrets: EnvironmentSecrets(),
            authorizer: PolicyStore(directory: policies.path), payments: payments)
    }

    func call(
        agent: String = "alice", city: String = "Paris", meta: JSONObject = [:],
        channel: CallerContext.ApprovalChannel = .fallbackToken, requestState: String? = nil,
        inputResponses: JSONObject? = nil
    ) async throws -> ToolCallOutcome {
        try await pipeline.call(
            name: "weather", arguments: ["city": .string(city)],
            caller: CallerContext(
                agent: agent, meta: meta, requestState: requestState, inputResponses: inputResponses,
                approvalChannel: channel))
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    func reservationStates() async throws -> [ReservationState] {
        try await ledger.reservations().map(\.state)
    }
}

private func result(_ outcome: ToolCallOutcome) throws -> ToolResult {
    guard case .complete(let result) = outcome else { throw CocoaError(.featureUnsupported) }
    return result
}

private func errorCode(_ outcome: ToolCallOutcome) throws -> String? {
    try result(outcome).structuredContent?["error"]?.stringValue
}

@Suite("Governed paid call", .serialized)
struct GovernedCallTests {
    @Test("a paid call signs once, commits, and returns a receipt")
    func paidCall() async throws {
        let world = try await World()
        let paid = try result(await world.call())
        #expect(!paid.isError)
        #expect(paid.meta?["x402/payment-response"]?["success"] == true)
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["amount"] == "0.01" && receipt["amountAtomic"] == "10000")
        #expect(receipt["sessionRemaining"] == "0.99")
        #expect(receipt["payee"] == .string(FakeSeller.payee))
        #expect(receipt["traceId"]?.stringValue?.hasPrefix("trc_") == true)
        #expect(world.seller.paidRequests.count == 1)
        #expect(try await world.reservationStates() == [.committed])
        #expect(try await world.ledger.verify().isValid)
    }

    @Test("a paid call leaves exactly one call trace, the one its receipt names")
    func paidCallTracedOnce() async throws {
        let world = try await World()
        let paid = try result(await world.call())
        let traces = try await world.ledger.auditRecords().filter { $0.kind == "call" }
        #expect(traces.count == 1)
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["traceId"]?.stringValue == traces.first.map { "trc_\($0.sequence)" })
        #expect(traces.first?.payloadJSON?["outcome"] == "paid")
    }

    @Test("a call policy denial contacts nothing upstream")
    func policyDenied() async throws {
        let world = try await World()
        #expect(try errorCode(await world.call(agent: "bob")) == "policy_denied")
        #expect(world.seller.requests.isEmpty)
    }

    @Test("a budget refusal signs nothing and holds nothing")
    func budgetRefusal() async throws {
        let world = try await World(budget: 5_000)
        let refused = try result(await world.call())
        #expect(refused.structuredContent?["error"] == "budget_exceeded")
        #expect(refused.structuredContent?["shortfall"] != nil)
        #expect(world.seller.requests.count == 1 && world.seller.paidRequests.isEmpty)
        #expect(try await world.reservationStates().isEmpty)
    }

    @Test("a payee outside the allow list is refused before signing")
    func payeeNotAllowed() async throws {
        let world = try await World(seller: FakeSeller(payTo: "0x1111111111111111111111111111111111111111"))
        #expect(try errorCode(await world.call()) == "payment_unserviceable")
        #expect(world.seller.paidRequests.isEmpty)
    }

    @Test("a pay policy forbid stops the payment after the 402")
    func payPolicyDenied() async throws {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action, resource);
                @id("no-pay") forbid (principal, action == Action::"pay", resource);
                """)
        #expect(try errorCode(await world.call()) == "payment_policy_denied")
        #expect(world.seller.requests.count == 1 && world.seller.paidRequests.isEmpty)
    }

    @Test("an ambiguous outcome stays in doubt, and the same key never pays twice")
    func inDoubtAndIdempotency() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .timeout))
        let meta: JSONObject = ["com.purser/idempotency-key": "purchase-1"]
        #expect(try errorCode(await world.call(meta: meta)) == "outcome_unknown")
        #expect(try await world.reservationStates() == [.inDoubt])
        let again = try result(await world.call(meta: meta))
        #expect(again.structuredContent?["error"] == "outcome_unknown")
        #expect(again.meta?["com.purser/replayed"] == true)
        #expect(world.seller.paidRequests.count == 1)
        #expect(try errorCode(await world.call(city: "Rome", meta: meta)) == "idempotency_conflict")
    }

    @Test("a failed settlement keeps the amount held and the key bound: a retry signs nothing new")
    func failedSettlementKeepsKey() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .settlementFailed))
        let meta: JSONObject = ["com.purser/idempotency-key": "purchase-2"]
        #expect(try errorCode(await world.call(meta: meta)) == "payment_failed")
        #expect(try await world.reservationStates() == [.inDoubt])
        let again = try result(await world.call(meta: meta))
        #expect(again.meta?["com.purser/replayed"] == true)
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("a second 402 after payment is never paid again")
    func secondChallenge() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .secondPaymentRequired))
        let outcome = try errorCode(await world.call())
        #expect(outcome == "outcome_unknown" || outcome == "payment_failed")
        #expect(world.seller.paidRequests.count == 1)
        #expect(try await world.reservationStates() == [.inDoubt])
    }

    @Test("fallback approval: pending until the user approves, then usable exactly once")
    func fallbackApproval() async throws {
        let world = try await World(approvalAbove: "0.005")
        let first = try result(await world.call())
        #expect(first.structuredContent?["error"] == "approval_required")
        let id = try #require(first.structuredContent?["approvalId"]?.stringValue)
        let meta: JSONObject = ["com.purser/approval": .string(id)]
        #expect(try errorCode(await world.call(meta: meta)) == "approval_required")
        #expect(try await world.ledger.approve(id))
        #expect(try !result(await world.call(meta: meta)).isError)
        #expect(try errorCode(await world.call(meta: meta)) == "approval_invalid")
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("a pay policy marked @approval(\"required\") asks the human even below the threshold")
    func policyMarkedApproval() async throws {
        let world = try await World(
            policy: """
                permit (principal == Agent::"alice", action == Action::"call_tool", resource);
                @approval("required")
                permit (principal == Agent::"alice", action == Action::"pay", resource);
                """)
        let held = try result(await world.call())
        #expect(held.structuredContent?["error"] == "approval_required")
        #expect(world.seller.paidRequests.isEmpty)
        let id = try #require(held.structuredContent?["approvalId"]?.stringValue)
        #expect(try await world.ledger.approve(id))
        #expect(try !result(await world.call(meta: ["com.purser/approval": .string(id)])).isError)
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("MRTR approval: input_required, accepted once; replayed or tampered states are refused")
    func mrtrApproval() async throws {
        let world = try await World(approvalAbove: "0.005")
        guard case .inputRequired(let requests, let state) = try await world.call(channel: .inputRequired) else {
            Issue.record("expected input_required")
            return
        }
        #expect(requests["approval"]?["method"] == "elicitation/create")
        let accept: JSONObject = ["approval": ["action": "accept", "content": ["approve": true]]]
        var tampered = Array(state)
        tampered[tampered.count - 1] = tampered.last == "0" ? "1" : "0"
        #expect(
            try errorCode(
                await world.call(channel: .inputRequired, requestState: String(tampered), inputResponses: accept))
                == "approval_invalid")
        #expect(
            try errorCode(
                await world.call(
                    city: "Rome", channel: .inputRequired, requestState: state, inputResponses: accept))
                == "approval_invalid")
        let declined: JSONObject = ["approval": ["action": "decline"]]
        #expect(
            try errorCode(await world.call(channel: .inputRequired, requestState: state, inputResponses: declined))
                == "approval_declined")
        #expect(
            try !result(await world.call(channel: .inputRequired, requestState: state, inputResponses: accept)).isError)
        #expect(
            try errorCode(await world.call(channel: .inputRequired, requestState: state, inputResponses: accept))
                == "approval_invalid")
        #expect(world.seller.paidRequests.count == 1)
    }

    @Test("an MRTR approval state is refused once it has expired (5 minutes)")
    func mrtrExpiry() async throws {
        let now = Mutex<Int64>(Int64(Date().timeIntervalSince1970))
        let world = try await World(approvalAbove: "0.005", clock: { now.withLock { $0 } })
        guard case .inputRequired(_, let state) = try await world.call(channel: .inputRequired) else {
            Issue.record("expected input_required")
            return
        }
        now.withLock { $0 += 301 }
        let accept: JSONObject = ["approval": ["action": "accept", "content": ["approve": true]]]
        #expect(
            try errorCode(await world.call(channel: .inputRequired, requestState: state, inputResponses: accept))
                == "approval_invalid")
        #expect(world.seller.paidRequests.isEmpty)
    }

    @Test("legacy elicitation: a decline pays nothing, an accept pays once")
    func elicitation() async throws {
        let world = try await World(approvalAbove: "0.005")
        let decline = CallerContext.ApprovalChannel.elicitation { _ async throws(MCPError) -> JSONObject in
            ["action": "decline"]
        }
        #expect(try errorCode(await world.call(channel: decline)) == "approval_declined")
        #expect(world.seller.paidRequests.isEmpty)
        let accept = CallerContext.ApprovalChannel.elicitation { form async throws(MCPError) -> JSONObject in
            // The human sees the amount, asset, payee and network.
            let message = form["message"]?.stringValue ?? ""
            guard message.contains("0.01 USDC"), message.contains(FakeSeller.payee), message.contains("eip155:84532")
            else { return ["action": "decline"] }
            return ["action": "accept", "content": ["approve": true]]
        }
        #expect(try !result(await world.call(channel: accept)).isError)
        #expect(world.seller.paidRequests.count == 1)
    }
}

/// Runs SQL on the ledger file from outside, as a failing disk or another tool would.
private func execute(_ sql: String, on path: String) throws {
    var handle: OpaquePointer?
    guard sqlite3_open(path, &handle) == SQLITE_OK else { throw CocoaError(.fileReadUnknown) }
    defer { sqlite3_close(handle) }
    guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw CocoaError(.fileWriteUnknown) }
}

/// A clock both the x402 client (seconds) and the ledger (milliseconds) read; the test moves it.
private final class SharedClock: Sendable {
    private let seconds = Mutex<Int64>(Int64(Date().timeIntervalSince1970))
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ delta: Int64) { seconds.withLock { $0 += delta } }
    var ledgerClock: LedgerClock { LedgerClock { [self] in self.now * 1000 } }
}

@Suite("Governed call: settlement claims are checked; only evidence frees money", .serialized)
struct SettlementEvidenceCallTests {
    @Test("an honest claim is committed as 'claimed', with the signed nonce and payment id on record")
    func honestClaim() async throws {
        let world = try await World(seller: FakeSeller(declaresPaymentIdentifier: true))
        let paid = try result(await world.call(meta: ["com.purser/idempotency-key": "purchase-7"]))
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["settlement"] == "claimed")
        let reservation = try #require(try await world.ledger.reservations().first)
        #expect(reservation.state == .committed && reservation.evidence == .claimed)
        let payment = try #require(world.seller.payments.first)
        #expect(payment["payload"]?["authorization"]?["nonce"]?.stringValue == reservation.authorization?.nonce)
        let expected = PaymentIdentifier.make(agent: "alice", idempotencyKey: "purchase-7", randomBytes: { [] })
        #expect(payment["extensions"]?["payment-identifier"]?["info"]?["id"]?.stringValue == expected)
        #expect(receipt["paymentId"]?.stringValue == expected)
    }

    @Test("regression: a lying settlement (other payer, other network, transaction 0x) is never shown as paid")
    func lyingSeller() async throws {
        let world = try await World(seller: FakeSeller(afterPayment: .lie))
        let outcome = try result(await world.call())
        #expect(outcome.isError)
        #expect(outcome.structuredContent?["error"] == "settlement_contradicted")
        #expect(outcome.meta?["x402/payment-response"] == nil)
        #expect(outcome.meta?["com.purser/receipt"] == nil)
        #expect(try await world.reservationStates() == [.contradicted])
        #expect(try await world.ledger.sessions().first?.inFlight == 10_000)
    }

    @Test("regression: a failed ledger write after a paid response keeps the amount held and says so")
    func commitFailureHeld() async throws {
        // The commit fails inside the ledger, as a full disk would make it.
        let world = try await World(ledgerSetup: { path in
            try execute(
                """
                CREATE TRIGGER fail_commit BEFORE UPDATE OF state ON reservations WHEN NEW.state = 'committed'
                BEGIN SELECT RAISE(ABORT, 'disk full'); END;
                """, on: path)
        })
        let paid = try result(await world.call())
        #expect(paid.meta?["com.purser/receipt"]?["settlement"] == "unrecorded")
        #expect(try await world.reservationStates() == [.inDoubt])
        #expect(try await world.ledger.sessions().first?.inFlight == 10_000)
        _ = try await world.ledger.recover()
        #expect(try await world.reservationStates() == [.inDoubt])
    }

    @Test("regression: a settle-then-fail seller over three validity windows takes at most the budget (no node)")
    func settleThenFailAcrossWindows() async throws {
        let clock = SharedClock()
        let world = try await World(
            seller: FakeSeller(afterPayment: .settleThenFail), budget: 30_000, clock: { clock.now },
            ledgerClock: clock.ledgerClock)
        for _ in 0..<3 {
            for _ in 0..<3 { _ = try await world.call() }
            // Past every authorization's validBefore (300 s) and any grace the old ledger allowed.
            clock.advance(400)
            _ = try await world.ledger.recover()
        }
        // The seller settled every payment it received: it must not have received more than the budget.
        let taken = world.seller.payments.compactMap { $0["payload"]?["authorization"]?["value"]?.stringValue }
            .compactMap { Int64($0) }.reduce(0, +)
        #expect(taken <= 30_000)
        #expect(world.seller.paidRequests.count == 3)
        #expect(try await world.reservationStates() == [.inDoubt, .inDoubt, .inDoubt])
    }
}
