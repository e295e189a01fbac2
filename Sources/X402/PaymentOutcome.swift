import FoundationEssentials
import JSONCore
import Synchronization

/// Why nothing was signed.
public struct PaymentRefusal: Sendable, CustomStringConvertible {
    /// A stable refusal category.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable name.
        public let name: String
        private init(_ name: String) { self.name = name }
        /// The first request did not reach the upstream.
        public static let transport = Code("transport")
        /// The 402 could not be read.
        public static let unreadableChallenge = Code("unreadableChallenge")
        /// No offer passed selection; see `rejections`.
        public static let noPayableOffer = Code("noPayableOffer")
        /// The caller's step 3 refused.
        public static let declined = Code("declined")
        /// Building or signing failed (signer error, signature mismatch, randomness).
        public static let signing = Code("signing")
        public var description: String { name }
    }

    /// The category.
    public let code: Code
    /// The specifics.
    public let message: String
    /// Per-offer reasons, when selection ran.
    public let rejections: [OfferRejection]

    /// Creates a refusal.
    public init(code: Code, message: String, rejections: [OfferRejection] = []) {
        self.code = code
        self.message = message
        self.rejections = rejections
    }

    public var description: String { "\(code): \(message)" }
}

/// What went wrong after signing.
public struct PaymentFailure: Sendable, CustomStringConvertible {
    /// A stable failure category.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable name.
        public let name: String
        private init(_ name: String) { self.name = name }
        /// Settlement header with `success: false` (failed after signing).
        public static let settlementFailed = Code("settlementFailed")
        /// A fresh 402 with a verification reason code (failed after signing).
        public static let paymentRejected = Code("paymentRejected")
        /// The paid request never left this machine (failed after signing, nothing to settle).
        public static let notDelivered = Code("notDelivered")
        /// Timeout, lost connection or other transport failure after sending (in doubt).
        public static let transport = Code("transport")
        /// A 2xx without a settlement header (in doubt).
        public static let noSettlement = Code("noSettlement")
        /// A settlement header that is malformed or contradicts the status (in doubt).
        public static let invalidSettlement = Code("invalidSettlement")
        /// A 402 after payment without a reason (in doubt; never paid again).
        public static let secondPaymentRequired = Code("secondPaymentRequired")
        /// Any other status after payment (in doubt).
        public static let unexpectedStatus = Code("unexpectedStatus")
        /// The payment had already been sent once (in doubt; nothing sent).
        public static let alreadySent = Code("alreadySent")
        public var description: String { name }
    }

    /// The category.
    public let code: Code
    /// The server's reason code (`errorReason` or the 402's `error`), or a transport code.
    public let reason: String?
    /// The specifics.
    public let message: String
    /// The response, when one arrived.
    public let response: HTTPResponse?

    /// Creates a failure.
    public init(code: Code, reason: String?, message: String, response: HTTPResponse? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.response = response
    }

    public var description: String { reason.map { "\(code) (\($0)): \(message)" } ?? "\(code): \(message)" }
}

/// The outcome of a whole exchange, as a value.
public enum PaymentOutcome: Sendable {
    /// The upstream did not ask for payment.
    case noPaymentRequired(HTTPResponse)
    /// Nothing was signed: unreadable 402, no payable offer, declined, or signing failed.
    case refusedBeforeSigning(PaymentRefusal)
    /// Settled: a 2xx with a successful settlement.
    case paid(Settlement, HTTPResponse, AuthorizationRecord)
    /// Signed, and the payee said explicitly it did not settle (or the request never left).
    case failedAfterSigning(PaymentFailure, AuthorizationRecord)
    /// Signed, outcome unknown: it may settle until `validBefore`. Never answered with a second payment.
    case inDoubt(PaymentFailure, AuthorizationRecord)
}
