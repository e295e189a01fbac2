import JSONCore
import Testing

@testable import X402

@Suite("Selecting the offer to pay")
struct PaymentSelectorTests {
    func select(_ accepts: [JSONValue], version: Int = 2, policy: SelectionPolicy = Vector.policy) throws -> Selection {
        let required = try PaymentRequired.parse(
            Vector.required(accepts, version: version).objectValue!, expected: version == 2 ? .v2 : .v1)
        return PaymentSelector.select(required, policy: policy, addressCheck: EIP3009Crypto.hasValidChecksum)
    }

    @Test("picks the cheapest payable offer; ties keep the server's order")
    func cheapest() throws {
        let selection = try select([
            Vector.offer([("amount", "30000")]), Vector.offer([("amount", "9999"), ("maxTimeoutSeconds", 120)]),
            Vector.offer([("amount", "9999")]), Vector.offer([("amount", "100000")]),
        ])
        #expect(selection.candidates.map { $0.index } == [1, 2, 0, 3])
        #expect(selection.cheapest?.amount.decimal == "9999")
        #expect(selection.rejections.isEmpty)
    }

    @Test("compares amounts as exact integers, not by string order or floating point")
    func exactComparison() throws {
        let selection = try select(
            [
                Vector.offer([("amount", "900000000000000000000000000000000000001")]),
                Vector.offer([("amount", "900000000000000000000000000000000000000")]),
            ],
            policy: SelectionPolicy(
                allowedAssets: Vector.policy.allowedAssets,
                maximumAmount: AtomicAmount("900000000000000000000000000000000000001")!))
        #expect(selection.cheapest?.index == 1)
        #expect(AtomicAmount("9")! < AtomicAmount("10")!)
    }

    static let refusals: [(String, [(String, JSONValue?)], OfferRejection.Reason)] = [
        ("scheme upto", [("scheme", "upto")], .unsupportedScheme),
        ("scheme missing", [("scheme", nil)], .unsupportedScheme),
        (
            "permit2", [("extra", ["name": "USDC", "version": "2", "assetTransferMethod": "permit2"])],
            .unsupportedTransferMethod
        ),
        ("solana", [("network", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp")], .unknownNetwork),
        ("v1 name in v2", [("network", "base-sepolia")], .unknownNetwork),
        ("non-decimal chain", [("network", "eip155:0x14a34")], .unknownNetwork),
        ("leading zero chain", [("network", "eip155:084532")], .unknownNetwork),
        ("asset not allowed", [("asset", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")], .assetNotAllowed),
        ("allowed asset, other chain", [("network", "eip155:8453")], .assetNotAllowed),
        ("asset bad checksum", [("asset", "0x036CbD53842c5426634e7929541eC2318f3dCF7E")], .invalidAsset),
        ("extra missing", [("extra", nil)], .missingDomain),
        ("extra.name missing", [("extra", ["version": "2"])], .missingDomain),
        ("extra.version missing", [("extra", ["name": "USDC"])], .missingDomain),
        ("extra.name empty", [("extra", ["name": "", "version": "2"])], .missingDomain),
        ("negative amount", [("amount", "-1")], .invalidAmount),
        ("float amount", [("amount", "10000.5")], .invalidAmount),
        ("exponent amount", [("amount", "1e4")], .invalidAmount),
        ("leading zero amount", [("amount", "010000")], .invalidAmount),
        ("amount with space", [("amount", " 10000")], .invalidAmount),
        ("hex amount", [("amount", "0x2710")], .invalidAmount),
        ("amount as JSON number", [("amount", 10000)], .invalidAmount),
        ("amount missing", [("amount", nil)], .invalidAmount),
        (
            "amount above 2^256 − 1",
            [("amount", "115792089237316195423570985008687907853269984665640564039457584007913129639936")],
            .invalidAmount
        ),
        ("zero amount", [("amount", "0")], .zeroAmount),
        ("amount above maximum", [("amount", "1000001")], .amountAboveMaximum),
        ("huge amount", [("amount", .string(String(repeating: "9", count: 70)))], .amountAboveMaximum),
        ("payTo short", [("payTo", "0x1234")], .invalidPayTo),
        ("payTo bad checksum", [("payTo", "0x209693Bc6afc0C5328bA36FaF03C514EF312287c")], .invalidPayTo),
        ("payTo zero", [("payTo", "0x0000000000000000000000000000000000000000")], .invalidPayTo),
        ("timeout zero", [("maxTimeoutSeconds", 0)], .invalidTimeout),
        ("timeout negative", [("maxTimeoutSeconds", -5)], .invalidTimeout),
        ("timeout huge", [("maxTimeoutSeconds", 1_000_000_000)], .invalidTimeout),
        ("timeout string", [("maxTimeoutSeconds", "60")], .invalidTimeout),
        ("timeout fraction", [("maxTimeoutSeconds", .number(JSONNumber(validatedLexeme: "60.5")))], .invalidTimeout),
    ]

    @Test(
        "refuses each bad offer with its reason, and still pays the good one", arguments: PaymentSelectorTests.refusals)
    func refusal(name: String, overrides: [(String, JSONValue?)], reason: OfferRejection.Reason) throws {
        let selection = try select([Vector.offer(overrides), Vector.offer([("amount", "20000")])])
        #expect(selection.rejections.count == 1, "\(name)")
        #expect(selection.rejections.first?.reason == reason, "\(name)")
        #expect(selection.rejections.first?.index == 0)
        #expect(selection.cheapest?.index == 1, "\(name)")
    }

    @Test("lower-case addresses are valid; the offer is kept verbatim")
    func lowercase() throws {
        let selection = try select([Vector.offer([("payTo", .string(Vector.payTo.lowercased()))])])
        let offer = try #require(selection.cheapest)
        #expect(offer.payTo.text == Vector.payTo.lowercased())
        #expect(offer.raw == Vector.offer([("payTo", .string(Vector.payTo.lowercased()))]).objectValue!)
    }

    @Test("v1 offers use maxAmountRequired and legacy names")
    func v1() throws {
        let offer: JSONValue = [
            "scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "10000", "asset": .string(Vector.asset),
            "payTo": .string(Vector.payTo), "resource": "http://x", "description": "", "maxTimeoutSeconds": 60,
            "extra": ["name": "USDC", "version": "2"],
        ]
        let selection = try select([offer, Vector.offer()], version: 1)
        #expect(selection.candidates.count == 1)
        #expect(selection.rejections.first?.reason == .unknownNetwork)  // eip155:84532 is not a v1 name
        #expect(selection.rejections.count == 1)
        #expect(selection.cheapest?.network == EVMNetwork(chainId: 84532))
        #expect(EVMNetwork.parseV1Name("avalanche")?.chainId == 43114)
    }

    @Test("messages quote untrusted values bounded and without control characters")
    func boundedMessages() throws {
        let selection = try select([Vector.offer([("scheme", .string("x\n" + String(repeating: "y", count: 500)))])])
        let message = try #require(selection.rejections.first?.message)
        #expect(!message.contains("\n"))
        #expect(message.count < 200)
    }
}
