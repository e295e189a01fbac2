import FoundationEssentials
import JSONCore
import Synchronization

/// Steps 5 and 6: send the signed payment once, and classify the answer.
extension X402Client {
    /// Sends the original request once more with the payment header, and classifies the answer.
    ///
    /// A payment is sent at most once: a second call returns `.inDoubt` with code `alreadySent` and sends
    /// nothing.
    public func retry(_ payment: SignedPayment) async -> PaymentOutcome {
        let record = payment.record
        guard payment.markSent() else {
            return .inDoubt(
                PaymentFailure(code: .alreadySent, reason: nil, message: "this payment was already sent once"), record)
        }
        var request = payment.challenge.request
        request.headers.set(name: payment.offer.version.paymentHeader, value: payment.headerValue)
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as HTTPTransportError {
            if error.code.definitelyNotSent {
                return .failedAfterSigning(
                    PaymentFailure(code: .notDelivered, reason: error.code.name, message: error.message), record)
            }
            return .inDoubt(PaymentFailure(code: .transport, reason: error.code.name, message: error.message), record)
        } catch {
            return .inDoubt(PaymentFailure(code: .transport, reason: nil, message: "transport failure"), record)
        }
        return Self.classify(response, version: payment.offer.version, record: record)
    }

    /// Classifies the response to a paid request.
    ///
    /// - 2xx with a settlement `success: true` and a transaction: `.paid`.
    /// - 402 with a settlement `success: false`, or a fresh 402 whose `error` is a reason code: `.failedAfterSigning`.
    /// - Anything else (2xx without or with a malformed settlement, a 402 without a reason, another status):
    ///   `.inDoubt`. The authorization may still settle until its `validBefore`.
    public static func classify(_ response: HTTPResponse, version: X402Version, record: AuthorizationRecord)
        -> PaymentOutcome
    {
        let settlement: Settlement?
        do {
            settlement = try Settlement.decode(from: response, version: version)
        } catch {
            return .inDoubt(
                PaymentFailure(code: .invalidSettlement, reason: nil, message: error.message, response: response),
                record)
        }
        if (200..<300).contains(response.status) {
            guard let settlement else {
                return .inDoubt(
                    PaymentFailure(
                        code: .noSettlement, reason: nil,
                        message: "status \(response.status) without \(version.settlementHeader)", response: response),
                    record)
            }
            guard settlement.success, !settlement.transaction.isEmpty else {
                return .inDoubt(
                    PaymentFailure(
                        code: .invalidSettlement, reason: settlement.errorReason,
                        message: "status \(response.status) with a settlement that is not a success",
                        response: response), record)
            }
            return .paid(settlement, response, record)
        }
        if response.status == 402 {
            if let settlement {
                if !settlement.success {
                    return .failedAfterSigning(
                        PaymentFailure(
                            code: .settlementFailed, reason: settlement.errorReason,
                            message: settlement.errorMessage ?? "settlement failed", response: response), record)
                }
                return .inDoubt(
                    PaymentFailure(
                        code: .invalidSettlement, reason: nil, message: "a 402 with a successful settlement",
                        response: response), record)
            }
            if let required = try? PaymentRequired.decode(from: response), let reason = required.error,
                isReasonCode(reason)
            {
                return .failedAfterSigning(
                    PaymentFailure(
                        code: .paymentRejected, reason: reason, message: "the payee refused the payment",
                        response: response), record)
            }
            return .inDoubt(
                PaymentFailure(
                    code: .secondPaymentRequired, reason: nil,
                    message: "a second 402 without a reason code; no second payment is signed", response: response),
                record)
        }
        return .inDoubt(
            PaymentFailure(
                code: .unexpectedStatus, reason: nil, message: "status \(response.status) after payment",
                response: response), record)
    }

    /// An x402 verification reason (e.g. `invalid_exact_evm_nonce_already_used`) or the SDK's
    /// "No matching payment requirements"; not the generic "Payment required" of a first 402.
    static func isReasonCode(_ text: String) -> Bool {
        if text == "No matching payment requirements" { return true }
        guard !text.isEmpty, text.utf8.count <= 128 else { return false }
        return text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}
