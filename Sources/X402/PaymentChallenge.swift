import FoundationEssentials
import JSONCore
import Synchronization

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
