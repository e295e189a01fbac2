import Foundation
import JSONCore
import Testing

@testable import X402

@Suite("Settlement claims and the payment-identifier extension")
struct SettlementClaimTests {
    static let now: Int64 = 1_800_000_000
    static let hash = "0x" + String(repeating: "e6", count: 32)
    let url = URL(string: "http://127.0.0.1:4021/weather")!

    var record: AuthorizationRecord {
        AuthorizationRecord(
            version: .v2, network: "eip155:84532", asset: Vector.asset, payTo: Vector.payTo,
            amount: AtomicAmount("10000")!, payer: Vector.from, nonce: "0x" + String(repeating: "11", count: 32),
            validAfter: 0, validBefore: UInt64(Self.now + 60))
    }

    func settlement(_ fields: JSONObject) throws -> Settlement {
        var object: JSONObject = [
            "success": true, "transaction": .string(Self.hash), "network": "eip155:84532",
            "payer": .string(Vector.from.lowercased()),
        ]
        for (key, value) in fields { object[key] = value }
        return try Settlement.parse(object)
    }

    @Test("an honest claim (payer in any case, network by v1 name or CAIP-2) is consistent")
    func consistent() throws {
        #expect(SettlementClaim.check(try settlement([:]), against: record).verdict == .consistent)
        #expect(
            SettlementClaim.check(try settlement(["network": "base-sepolia"]), against: record).verdict == .consistent)
        #expect(
            SettlementClaim.check(try settlement(["payer": .null]), against: record).verdict == .consistent)
    }

    @Test(
        "another payer, another network, a non-hash transaction, another amount: each is a contradiction",
        arguments: [
            (["payer": .string("0x" + String(repeating: "22", count: 20))], "the payer is not the signer"),
            (["network": "eip155:8453"], "the network is not the one signed for"),
            (["network": "base"], "the network is not the one signed for"),
            (["transaction": "0x"], "the transaction is not a 32-byte hash"),
            (["transaction": .string(hash + "00")], "the transaction is not a 32-byte hash"),
            (
                ["transaction": .string("0x" + String(repeating: "g1", count: 32))],
                "the transaction is not a 32-byte hash"
            ),
            (["amount": "20000"], "the amount is not the signed amount"),
        ] as [(JSONObject, String)])
    func contradicted(fields: JSONObject, problem: String) throws {
        #expect(SettlementClaim.check(try settlement(fields), against: record).verdict == .contradicted([problem]))
    }

    @Test("the issue's lying response (other payer, other network, transaction 0x) names all three")
    func lyingResponse() throws {
        let claim = SettlementClaim.check(
            try settlement([
                "payer": .string("0x" + String(repeating: "33", count: 20)), "network": "eip155:1", "transaction": "0x",
            ]), against: record)
        guard case .contradicted(let problems) = claim.verdict else {
            Issue.record("a lying response was accepted")
            return
        }
        #expect(problems.count == 3)
    }

    @Test("the id is stable for (agent, key), differs across agents and keys, and is valid")
    func stableIdentifier() {
        let random: () -> [UInt8] = { [UInt8](repeating: 7, count: 16) }
        let a = PaymentIdentifier.make(agent: "agent-1", idempotencyKey: "k1", randomBytes: random)
        #expect(a == PaymentIdentifier.make(agent: "agent-1", idempotencyKey: "k1", randomBytes: random))
        #expect(a != PaymentIdentifier.make(agent: "agent-2", idempotencyKey: "k1", randomBytes: random))
        #expect(a != PaymentIdentifier.make(agent: "agent-1", idempotencyKey: "k2", randomBytes: random))
        #expect(PaymentIdentifier.isValid(a) && a.hasPrefix("pay_") && a.count == 36)
        #expect(
            PaymentIdentifier.make(agent: "a", idempotencyKey: nil, randomBytes: random)
                == "pay_" + String(repeating: "07", count: 16))
        #expect(!PaymentIdentifier.isValid("short") && !PaymentIdentifier.isValid("pay_with space_0123456789"))
    }

    @Test("a declared payment-identifier extension carries the id; the seller's other fields are kept")
    func extensionSent() async throws {
        let declared: JSONValue = ["info": ["required": false], "schema": ["type": "object"]]
        var object = try #require(Vector.required([Vector.offer()]).objectValue)
        object["extensions"] = ["payment-identifier": declared]
        let required = JSONValue.object(object)
        let transport = ScriptedTransport([.respond(Vector.response402(required))])
        let client = X402Client(
            transport: transport, signer: try KeyFileSigner(privateKey: Vector.privateKey), clock: { Self.now },
            randomBytes: { [UInt8](repeating: 0x11, count: $0) })
        guard case .paymentRequired(let challenge) = try await client.send(HTTPRequest(url: url)) else {
            Issue.record("expected a 402")
            return
        }
        let offer = try #require(challenge.select(Vector.policy).candidates.first)
        let nonce = [UInt8](repeating: 0x42, count: 32)
        let payment = try await client.authorize(offer, for: challenge, nonce: nonce, paymentID: "pay_0123456789abcdef")
        #expect(payment.paymentID == "pay_0123456789abcdef")
        #expect(payment.authorization.nonce == nonce)
        let body = try JSONParser.parse(try Base64.decode(payment.headerValue))
        #expect(body["extensions"]?["payment-identifier"]?["info"]?["id"] == "pay_0123456789abcdef")
        #expect(body["extensions"]?["payment-identifier"]?["info"]?["required"] == false)
        #expect(body["extensions"]?["payment-identifier"]?["schema"] == ["type": "object"])
    }

    @Test("no declared extension: nothing is added; a bad id or nonce is refused before signing")
    func extensionNotDeclared() async throws {
        let transport = ScriptedTransport([.respond(Vector.response402(Vector.required([Vector.offer()])))])
        let client = X402Client(
            transport: transport, signer: try KeyFileSigner(privateKey: Vector.privateKey), clock: { Self.now })
        guard case .paymentRequired(let challenge) = try await client.send(HTTPRequest(url: url)) else {
            Issue.record("expected a 402")
            return
        }
        let offer = try #require(challenge.select(Vector.policy).candidates.first)
        await #expect(throws: X402Error.self) {
            _ = try await client.authorize(offer, for: challenge, paymentID: "bad id")
        }
        await #expect(throws: X402Error.self) {
            _ = try await client.authorize(offer, for: challenge, nonce: [1, 2, 3])
        }
        let payment = try await client.authorize(offer, for: challenge, paymentID: "pay_0123456789abcdef")
        #expect(payment.paymentID == nil)
        let body = try JSONParser.parse(try Base64.decode(payment.headerValue))
        #expect(body["extensions"]?["payment-identifier"] == nil)
    }
}
