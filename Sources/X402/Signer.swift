/// Signs EIP-3009 transfer authorizations for one address.
///
/// Implementations hold or reach the wallet; the agent never does. Whatever a signer returns is
/// recovered and compared with `address` before it is used (`SignatureCheck.verified`), so a
/// misconfigured or compromised signer can never make this client send a payment from another key.
public protocol Signer: Sendable {
    /// The address every signature must recover to.
    var address: EVMAddressText { get }

    /// Signs the EIP-712 typed data and returns 65 bytes `r ‖ s ‖ v`.
    ///
    /// - Throws: `X402Error` with code `signerFailed` (never with key material in the message).
    func sign(_ typedData: TransferTypedData) async throws -> [UInt8]
}

/// The one gate every signature passes: shape, `v` normalisation, and recovery to the expected address.
public enum SignatureCheck {
    /// Asks `signer` to sign, then checks the result.
    ///
    /// - Returns: the signature with `v` normalised to 27 or 28.
    /// - Throws: `X402Error` (`signerFailed` for a transport or shape problem, `signatureMismatch` when the
    ///   signature does not recover to `signer.address`).
    public static func verified(_ typedData: TransferTypedData, by signer: any Signer) async throws(X402Error)
        -> [UInt8]
    {
        let raw: [UInt8]
        do {
            raw = try await signer.sign(typedData)
        } catch let error as X402Error {
            throw error
        } catch {
            throw X402Error(.signerFailed, "the signer failed (\(type(of: error)))")
        }
        return try check(raw, typedData: typedData, expected: signer.address)
    }

    /// Checks a signature over `typedData` against `expected`.
    public static func check(_ raw: [UInt8], typedData: TransferTypedData, expected: EVMAddressText) throws(X402Error)
        -> [UInt8]
    {
        guard raw.count == 65 else {
            throw X402Error(.signerFailed, "the signature has \(raw.count) bytes; 65 (r‖s‖v) are required")
        }
        var signature = raw
        switch signature[64] {
        case 0, 1: signature[64] += 27
        case 27, 28: break
        default: throw X402Error(.signerFailed, "the signature's v is \(signature[64]); 27 or 28 is required")
        }
        let digest = try EIP3009Crypto.digest(typedData)
        guard let recovered = EIP3009Crypto.recover(digest: digest, signature: signature) else {
            throw X402Error(.signatureMismatch, "the signature does not recover to any address")
        }
        guard recovered == expected.bytes else {
            throw X402Error(
                .signatureMismatch,
                "the signature recovers to \(EIP3009Crypto.checksummed(recovered)), not \(expected.text)")
        }
        return signature
    }
}
