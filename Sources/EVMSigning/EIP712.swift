/// The EIP-712 domain `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`.
public struct EIP712Domain: Sendable, Hashable {
    /// The token's EIP-712 name, e.g. `"USDC"` or `"USD Coin"`.
    public var name: String
    /// The token's EIP-712 version, e.g. `"2"`.
    public var version: String
    /// The chain id (N of `eip155:N`).
    public var chainID: UInt256
    /// The token contract.
    public var verifyingContract: EthereumAddress

    /// Creates a domain.
    public init(name: String, version: String, chainID: UInt256, verifyingContract: EthereumAddress) {
        self.name = name
        self.version = version
        self.chainID = chainID
        self.verifyingContract = verifyingContract
    }
}

/// The EIP-3009 message
/// `TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)`.
public struct TransferWithAuthorization: Sendable, Hashable {
    /// The payer.
    public let from: EthereumAddress
    /// The payee.
    public let to: EthereumAddress
    /// The amount in the token's atomic units.
    public let value: UInt256
    /// Unix seconds after which the authorisation is valid.
    public let validAfter: UInt256
    /// Unix seconds before which the authorisation is valid.
    public let validBefore: UInt256
    /// 32 unique bytes.
    public let nonce: [UInt8]

    /// Creates a message; throws `invalidTypedData` unless `nonce` is exactly 32 bytes.
    public init(
        from: EthereumAddress, to: EthereumAddress, value: UInt256, validAfter: UInt256, validBefore: UInt256,
        nonce: [UInt8]
    ) throws(SigningError) {
        guard nonce.count == 32 else {
            throw SigningError(code: .invalidTypedData, message: "an EIP-3009 nonce must be exactly 32 bytes")
        }
        self.from = from
        self.to = to
        self.value = value
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.nonce = nonce
    }
}

/// EIP-712 hashing for the fixed domain and message types x402's `exact` scheme uses.
public enum EIP712 {
    /// keccak256 of the domain type string.
    public static let domainTypeHash = Keccak256.hash(
        Array("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)".utf8))
    /// keccak256 of the TransferWithAuthorization type string.
    public static let transferWithAuthorizationTypeHash = Keccak256.hash(
        Array(
            ("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,"
                + "uint256 validBefore,bytes32 nonce)").utf8))

    /// hashStruct(domain).
    public static func domainSeparator(_ domain: EIP712Domain) -> [UInt8] {
        Keccak256.hash(
            domainTypeHash + Keccak256.hash(Array(domain.name.utf8)) + Keccak256.hash(Array(domain.version.utf8))
                + domain.chainID.bigEndianBytes + padded(domain.verifyingContract))
    }

    /// hashStruct(message).
    public static func structHash(_ message: TransferWithAuthorization) -> [UInt8] {
        Keccak256.hash(
            transferWithAuthorizationTypeHash + padded(message.from) + padded(message.to)
                + message.value.bigEndianBytes + message.validAfter.bigEndianBytes + message.validBefore.bigEndianBytes
                + message.nonce)
    }

    /// keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ structHash), the digest that gets signed.
    public static func digest(domainSeparator: [UInt8], structHash: [UInt8]) -> [UInt8] {
        Keccak256.hash([0x19, 0x01] + domainSeparator + structHash)
    }

    /// The signing digest of a TransferWithAuthorization under `domain`.
    public static func digest(domain: EIP712Domain, message: TransferWithAuthorization) -> [UInt8] {
        digest(domainSeparator: domainSeparator(domain), structHash: structHash(message))
    }

    private static func padded(_ address: EthereumAddress) -> [UInt8] {
        [UInt8](repeating: 0, count: 12) + address.bytes
    }
}
