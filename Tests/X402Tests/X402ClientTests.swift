import EVMSigning
import Foundation
import JSONCore
import Testing

@testable import X402

@Suite("X402Client: the exchange, step by step")
struct X402ClientTests {
    static let now: Int64 = 1_800_000_000
    let url = URL(string: "http://127.0.0.1:4021/weather")!

    func client(_ transport: ScriptedTransport, signer: (any Signer)? = nil, cap: Int64 = 600) throws -> X402Client {
        X402Client(
            transport: transport, signer: try signer ?? KeyFileSigner(privateKey: Vector.privateKey),
            configuration: .init(validAfterBackdate: 600, validityCap: cap), clock: { Self.now },
            randomBytes: { [UInt8](repeating: 0x11, count: $0) })
    }

    static var paid: HTTPResponse {
        HTTPResponse(status: 200, headers: ["PAYMENT-RESPONSE": Vector.settlementHeader], body: Array("{}".utf8))
    }

    func decodePayment(_ request: HTTPRequest, header: String = "PAYMENT-SIGNATURE") throws -> JSONValue {
        let value = try #require(request.headers[header])
        return try JSONParser.parse(try Base64.decode(value))
    }

    @Test("a 402 is paid once: accepted echoed verbatim, window, nonce, value, signature that recovers")
    func paysV2() async throws {
        let required = Vector.required([Vector.offer([("maxTimeoutSeconds", 300)])])
        let transport = ScriptedTransport([.respond(Vector.response402(required)), .respond(Self.paid)])
        let outcome = try await client(transport).pay(HTTPRequest(url: url), policy: Vector.policy)
        guard case .paid(let settlement, let response, let record) = outcome else {
            Issue.record("expected paid, got \(outcome)")
            return
        }
        #expect(settlement.success && response.status == 200)
        #expect(record.validAfter == UInt64(Self.now - 600))
        #expect(record.validBefore == UInt64(Self.now + 300))
        #expect(transport.sent.count == 2)
        #expect(transport.sent[0].headers["PAYMENT-SIGNATURE"] == nil)
        let payment = try decodePayment(transport.sent[1])
        #expect(payment["x402Version"] == 2)
        #expect(payment["accepted"] == Vector.offer([("maxTimeoutSeconds", 300)]))
        #expect(payment["accepted"]?.objectValue?.keys == Vector.offer().objectValue?.keys)
        #expect(payment["resource"] == required["resource"])
        let authorization = try #require(payment["payload"]?["authorization"])
        #expect(authorization["from"] == .string(Vector.from))
        #expect(authorization["to"] == .string(Vector.payTo))
        #expect(authorization["value"] == "10000")
        #expect(authorization["validAfter"] == .string(String(Self.now - 600)))
        #expect(authorization["validBefore"] == .string(String(Self.now + 300)))
        #expect(authorization["nonce"] == .string("0x" + String(repeating: "11", count: 32)))
        let signature = try #require(payment["payload"]?["signature"]?.stringValue)
        let typedData = TransferTypedData(
            domain: EIP712Domain(
                name: "USDC", version: "2", chainID: UInt256(84532),
                verifyingContract: EthereumAddress(hex: Vector.asset)!),
            message: TransferAuthorization(
                from: Vector.from, to: Vector.payTo, value: AtomicAmount("10000")!, validAfter: UInt64(Self.now - 600),
                validBefore: UInt64(Self.now + 300), nonce: Vector.nonce))
        #expect(throws: Never.self) {
            _ = try SignatureCheck.check(
                HexBytes.decodePrefixed(signature)!, typedData: typedData, expected: EVMAddressText(Vector.from)!)
        }
    }

    @Test("validBefore is capped whatever maxTimeoutSeconds asks")
    func validityCap() async throws {
        let required = Vector.required([Vector.offer([("maxTimeoutSeconds", 3600)])])
        let transport = ScriptedTransport([.respond(Vector.response402(required)), .respond(Self.paid)])
        let outcome = try await client(transport, cap: 120).pay(HTTPRequest(url: url), policy: Vector.policy)
        guard case .paid(_, _, let record) = outcome else {
            Issue.record("expected paid")
            return
        }
        #expect(record.validBefore == UInt64(Self.now + 120))
    }

    @Test("v1: X-PAYMENT with scheme and network at the top, settlement from X-PAYMENT-RESPONSE")
    func paysV1() async throws {
        let offer: JSONValue = [
            "scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "10000", "asset": .string(Vector.asset),
            "payTo": .string(Vector.payTo), "resource": "http://127.0.0.1/v1", "description": "w",
            "maxTimeoutSeconds": 60, "extra": ["name": "USDC", "version": "2"],
        ]
        let body = Vector.required([offer], version: 1).serializedBytes()
        let settled = HTTPResponse(
            status: 200,
            headers: [
                "X-PAYMENT-RESPONSE": Base64.encode(
                    Array(#"{"success":true,"transaction":"0xab","network":"base-sepolia","payer":"0x"}"#.utf8))
            ])
        let transport = ScriptedTransport([.respond(HTTPResponse(status: 402, body: body)), .respond(settled)])
        let outcome = try await client(transport).pay(HTTPRequest(url: url), policy: Vector.policy)
        guard case .paid(let settlement, _, _) = outcome else {
            Issue.record("expected paid, got \(outcome)")
            return
        }
        #expect(settlement.network == "base-sepolia")
        let payment = try decodePayment(transport.sent[1], header: "X-PAYMENT")
        #expect(payment.objectValue?.keys == ["x402Version", "scheme", "network", "payload"])
        #expect(payment["network"] == "base-sepolia")
        #expect(transport.sent[1].headers["PAYMENT-SIGNATURE"] == nil)
    }

    @Test("a challenge is authorized once, a payment sent once: nothing is ever signed twice")
    func onceOnly() async throws {
        let transport = ScriptedTransport([
            .respond(Vector.response402(Vector.required([Vector.offer()]))), .respond(Self.paid),
        ])
        let client = try client(transport)
        guard case .paymentRequired(let challenge) = try await client.send(HTTPRequest(url: url)) else {
            Issue.record("expected a challenge")
            return
        }
        let offer = try #require(challenge.select(Vector.policy).cheapest)
        let payment = try await client.authorize(offer, for: challenge)
        #expect(challenge.isAuthorized)
        do {
            _ = try await client.authorize(offer, for: challenge)
            Issue.record("second authorize must fail")
        } catch {
            #expect(error.code == .invalidState)
        }
        guard case .paid = await client.retry(payment) else {
            Issue.record("expected paid")
            return
        }
        guard case .inDoubt(let failure, _) = await client.retry(payment) else {
            Issue.record("expected alreadySent")
            return
        }
        #expect(failure.code == .alreadySent)
        #expect(transport.sent.count == 2)
    }

    @Test("an offer from another challenge is refused")
    func foreignOffer() async throws {
        let response = Vector.response402(Vector.required([Vector.offer()]))
        let transport = ScriptedTransport([.respond(response), .respond(response)])
        let client = try client(transport)
        guard case .paymentRequired(let first) = try await client.send(HTTPRequest(url: url)),
            case .paymentRequired(let second) = try await client.send(HTTPRequest(url: url))
        else {
            Issue.record("expected challenges")
            return
        }
        let offer = try #require(first.select(Vector.policy).cheapest)
        await #expect(throws: X402Error.self) { _ = try await client.authorize(offer, for: second) }
        #expect(!second.isAuthorized)
    }

    static func reply(_ status: Int, _ headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders(headers), body: Array("{}".utf8))
    }

    static let afterPayment: [(String, ScriptedTransport.Step, String, String?)] = [
        (
            "verification reason",
            .respond(
                Vector.response402(
                    Vector.required([Vector.offer()]).replacing("error", with: "invalid_exact_evm_nonce_already_used"))),
            "failedAfterSigning:paymentRejected", "invalid_exact_evm_nonce_already_used"
        ),
        (
            "settlement success:false",
            .respond(
                reply(
                    402,
                    [
                        (
                            "PAYMENT-RESPONSE",
                            Base64.encode(
                                Array(
                                    #"{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:84532"}"#
                                        .utf8))
                        )
                    ])),
            "failedAfterSigning:settlementFailed", "invalid_exact_evm_insufficient_balance"
        ),
        (
            "second generic 402", .respond(Vector.response402(Vector.required([Vector.offer()]))),
            "inDoubt:secondPaymentRequired", nil
        ),
        ("402 without anything", .respond(reply(402)), "inDoubt:secondPaymentRequired", nil),
        ("2xx without settlement", .respond(reply(200)), "inDoubt:noSettlement", nil),
        (
            "2xx with bad settlement base64", .respond(reply(200, [("PAYMENT-RESPONSE", "e30")])),
            "inDoubt:invalidSettlement", nil
        ),
        (
            "2xx with success:false",
            .respond(reply(200, [("PAYMENT-RESPONSE", Base64.encode(Array(#"{"success":false}"#.utf8)))])),
            "inDoubt:invalidSettlement", nil
        ),
        ("500", .respond(reply(500)), "inDoubt:unexpectedStatus", nil),
        ("302", .respond(reply(302, [("Location", "http://127.0.0.2/")])), "inDoubt:unexpectedStatus", nil),
        ("timeout", .fail(HTTPTransportError(.timeout, "t")), "inDoubt:transport", "timeout"),
        ("connection lost", .fail(HTTPTransportError(.connectionLost, "l")), "inDoubt:transport", "connectionLost"),
        (
            "never connected", .fail(HTTPTransportError(.cannotConnect, "c")), "failedAfterSigning:notDelivered",
            "cannotConnect"
        ),
    ]

    @Test("classifies what follows a payment; never signs again", arguments: X402ClientTests.afterPayment)
    func classifiesAfterPayment(name: String, step: ScriptedTransport.Step, expected: String, reason: String?)
        async throws
    {
        let transport = ScriptedTransport([
            .respond(Vector.response402(Vector.required([Vector.offer()]))), step, .respond(Self.paid),
        ])
        let outcome = try await client(transport).pay(HTTPRequest(url: url), policy: Vector.policy)
        switch outcome {
        case .failedAfterSigning(let failure, let record):
            #expect("failedAfterSigning:\(failure.code)" == expected, "\(name)")
            #expect(failure.reason == reason, "\(name)")
            #expect(record.amount.decimal == "10000")
        case .inDoubt(let failure, let record):
            #expect("inDoubt:\(failure.code)" == expected, "\(name)")
            #expect(failure.reason == reason, "\(name)")
            #expect(record.validBefore == UInt64(Self.now + 60))
        default:
            Issue.record("\(name): unexpected \(outcome)")
        }
        #expect(transport.sent.count == 2, "\(name): exactly one paid attempt")
    }

    @Test("refuses before signing: unreadable 402, no payable offer, declined, lying signer")
    func refusals() async throws {
        let unreadable = ScriptedTransport([.respond(HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": "%%%"]))])
        guard
            case .refusedBeforeSigning(let first) = try await client(unreadable).pay(
                HTTPRequest(url: url), policy: Vector.policy)
        else {
            Issue.record("expected refusal")
            return
        }
        #expect(first.code == .unreadableChallenge)

        let tooExpensive = ScriptedTransport([
            .respond(Vector.response402(Vector.required([Vector.offer([("amount", "99999999")])])))
        ])
        guard
            case .refusedBeforeSigning(let second) = try await client(tooExpensive).pay(
                HTTPRequest(url: url), policy: Vector.policy)
        else {
            Issue.record("expected refusal")
            return
        }
        #expect(second.code == .noPayableOffer)
        #expect(second.rejections.map { $0.reason } == [.amountAboveMaximum])

        let declined = ScriptedTransport([.respond(Vector.response402(Vector.required([Vector.offer()])))])
        let outcome = try await client(declined).pay(HTTPRequest(url: url), policy: Vector.policy) { _, _ in
            .refuse("over budget")
        }
        guard case .refusedBeforeSigning(let third) = outcome else {
            Issue.record("expected refusal")
            return
        }
        #expect(third.code == .declined && third.message == "over budget")

        // Claims the vector address but signs with another key: caught by recovery, nothing sent.
        let other = try KeyFileSigner(privateKey: [UInt8](repeating: 0x22, count: 32))
        let liar = LyingSigner(address: EVMAddressText(Vector.from)!, inner: other)
        let lied = ScriptedTransport([
            .respond(Vector.response402(Vector.required([Vector.offer()]))), .respond(Self.paid),
        ])
        guard
            case .refusedBeforeSigning(let fourth) = try await client(lied, signer: liar).pay(
                HTTPRequest(url: url), policy: Vector.policy)
        else {
            Issue.record("expected refusal")
            return
        }
        #expect(fourth.code == .signing)
        #expect(fourth.message.contains("signatureMismatch"))
        #expect(lied.sent.count == 1)
    }

    @Test("a response other than 402 is passed through without payment")
    func noPayment() async throws {
        let transport = ScriptedTransport([.respond(Self.reply(200))])
        guard
            case .noPaymentRequired(let response) = try await client(transport).pay(
                HTTPRequest(url: url), policy: Vector.policy)
        else {
            Issue.record("expected noPaymentRequired")
            return
        }
        #expect(response.status == 200)
    }

    @Test("reason codes are told apart from the generic first-402 text")
    func reasonCodes() {
        #expect(X402Client.isReasonCode("invalid_exact_evm_payload_signature"))
        #expect(X402Client.isReasonCode("No matching payment requirements"))
        #expect(!X402Client.isReasonCode("Payment required"))
        #expect(!X402Client.isReasonCode("PAYMENT-SIGNATURE header is required"))
        #expect(!X402Client.isReasonCode(""))
    }
}

extension JSONValue {
    func replacing(_ key: String, with value: JSONValue) -> JSONValue {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}
