// Temporary stubs until EVMSigning lands.
enum EIP3009CryptoStub {}

/// The cryptography this module needs, in one place, on top of EVMSigning.
public enum EIP3009Crypto {
    /// The EIP-712 digest of a transfer authorization.
    public static func digest(_ typedData: TransferTypedData) -> [UInt8] { fatalError("not yet") }
    /// The address (20 bytes) a 65-byte signature over `digest` recovers to.
    public static func recover(digest: [UInt8], signature: [UInt8]) -> [UInt8]? { fatalError("not yet") }
    /// EIP-55 checksummed form.
    public static func checksummed(_ bytes: [UInt8]) -> String { fatalError("not yet") }
    /// True when the address is all-lower, all-upper, or a valid EIP-55 mixed case.
    public static func hasValidChecksum(_ address: EVMAddressText) -> Bool { fatalError("not yet") }
    /// Bytes from the system CSPRNG.
    @Sendable public static func systemRandomBytes(_ count: Int) throws -> [UInt8] { fatalError("not yet") }
}

/// A secp256k1 private key; never printed.
struct SigningKey: Sendable, CustomStringConvertible {
    let bytes: [UInt8]
    init?(_ bytes: [UInt8]) { fatalError("not yet") }
    var address: EVMAddressText { fatalError("not yet") }
    func sign(digest: [UInt8]) throws -> [UInt8] { fatalError("not yet") }
    var description: String { "SigningKey(redacted)" }
}
