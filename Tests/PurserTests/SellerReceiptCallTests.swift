import EVMSigning
import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Testing
import X402

/// The governed call with a seller that signs its receipts (x402 `offer-receipt`): a valid receipt is shown as
/// the seller's signed word and settles nothing; an invalid one is a contradiction and the amount stays held.
/// (The digest itself is checked against eth-account's signatures in `SellerReceiptTests`.)
@Suite("Governed call: seller-signed receipts are verified and recorded, never trusted as evidence", .serialized)
struct SellerReceiptCallTests {
    /// A throwaway key (the eth-account documentation's example, never funded) as the seller's payTo key.
    static let sellerKey = try! PrivateKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    static let payTo = sellerKey.address.checksummed

    static func limits(payee: String) -> String {
        """
        {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "\(FakeSeller.asset)"}}},
         "limits": {"USDC": {"perCall": "1.00"}},
         "allow": {"networks": ["eip155:84532"], "assets": ["USDC"], "payees": ["\(payee)"]}}
        """
    }

    /// An EIP-712 receipt for `payer` signed by `key`, with `tamper` applied to the payload after signing.
    static func receipt(
        by key: PrivateKey, tamper: @escaping @Sendable (inout JSONObject) -> Void = { _ in }
    ) -> @Sendable (String, String) -> JSONValue {
        { payer, transaction in
            let issuedAt = UInt64(Date().timeIntervalSince1970)
            let payload = SellerReceipt.Payload(
                network: "eip155:84532", resourceURL: "http://seller.test/weather", payer: payer, issuedAt: issuedAt,
                transaction: transaction)
            let signature = try! key.sign(digest: SellerReceipt.eip712Digest(payload))
            var object: JSONObject = [
                "version": 1, "network": "eip155:84532", "resourceUrl": "http://seller.test/weather",
                "payer": .string(payer), "issuedAt": .number(JSONNumber(Int64(issuedAt))),
                "transaction": .string(transaction),
            ]
            tamper(&object)
            return ["format": "eip712", "payload": .object(object), "signature": .string(signature.hex)]
        }
    }

    /// The payload of the last `call` audit record.
    static func lastCallRecord(_ world: World) async throws -> JSONValue? {
        guard let record = try await world.ledger.auditRecords().last(where: { $0.kind == "call" }) else { return nil }
        return try JSONParser.parse(record.payload)
    }

    @Test(
        "a receipt signed by payTo is shown as valid, in the receipt and the call's audit record; evidence stays 'claimed'"
    )
    func valid() async throws {
        let world = try await World(
            seller: FakeSeller(payTo: Self.payTo, receipt: Self.receipt(by: Self.sellerKey)),
            limits: Self.limits(payee: Self.payTo))
        let paid = try result(await world.call())
        #expect(!paid.isError)
        let receipt = try #require(paid.meta?["com.purser/receipt"])
        #expect(receipt["settlement"] == "claimed")
        #expect(receipt["sellerReceipt"]?["status"] == "valid")
        #expect(receipt["sellerReceipt"]?["signer"]?.stringValue?.lowercased() == Self.payTo.lowercased())
        let reservation = try #require(try await world.ledger.reservations().first)
        #expect(reservation.state == .committed && reservation.evidence == .claimed)
        #expect(try await Self.lastCallRecord(world)?["seller_receipt"]?["status"] == "valid")
    }

    @Test("no receipt: shown as absent")
    func absent() async throws {
        let world = try await World(seller: FakeSeller())
        let paid = try result(await world.call())
        #expect(try #require(paid.meta?["com.purser/receipt"])["sellerReceipt"]?["status"] == "absent")
    }

    @Test("regression: a tampered receipt is a contradiction: never shown as paid, the amount stays held")
    func tampered() async throws {
        let world = try await World(
            seller: FakeSeller(
                payTo: Self.payTo,
                receipt: Self.receipt(by: Self.sellerKey) { $0["payer"] = "0x0000000000000000000000000000000000000001" }
            ),
            limits: Self.limits(payee: Self.payTo))
        let outcome = try result(await world.call())
        #expect(outcome.isError)
        #expect(outcome.structuredContent?["error"] == "settlement_contradicted")
        let problems = outcome.structuredContent?["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(problems.contains { $0.hasPrefix("seller-signed receipt invalid") }, "\(problems)")
        #expect(outcome.meta?["com.purser/receipt"] == nil)
        #expect(try await world.reservationStates() == [.contradicted])
        #expect(try await world.ledger.sessions().first?.inFlight == 10_000)
        #expect(try await Self.lastCallRecord(world)?["seller_receipt"]?["status"] == "invalid")
    }

    @Test("regression: a receipt signed by a key other than payTo is a contradiction")
    func wrongSigner() async throws {
        let other = try PrivateKey(hex: "0x" + String(repeating: "11", count: 32))
        let world = try await World(
            seller: FakeSeller(payTo: Self.payTo, receipt: Self.receipt(by: other)),
            limits: Self.limits(payee: Self.payTo))
        let outcome = try result(await world.call())
        #expect(outcome.structuredContent?["error"] == "settlement_contradicted")
        #expect(try await world.reservationStates() == [.contradicted])
    }
}
