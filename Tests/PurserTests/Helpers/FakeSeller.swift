import Foundation
import JSONCore
import Synchronization
import X402

/// A scripted x402 v2 seller behind the `HTTPTransport` seam: answers 402 to unpaid requests and does
/// what `afterPayment` says with paid ones. Records every request (Mutex-guarded, hence Sendable).
final class FakeSeller: HTTPTransport {
    enum AfterPayment: Sendable {
        case settle
        case timeout
        case secondPaymentRequired
        case settlementFailed
        /// Settles (the payment counts on its books), then its handler fails: 500, no settlement header.
        case settleThenFail
        /// Claims a settlement by another payer, on another network, with transaction `0x`.
        case lie
    }

    static let payee = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    static let asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"

    private let state = Mutex<[HTTPRequest]>([])
    let amount: String
    let payTo: String
    let afterPayment: AfterPayment
    let declaresPaymentIdentifier: Bool

    init(
        amount: String = "10000", payTo: String = FakeSeller.payee, afterPayment: AfterPayment = .settle,
        declaresPaymentIdentifier: Bool = false
    ) {
        self.amount = amount
        self.payTo = payTo
        self.afterPayment = afterPayment
        self.declaresPaymentIdentifier = declaresPaymentIdentifier
    }

    /// The decoded payment payloads received, in order.
    var payments: [JSONValue] {
        paidRequests.compactMap { request in
            request.headers["PAYMENT-SIGNATURE"].flatMap { try? JSONParser.parse(try Base64.decode($0)) }
        }
    }

    var requests: [HTTPRequest] { state.withLock { $0 } }
    var paidRequests: [HTTPRequest] { requests.filter { $0.headers["PAYMENT-SIGNATURE"] != nil } }

    /// The 402 answer to an unpaid request.
    var challenge: HTTPResponse {
        var required: JSONValue = [
            "x402Version": 2, "error": "Payment required",
            "resource": [
                "url": "http://seller.test/weather", "description": "Weather", "mimeType": "application/json",
            ],
            "accepts": [
                [
                    "scheme": "exact", "network": "eip155:84532", "amount": .string(amount),
                    "asset": .string(Self.asset),
                    "payTo": .string(payTo), "maxTimeoutSeconds": 300, "extra": ["name": "USDC", "version": "2"],
                ]
            ],
        ]
        if declaresPaymentIdentifier, case .object(var object) = required {
            object["extensions"] = ["payment-identifier": ["info": ["required": false]]]
            required = .object(object)
        }
        return HTTPResponse(
            status: 402, headers: ["PAYMENT-REQUIRED": Base64.encode(required.serializedBytes())],
            body: Array("{}".utf8))
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        state.withLock { $0.append(request) }
        guard let header = request.headers["PAYMENT-SIGNATURE"] else { return challenge }
        // The payload must at least be a well-formed v2 payment for the offered amount.
        let payload = try JSONParser.parse(try Base64.decode(header))
        guard payload["payload"]?["authorization"]?["value"]?.stringValue == amount else { return challenge }
        switch afterPayment {
        case .settle:
            let settlement: JSONValue = [
                "success": true, "transaction": .string("0x" + String(repeating: "ab", count: 32)),
                "network": "eip155:84532",
                "payer": payload["payload"]?["authorization"]?["from"] ?? "0x",
            ]
            return HTTPResponse(
                status: 200,
                headers: [
                    "Content-Type": "application/json", "PAYMENT-RESPONSE": Base64.encode(settlement.serializedBytes()),
                ],
                body: Array(#"{"city":"Paris","temperature":21,"weather":"sunny"}"#.utf8))
        case .timeout:
            throw HTTPTransportError(.timeout, "deadline passed")
        case .settleThenFail:
            return HTTPResponse(status: 500, headers: [:], body: Array("internal error".utf8))
        case .lie:
            let settlement: JSONValue = [
                "success": true, "transaction": "0x", "network": "eip155:1",
                "payer": .string("0x" + String(repeating: "33", count: 20)),
            ]
            return HTTPResponse(
                status: 200, headers: ["PAYMENT-RESPONSE": Base64.encode(settlement.serializedBytes())],
                body: Array(#"{"city":"Paris"}"#.utf8))
        case .secondPaymentRequired:
            return challenge
        case .settlementFailed:
            let failure: JSONValue = [
                "success": false, "errorReason": "invalid_exact_evm_insufficient_balance", "transaction": "",
                "network": "eip155:84532",
            ]
            return HTTPResponse(
                status: 402, headers: ["PAYMENT-RESPONSE": Base64.encode(failure.serializedBytes())],
                body: Array("{}".utf8))
        }
    }
}
