import Foundation
public import JSONCore
import Synchronization
public import X402

/// A scripted x402 v2 seller behind the `HTTPTransport` seam: answers 402 to unpaid requests and does
/// what `afterPayment` says with paid ones. Records every request (Mutex-guarded, hence Sendable).
///
/// The unit tests' seller and the in-process seller of `purser-bench pipeline` (with `delay`).
public final class FakeSeller: HTTPTransport {
    /// What the seller does with a paid request for the offered amount.
    public enum AfterPayment: Sendable {
        /// Settles: 200 with the weather and a successful `PAYMENT-RESPONSE` naming the payer.
        case settle
        /// The transport times out (the payment may or may not have settled).
        case timeout
        /// Answers with the 402 again.
        case secondPaymentRequired
        /// 402 with a failed settlement (`invalid_exact_evm_insufficient_balance`).
        case settlementFailed
        /// Settles (the payment counts on its books), then its handler fails: 500, no settlement header.
        case settleThenFail
        /// Claims a settlement by another payer, on another network, with transaction `0x`.
        case lie
    }

    public static let payee = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    public static let asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"

    private let state = Mutex<[HTTPRequest]>([])
    public let amount: String
    public let payTo: String
    public let afterPayment: AfterPayment
    public let declaresPaymentIdentifier: Bool
    /// What `.settle` puts at `extensions["offer-receipt"].info.receipt` (a seller-signed receipt), given the
    /// payer and the transaction it names; nil for none.
    public let receipt: (@Sendable (_ payer: String, _ transaction: String) -> JSONValue)?
    /// How long each answer waits, like an upstream would (the caller's threads go idle meanwhile).
    public let delay: Duration

    /// Creates a seller offering `amount` atomic USDC units on Base Sepolia to `payTo`.
    public init(
        amount: String = "10000", payTo: String = FakeSeller.payee, afterPayment: AfterPayment = .settle,
        declaresPaymentIdentifier: Bool = false, delay: Duration = .zero,
        receipt: (@Sendable (_ payer: String, _ transaction: String) -> JSONValue)? = nil
    ) {
        self.receipt = receipt
        self.amount = amount
        self.payTo = payTo
        self.afterPayment = afterPayment
        self.declaresPaymentIdentifier = declaresPaymentIdentifier
        self.delay = delay
    }

    /// The decoded payment payloads received, in order.
    public var payments: [JSONValue] {
        paidRequests.compactMap { request in
            request.headers["PAYMENT-SIGNATURE"].flatMap { try? JSONParser.parse(try Base64.decode($0)) }
        }
    }

    /// Every request received, in order.
    public var requests: [HTTPRequest] { state.withLock { $0 } }
    /// The requests that carried a payment.
    public var paidRequests: [HTTPRequest] { requests.filter { $0.headers["PAYMENT-SIGNATURE"] != nil } }

    /// The 402 answer to an unpaid request.
    public var challenge: HTTPResponse {
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

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        state.withLock { $0.append(request) }
        if delay > .zero { try await Task.sleep(for: delay) }
        guard let header = request.headers["PAYMENT-SIGNATURE"] else { return challenge }
        // The payload must at least be a well-formed v2 payment for the offered amount.
        let payload = try JSONParser.parse(try Base64.decode(header))
        guard payload["payload"]?["authorization"]?["value"]?.stringValue == amount else { return challenge }
        switch afterPayment {
        case .settle:
            let transaction = "0x" + String(repeating: "ab", count: 32)
            let payer = payload["payload"]?["authorization"]?["from"]?.stringValue ?? "0x"
            var settlement: JSONValue = [
                "success": true, "transaction": .string(transaction), "network": "eip155:84532",
                "payer": .string(payer),
            ]
            if let receipt, case .object(var object) = settlement {
                object["extensions"] = ["offer-receipt": ["info": ["receipt": receipt(payer, transaction)]]]
                settlement = .object(object)
            }
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
