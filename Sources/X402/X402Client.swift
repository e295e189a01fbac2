public import FoundationEssentials
import JSONCore
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

    let transport: any HTTPTransport
    let signer: any Signer
    let configuration: Configuration
    let clock: @Sendable () -> Int64
    let randomBytes: @Sendable (Int) throws -> [UInt8]

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
