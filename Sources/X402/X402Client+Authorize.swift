import EVMSigning
import FoundationEssentials
import JSONCore
import Synchronization

/// Step 4: build and sign the payment for an offer selected from a challenge.
extension X402Client {
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
        let typedData = TransferTypedData(domain: try Self.domain(of: offer), message: message)
        let signature = try await SignatureCheck.verified(typedData, by: signer)
        return SignedPayment(
            challenge: challenge, offer: offer, authorization: message, signature: signature, paymentID: paymentID)
    }

    func authorizeChecks(_ offer: PaymentOffer, _ challenge: PaymentChallenge) throws(X402Error) {
        guard offer.challengeID == challenge.id else {
            throw X402Error(.invalidState, "the offer was not selected from this challenge")
        }
        guard challenge.markAuthorized() else {
            throw X402Error(.invalidState, "this challenge was already authorized; one call never signs twice")
        }
    }

    func makeAuthorization(_ offer: PaymentOffer, validAfter: Int64, validBefore: Int64, value: AtomicAmount)
        throws(X402Error) -> TransferAuthorization
    {
        try makeAuthorization(
            offer, validAfter: UInt64(max(0, validAfter)), validBefore: UInt64(max(0, validBefore)), value: value)
    }

    func makeAuthorization(
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

    /// The offer's EIP-712 domain; throws (rather than signs anything) if its asset were not an address.
    static func domain(of offer: PaymentOffer) throws(X402Error) -> EIP712Domain {
        guard let contract = EthereumAddress(bytes: offer.asset.bytes) else {
            throw X402Error(.invalidMessage, "the offer's asset is not a 20-byte address")
        }
        return EIP712Domain(
            name: offer.domainName, version: offer.domainVersion, chainID: UInt256(offer.network.chainId),
            verifyingContract: contract)
    }
}
