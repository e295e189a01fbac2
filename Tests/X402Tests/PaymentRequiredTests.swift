import JSONCore
import Testing
import X402

@Suite("Decoding 402s and settlements")
struct PaymentRequiredTests {
    @Test("decodes the SDK server's v2 PAYMENT-REQUIRED, header name in any case")
    func v2Header() throws {
        for name in ["PAYMENT-REQUIRED", "payment-required", "Payment-Required"] {
            let response = HTTPResponse(
                status: 402, headers: HTTPHeaders([(name, Vector.paymentRequiredHeader)]), body: Array("{}".utf8))
            let required = try PaymentRequired.decode(from: response)
            #expect(required.version == .v2)
            #expect(required.error == "Payment required")
            #expect(required.resource?["url"] == "http://127.0.0.1:4021/weather")
            #expect(required.accepts.count == 1)
            #expect(
                required.accepts[0].keys == [
                    "scheme", "network", "asset", "amount", "payTo", "maxTimeoutSeconds", "extra",
                ])
            #expect(required.accepts[0]["maxTimeoutSeconds"]?.numberValue?.lexeme == "300")
        }
    }

    @Test("decodes a v1 402 JSON body")
    func v1Body() throws {
        let body =
            #"{"x402Version":1,"error":"X-PAYMENT header is required","accepts":[{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","resource":"https://api.example.com/premium-data","description":"x","mimeType":"application/json","outputSchema":null,"maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}"#
        let required = try PaymentRequired.decode(from: HTTPResponse(status: 402, body: Array(body.utf8)))
        #expect(required.version == .v1)
        #expect(required.resource == nil)
        let offer = try #require(PaymentSelector.select(required, policy: Vector.policy).cheapest)
        #expect(offer.network.chainId == 84532)
        #expect(offer.amount.decimal == "10000")
        #expect(offer.resourceURL == "https://api.example.com/premium-data")
    }

    static let hostile: [(String, HTTPResponse, X402Error.Code)] = [
        ("bad base64", HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": "eyJ4N"]), .invalidBase64),
        ("base64url", HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": "eyJ4NDAy_-=="]), .invalidBase64),
        (
            "oversized header",
            HTTPResponse(
                status: 402,
                headers: ["PAYMENT-REQUIRED": String(repeating: "A", count: X402Headers.maximumHeaderBytes + 4)]),
            .tooLarge
        ),
        (
            "not JSON", HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": Base64.encode(Array("nope".utf8))]),
            .invalidJSON
        ),
        (
            "duplicate keys",
            HTTPResponse(
                status: 402,
                headers: [
                    "PAYMENT-REQUIRED": Base64.encode(Array(#"{"x402Version":2,"accepts":[],"accepts":[]}"#.utf8))
                ]),
            .invalidJSON
        ),
        (
            "not an object", HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": Base64.encode(Array("[]".utf8))]),
            .invalidMessage
        ),
        (
            "v1 inside the v2 header",
            HTTPResponse(
                status: 402,
                headers: ["PAYMENT-REQUIRED": Base64.encode(Array(#"{"x402Version":1,"accepts":[]}"#.utf8))]),
            .unsupportedVersion
        ),
        (
            "version 3",
            HTTPResponse(
                status: 402,
                headers: ["PAYMENT-REQUIRED": Base64.encode(Array(#"{"x402Version":3,"accepts":[]}"#.utf8))]),
            .unsupportedVersion
        ),
        (
            "version as a string",
            HTTPResponse(
                status: 402,
                headers: ["PAYMENT-REQUIRED": Base64.encode(Array(#"{"x402Version":"2","accepts":[]}"#.utf8))]),
            .unsupportedVersion
        ),
        (
            "accepts missing",
            HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": Base64.encode(Array(#"{"x402Version":2}"#.utf8))]),
            .invalidMessage
        ),
        (
            "accepts entry not an object",
            HTTPResponse(
                status: 402,
                headers: ["PAYMENT-REQUIRED": Base64.encode(Array(#"{"x402Version":2,"accepts":[1]}"#.utf8))]),
            .invalidMessage
        ),
        (
            "two PAYMENT-REQUIRED headers",
            HTTPResponse(
                status: 402,
                headers: HTTPHeaders([
                    ("PAYMENT-REQUIRED", Vector.paymentRequiredHeader),
                    ("payment-required", Vector.paymentRequiredHeader),
                ])),
            .invalidMessage
        ),
        ("no header, no body", HTTPResponse(status: 402), .notX402),
        ("no header, HTML body", HTTPResponse(status: 402, body: Array("<html>pay</html>".utf8)), .notX402),
        ("no header, JSON without version", HTTPResponse(status: 402, body: Array(#"{"accepts":[]}"#.utf8)), .notX402),
    ]

    @Test("refuses hostile 402s with a precise code", arguments: PaymentRequiredTests.hostile)
    func refusesHostile(name: String, response: HTTPResponse, code: X402Error.Code) {
        do {
            _ = try PaymentRequired.decode(from: response)
            Issue.record("\(name): expected \(code)")
        } catch {
            #expect(error.code == code, "\(name)")
        }
    }

    @Test("decodes the SDK's settlement header (Python json.dumps spacing)")
    func settlement() throws {
        let response = HTTPResponse(status: 200, headers: ["payment-response": Vector.settlementHeader])
        let settlement = try #require(try Settlement.decode(from: response, version: .v2))
        #expect(settlement.success)
        #expect(settlement.network == "eip155:84532")
        #expect(settlement.transaction == "0xe6ae4f617ff82e04fbf4bf81b79f4454dddda355d51f13ca8444a84093d2865d")
        #expect(settlement.payer == "0xD597a1e9751628EEb5FBA12473Bc18735FA9A859")
        #expect(try Settlement.decode(from: response, version: .v1) == nil)
    }

    @Test("refuses a malformed settlement")
    func badSettlement() {
        for json in [#"{"success":"true"}"#, #"{"transaction":"0x"}"#, #"{"success":true,"transaction":1}"#] {
            let response = HTTPResponse(status: 200, headers: ["PAYMENT-RESPONSE": Base64.encode(Array(json.utf8))])
            #expect(throws: X402Error.self) { _ = try Settlement.decode(from: response, version: .v2) }
        }
    }

    @Test("header lookup ignores case and keeps order")
    func headers() {
        var headers = HTTPHeaders([("A", "1"), ("b", "2"), ("a", "3")])
        #expect(headers["a"] == "1")
        #expect(headers.values(for: "A") == ["1", "3"])
        headers.set(name: "B", value: "4")
        #expect(headers.values(for: "b") == ["4"])
        headers.remove(name: "A")
        #expect(headers.count == 1)
    }
}
