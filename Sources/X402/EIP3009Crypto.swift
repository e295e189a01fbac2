import EVMSigning
import Synchronization

/// The cryptography this module needs, in one place, on top of EVMSigning.
public enum EIP3009Crypto {
    /// The EIP-712 digest of a transfer authorization (`keccak256(0x1901 ‖ domainSeparator ‖ structHash)`).
    ///
    /// Inputs are validated when they are built (20-byte addresses, 32-byte nonce, canonical amount); one that
    /// does not convert is refused here rather than signed over a placeholder digest.
    public static func digest(_ typedData: TransferTypedData) throws(X402Error) -> [UInt8] {
        let domain = typedData.domain
        let message = typedData.message
        guard let from = EVMAddressText(message.from).flatMap({ EthereumAddress(bytes: $0.bytes) }),
            let to = EVMAddressText(message.to).flatMap({ EthereumAddress(bytes: $0.bytes) }),
            let value = UInt256(decimal: message.value.decimal)
        else {
            throw X402Error(
                .invalidMessage, "the transfer authorization has an address or amount that cannot be signed")
        }
        let transfer: TransferWithAuthorization
        do {
            transfer = try TransferWithAuthorization(
                from: from, to: to, value: value, validAfter: UInt256(message.validAfter),
                validBefore: UInt256(message.validBefore), nonce: message.nonce)
        } catch {
            throw X402Error(.invalidMessage, "the transfer authorization cannot be signed: \(error.message)")
        }
        return EIP712.digest(domain: domain, message: transfer)
    }

    /// The address (20 bytes) a 65-byte signature (`v` 27/28 or 0/1) over `digest` recovers to.
    public static func recover(digest: [UInt8], signature: [UInt8]) -> [UInt8]? {
        guard let parsed = RecoverableSignature(bytes65: signature) else { return nil }
        return recoverAddress(digest: digest, signature: parsed)?.bytes
    }

    /// The EIP-55 checksummed form of 20 address bytes.
    public static func checksummed(_ bytes: [UInt8]) -> String {
        if let known = checksums.withLock({ $0[bytes] }) { return known }
        let text = EthereumAddress(bytes: bytes)?.checksummed ?? HexBytes.prefixed(bytes)
        checksums.withLock { Self.remember(text, for: bytes, in: &$0) }
        return text
    }

    /// True when the address is all-lower, all-upper, or exactly its EIP-55 mixed-case form.
    @Sendable public static func hasValidChecksum(_ address: EVMAddressText) -> Bool {
        if let known = checksumChecks.withLock({ $0[address.text] }) { return known }
        let valid = EthereumAddress(hex: address.text) != nil
        checksumChecks.withLock { Self.remember(valid, for: address.text, in: &$0) }
        return valid
    }

    // Each EIP-55 computation is a Keccak hash; a paid call checks the same few addresses (payee, asset,
    // wallet) every time. Pure functions, so a small bounded memo changes no result.
    private static let checksums = Mutex<[[UInt8]: String]>([:])
    private static let checksumChecks = Mutex<[String: Bool]>([:])
    private static let memoLimit = 256

    private static func remember<Key: Hashable, Value>(_ value: Value, for key: Key, in memo: inout [Key: Value]) {
        if memo.count >= memoLimit { memo.removeAll(keepingCapacity: true) }
        memo[key] = value
    }

    /// Bytes from the system CSPRNG (`getentropy`, falling back to `/dev/urandom`).
    @Sendable public static func systemRandomBytes(_ count: Int) throws -> [UInt8] {
        try SecureRandom.bytes(count)
    }
}

/// A secp256k1 private key; never printed (EVMSigning's `PrivateKey` redacts itself too).
struct SigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let key: PrivateKey
    let address: EVMAddressText

    init?(_ bytes: [UInt8]) {
        guard let key = try? PrivateKey(bytes: bytes), let address = EVMAddressText(key.address.checksummed) else {
            return nil
        }
        self.key = key
        self.address = address
    }

    /// Signs a digest (RFC 6979, low-s); returns r‖s‖v with v = 27/28.
    func sign(digest: [UInt8]) throws(X402Error) -> [UInt8] {
        do {
            return try key.sign(digest: digest).bytes65
        } catch {
            throw X402Error(.signerFailed, "signing failed (\(error.code))")
        }
    }

    var description: String { "SigningKey(redacted)" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
