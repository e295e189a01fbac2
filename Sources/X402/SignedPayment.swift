import FoundationEssentials
public import JSONCore
import Synchronization

/// A signed payment, ready for its one retry. Only `X402Client.authorize` creates it.
///
/// The header value is a bearer instrument (anyone holding it can settle it until `validBefore`), so it
/// is not public and never printed.
public final class SignedPayment: Sendable {
    let challenge: PaymentChallenge
    /// The offer paid.
    public let offer: PaymentOffer
    /// The signed authorization.
    public let authorization: TransferAuthorization
    let headerValue: String
    /// The `payment-identifier` sent, when the seller declared the extension and one was given.
    public let paymentID: String?
    private let sent = Atomic<Bool>(false)

    init(
        challenge: PaymentChallenge, offer: PaymentOffer, authorization: TransferAuthorization, signature: [UInt8],
        accepted: JSONObject? = nil, paymentID: String? = nil
    ) {
        self.challenge = challenge
        self.offer = offer
        self.authorization = authorization
        let payload = PaymentPayload.json(
            offer: offer, accepted: accepted ?? offer.raw, required: challenge.required,
            authorization: authorization, signature: signature, paymentID: paymentID)
        self.paymentID = PaymentIdentifier.sent(in: payload)
        self.headerValue = Base64.encode(payload.serializedBytes())
    }

    /// What was signed, for the ledger and receipts.
    public var record: AuthorizationRecord {
        AuthorizationRecord(
            version: offer.version, network: offer.networkName, asset: offer.asset.text, payTo: offer.payTo.text,
            amount: offer.amount, payer: authorization.from, nonce: HexBytes.prefixed(authorization.nonce),
            validAfter: authorization.validAfter, validBefore: authorization.validBefore)
    }

    func markSent() -> Bool {
        sent.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}

/// The payment payload JSON (`PAYMENT-SIGNATURE` / `X-PAYMENT` before base64).
public enum PaymentPayload {
    /// Builds the payload object: v2 `{x402Version, payload, accepted, resource?, extensions?}`,
    /// v1 `{x402Version, scheme, network, payload}`; `payload = {authorization, signature}`.
    ///
    /// Extensions the seller declared are echoed; when it declared `payment-identifier` and `paymentID` is
    /// given, the id is added as `extensions["payment-identifier"].info.id` (as the official clients do).
    public static func json(
        offer: PaymentOffer, accepted: JSONObject, required: PaymentRequired, authorization: TransferAuthorization,
        signature: [UInt8], paymentID: String? = nil
    ) -> JSONValue {
        let payload: JSONValue = [
            "authorization": .object(authorization.json), "signature": .string(HexBytes.prefixed(signature)),
        ]
        switch offer.version {
        case .v2:
            var object: JSONObject = ["x402Version": 2, "payload": payload, "accepted": .object(accepted)]
            if let resource = required.resource { object["resource"] = .object(resource) }
            if var extensions = required.extensions {
                if let paymentID { PaymentIdentifier.add(paymentID, to: &extensions) }
                object["extensions"] = .object(extensions)
            }
            return .object(object)
        case .v1:
            return [
                "x402Version": 1, "scheme": "exact", "network": .string(offer.networkName), "payload": payload,
            ]
        }
    }
}

/// What was signed: enough for a ledger to hold a reservation until `validBefore` and to write a receipt.
public struct AuthorizationRecord: Sendable, Hashable {
    /// Protocol version used.
    public let version: X402Version
    /// Network as the offer named it.
    public let network: String
    /// Token contract.
    public let asset: String
    /// Payee.
    public let payTo: String
    /// Amount, atomic units.
    public let amount: AtomicAmount
    /// Payer (EIP-55).
    public let payer: String
    /// The authorization nonce, `0x` + 64 hex.
    public let nonce: String
    /// Unix seconds from which it is valid.
    public let validAfter: UInt64
    /// Unix seconds before which it can settle; after it, an in-doubt payment is known not to settle.
    public let validBefore: UInt64
}
