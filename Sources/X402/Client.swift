public import FoundationEssentials
public import JSONCore
import Synchronization

/// Pays x402 upstreams in explicit steps, so a governed pipeline can put its checks between them.
///
/// The exchange is a one-way state machine; no API path sends a payment without passing every step:
///
/// ```
///  send(request) ──► .completed(response)                      (no 402: nothing to pay)
///       │
///       ├────────► .unreadableChallenge(response, error)       (402 we cannot parse: refuse)
///       ▼
///  .paymentRequired(challenge)
///       │  challenge.select(policy) ──► Selection { candidates (cheapest first), rejections }
///       ▼
///  caller decides: policy, budget, approval, ledger reservation   (nothing signed yet)
///       │
///  authorize(offer, for: challenge) ──► SignedPayment          (build + sign + recover-check; once per challenge)
///       │
///  retry(payment) ──► PaymentOutcome                           (sent at most once; classified)
///        .paid / .failedAfterSigning / .inDoubt
/// ```
///
/// - A challenge can be authorized **once**; a second `authorize` throws `invalidState`, so one call never
///   signs two payments.
/// - A signed payment can be sent **once**; the outcome of that one retry is final. A 402 after payment is
///   never answered with a new signature: it is `.failedAfterSigning` (explicit reason) or `.inDoubt`.
/// - Offers can only come from `select`, which checks them, and carry the identity of their challenge.
public struct X402Client: Sendable {
    /// Time-window and size settings.
    public struct Configuration: Sendable {
        /// `validAfter = now − this`, tolerating a payee clock behind ours (the TS client's choice).
        public var validAfterBackdate: Int64
        /// Upper bound of `validBefore − now`, whatever `maxTimeoutSeconds` asks: it bounds how long a
        /// signed authorization stays spendable, and so how long an in-doubt reservation must be held.
        public var validityCap: Int64

        /// Creates a configuration.
        public init(validAfterBackdate: Int64 = 600, validityCap: Int64 = 600) {
            self.validAfterBackdate = validAfterBackdate
            self.validityCap = validityCap
        }
    }

    /// What the first response of an exchange means.
    public enum FirstResponse: Sendable {
        /// Not a 402: the upstream answered without asking for payment.
        case completed(HTTPResponse)
        /// A readable 402: select, decide, then maybe authorize.
        case paymentRequired(PaymentChallenge)
        /// A 402 whose requirements cannot be read; nothing may be paid.
        case unreadableChallenge(HTTPResponse, X402Error)
    }

    private let transport: any HTTPTransport
    private let signer: any Signer
    private let configuration: Configuration
    private let clock: @Sendable () -> Int64
    private let randomBytes: @Sendable (Int) throws -> [UInt8]

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - clock: current unix time in seconds (injected for tests).
    ///   - randomBytes: the nonce source; defaults to the system CSPRNG.
    public init(
        transport: any HTTPTransport, signer: any Signer, configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        randomBytes: @escaping @Sendable (Int) throws -> [UInt8] = EIP3009Crypto.systemRandomBytes
    ) {
        self.transport = transport
        self.signer = signer
        self.configuration = configuration
        self.clock = clock
        self.randomBytes = randomBytes
    }

    /// The payer address.
    public var payer: EVMAddressText { signer.address }

    // MARK: Step 1

    /// Sends the request without payment.
    ///
    /// - Throws: `HTTPTransportError` when the upstream could not be reached (nothing was paid).
    public func send(_ request: HTTPRequest) async throws -> FirstResponse {
        var unpaid = request
        for version in [X402Version.v1, .v2] { unpaid.headers.remove(name: version.paymentHeader) }
        let response = try await transport.send(unpaid)
        guard response.status == 402 else { return .completed(response) }
        do {
            let required = try PaymentRequired.decode(from: response)
            return .paymentRequired(PaymentChallenge(request: unpaid, response: response, required: required))
        } catch {
            return .unreadableChallenge(response, error)
        }
    }

    // MARK: Step 4

