import EVMSigning
import FoundationEssentials
import JSONCore
import Synchronization

/// Deliberately wrong or replayed payments for the interop conformance table (`@_spi(Interop)` only).
extension X402Client {
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
        var domain = try Self.domain(of: offer)
        var accepted = offer.raw
        switch mutation {
        case .none: break
        case .domainName(let name):
            domain.name = name
        case .domainVersion(let version):
            domain.version = version
        case .chainId(let chainId):
            domain.chainID = UInt256(chainId)
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