    /// Builds and signs the payment for `offer`: the only way to obtain a `SignedPayment`.
    ///
    /// `validAfter = now − validAfterBackdate`, `validBefore = now + min(maxTimeoutSeconds, validityCap)`,
    /// a 32-byte nonce from the CSPRNG, `value` = the offer's amount, the EIP-712 domain from `extra`,
    /// the chain id and the asset. The signature is recovered and compared with the payer before use.
    ///
    /// - Throws: `X402Error`: `invalidState` (offer from another challenge, or the challenge was already
    ///   authorized), `randomness`, `signerFailed`, `signatureMismatch`. After a throw nothing usable exists.
    /// - Parameters:
    ///   - nonce: the EIP-3009 nonce to sign (32 bytes), when the caller chose it beforehand (the governed
    ///     call records it in the ledger with the hold, before signing); nil draws one from `randomBytes`.
    ///   - paymentID: the x402 `payment-identifier` to send when the seller declares that extension
    ///     (16–128 of `A–Z a–z 0–9 _ -`; see `PaymentIdentifier`).
    public func authorize(
        _ offer: PaymentOffer, for challenge: PaymentChallenge, nonce: [UInt8]? = nil, paymentID: String? = nil
    ) async throws(X402Error) -> SignedPayment {
        if let paymentID, !PaymentIdentifier.isValid(paymentID) {
            throw X402Error(.invalidState, "the payment identifier is not 16–128 of A–Z a–z 0–9 _ -")
        }
        if let nonce, nonce.count != 32 { throw X402Error(.randomness, "the nonce must be 32 bytes") }
        try authorizeChecks(offer, challenge)
        let now = clock()
        let window = min(offer.maxTimeoutSeconds, configuration.validityCap)
        let message = try makeAuthorization(
            offer, validAfter: UInt64(max(0, now - configuration.validAfterBackdate)),
            validBefore: UInt64(max(0, now + window)), value: offer.amount, nonce: nonce)
        let typedData = TransferTypedData(domain: Self.domain(of: offer), message: message)
        let signature = try await SignatureCheck.verified(typedData, by: signer)
        return SignedPayment(
            challenge: challenge, offer: offer, authorization: message, signature: signature, paymentID: paymentID)
    }

    /// A deliberately wrong payment for the interop conformance table: signs what the mutation says.
    ///
    /// Never used by the product; exposed only under `@_spi(Interop)`.
    @_spi(Interop)
    public func authorizeMutated(
        _ offer: PaymentOffer, for challenge: PaymentChallenge, mutation: InteropMutation
    ) async throws(X402Error) -> SignedPayment {
        try authorizeChecks(offer, challenge)
        let now = clock()
        var validAfter = max(0, now - configuration.validAfterBackdate)
        var validBefore = now + min(offer.maxTimeoutSeconds, configuration.validityCap)
        var value = offer.amount
        var domain = Self.domain(of: offer)
        var accepted = offer.raw
        switch mutation {
        case .none: break
        case .domainName(let name):
            domain = TokenDomain(
                name: name, version: domain.version, chainId: domain.chainId,
                verifyingContract: domain.verifyingContract)
        case .domainVersion(let version):
            domain = TokenDomain(
                name: domain.name, version: version, chainId: domain.chainId,
                verifyingContract: domain.verifyingContract)
        case .chainId(let chainId):
            domain = TokenDomain(
                name: domain.name, version: domain.version, chainId: chainId,
                verifyingContract: domain.verifyingContract)
        case .validBefore(let offset): validBefore = now + offset
        case .validAfter(let offset): validAfter = now + offset
        case .value(let amount): value = amount
        case .acceptedPayToLowercased:
            if case .string(let text)? = accepted["payTo"] { accepted["payTo"] = .string(text.lowercased()) }
        }
        let message = try makeAuthorization(offer, validAfter: validAfter, validBefore: validBefore, value: value)
        let typedData = TransferTypedData(domain: domain, message: message)
        let raw: [UInt8]
        do {
            raw = try await signer.sign(typedData)
        } catch {
            throw X402Error(.signerFailed, "the signer failed")
        }
        return SignedPayment(
            challenge: challenge, offer: offer, authorization: message, signature: raw, accepted: accepted)
    }

    /// Sends an already-sent payment again, to show the payee refuses a replay (interop tests only).
    @_spi(Interop)
    public func replayForInterop(_ payment: SignedPayment) async -> PaymentOutcome {
        var request = payment.challenge.request
        request.headers.set(name: payment.offer.version.paymentHeader, value: payment.headerValue)
        do {
            let response = try await transport.send(request)
            return Self.classify(response, version: payment.offer.version, record: payment.record)
        } catch {
            return .inDoubt(PaymentFailure(code: .transport, reason: nil, message: "transport failure"), payment.record)
        }
    }

    private func authorizeChecks(_ offer: PaymentOffer, _ challenge: PaymentChallenge) throws(X402Error) {
        guard offer.challengeID == challenge.id else {
            throw X402Error(.invalidState, "the offer was not selected from this challenge")
        }
        guard challenge.markAuthorized() else {
            throw X402Error(.invalidState, "this challenge was already authorized; one call never signs twice")
        }
    }

    private func makeAuthorization(_ offer: PaymentOffer, validAfter: Int64, validBefore: Int64, value: AtomicAmount)
        throws(X402Error) -> TransferAuthorization
    {
        try makeAuthorization(
            offer, validAfter: UInt64(max(0, validAfter)), validBefore: UInt64(max(0, validBefore)), value: value)
    }

    private func makeAuthorization(
        _ offer: PaymentOffer, validAfter: UInt64, validBefore: UInt64, value: AtomicAmount,
        nonce chosen: [UInt8]? = nil
    ) throws(X402Error) -> TransferAuthorization {
        let nonce: [UInt8]
        do {
            nonce = try chosen ?? randomBytes(32)
        } catch {
            throw X402Error(.randomness, "the system random source failed")
        }
        guard nonce.count == 32 else { throw X402Error(.randomness, "the random source returned \(nonce.count) bytes") }
        return TransferAuthorization(
            from: EIP3009Crypto.checksummed(signer.address.bytes), to: offer.payTo.text, value: value,
            validAfter: validAfter, validBefore: validBefore, nonce: nonce)
    }

    static func domain(of offer: PaymentOffer) -> TokenDomain {
        TokenDomain(
            name: offer.domainName, version: offer.domainVersion, chainId: offer.network.chainId,
            verifyingContract: offer.asset)
    }

    // MARK: Steps 5 and 6

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

    // MARK: All steps

    /// Runs the whole exchange with `decide` as step 3 (policy, budget, approval, reservation).
    ///
    /// `decide` sees the chosen (cheapest) offer and the full selection; returning a refusal stops before
    /// anything is signed.
    public func pay(
        _ request: HTTPRequest, policy: SelectionPolicy,
        decide: @Sendable (PaymentOffer, Selection) async -> PaymentDecision = { _, _ in .approve }
    ) async -> PaymentOutcome {
        let first: FirstResponse
        do {
            first = try await send(request)
        } catch let error as HTTPTransportError {
            return .refusedBeforeSigning(PaymentRefusal(code: .transport, message: error.description))
        } catch {
            return .refusedBeforeSigning(PaymentRefusal(code: .transport, message: "transport failure"))
        }
        switch first {
        case .completed(let response):
            return .noPaymentRequired(response)
        case .unreadableChallenge(_, let error):
            return .refusedBeforeSigning(PaymentRefusal(code: .unreadableChallenge, message: error.description))
        case .paymentRequired(let challenge):
            let selection = challenge.select(policy)
            guard let offer = selection.cheapest else {
                return .refusedBeforeSigning(
                    PaymentRefusal(
                        code: .noPayableOffer, message: "no offer can be paid", rejections: selection.rejections))
            }
            if case .refuse(let message) = await decide(offer, selection) {
                return .refusedBeforeSigning(
                    PaymentRefusal(code: .declined, message: message, rejections: selection.rejections))
            }
            let payment: SignedPayment
            do {
                payment = try await authorize(offer, for: challenge)
            } catch {
                return .refusedBeforeSigning(PaymentRefusal(code: .signing, message: error.description))
            }
            return await retry(payment)
        }
    }
}

/// The caller's verdict in step 3.
public enum PaymentDecision: Sendable {
    /// Sign and send.
    case approve
    /// Stop before signing, with a reason.
    case refuse(String)
}

/// A readable 402 and the request it answered; the handle for selecting and authorizing.
public final class PaymentChallenge: Sendable {
    private static let counter = Atomic<UInt64>(1)

    let id: UInt64
    /// The request without payment, as sent.
    public let request: HTTPRequest
    /// The 402 response.
    public let response: HTTPResponse
    /// The decoded requirements.
    public let required: PaymentRequired
    private let authorized = Atomic<Bool>(false)

    init(request: HTTPRequest, response: HTTPResponse, required: PaymentRequired) {
        self.id = Self.counter.wrappingAdd(1, ordering: .relaxed).oldValue
        self.request = request
        self.response = response
        self.required = required
    }

    /// Step 2: checks every offer against `policy` (addresses must be valid EIP-55 when mixed-case).
    public func select(_ policy: SelectionPolicy) -> Selection {
        PaymentSelector.select(
            required, policy: policy, challengeID: id, addressCheck: EIP3009Crypto.hasValidChecksum)
    }

    /// True when this challenge has been authorized (signed) already.
    public var isAuthorized: Bool { authorized.load(ordering: .acquiring) }

    func markAuthorized() -> Bool {
        authorized.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}

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

/// Wrong payments for the interop conformance table (`@_spi(Interop)` only).
@_spi(Interop)
public enum InteropMutation: Sendable {
    /// A correct payment.
    case none
    /// Sign under another EIP-712 domain name.
    case domainName(String)
    /// Sign under another EIP-712 domain version.
    case domainVersion(String)
    /// Sign under another chain id.
    case chainId(UInt64)
    /// `validBefore = now + offset`.
    case validBefore(Int64)
    /// `validAfter = now + offset`.
    case validAfter(Int64)
    /// Authorize this value instead of the amount.
    case value(AtomicAmount)
    /// Echo `accepted.payTo` lower-cased.
    case acceptedPayToLowercased
}
