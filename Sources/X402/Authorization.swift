public import JSONCore

/// The EIP-712 domain of an EIP-3009 token: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`.
public struct TokenDomain: Sendable, Hashable {
    /// `extra.name` of the offer, e.g. `USDC`.
    public let name: String
    /// `extra.version` of the offer, e.g. `2`.
    public let version: String
    /// The chain id of the offer's network.
    public let chainId: UInt64
    /// The token contract (the offer's `asset`).
    public let verifyingContract: EVMAddressText

    /// Creates a domain.
    public init(name: String, version: String, chainId: UInt64, verifyingContract: EVMAddressText) {
        self.name = name
        self.version = version
        self.chainId = chainId
        self.verifyingContract = verifyingContract
    }
}

/// An EIP-3009 `TransferWithAuthorization` message: `(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)`.
public struct TransferAuthorization: Sendable, Hashable {
    /// The payer (the signer's address, EIP-55).
    public let from: String
    /// The payee (`payTo`, as the server wrote it).
    public let to: String
    /// The amount in atomic units, exactly the offer's amount.
    public let value: AtomicAmount
    /// Unix seconds after which the authorization is valid.
    public let validAfter: UInt64
    /// Unix seconds before which the authorization is valid; after it, it can never settle.
    public let validBefore: UInt64
    /// 32 random bytes.
    public let nonce: [UInt8]

    /// Creates an authorization.
    public init(from: String, to: String, value: AtomicAmount, validAfter: UInt64, validBefore: UInt64, nonce: [UInt8])
    {
        self.from = from
        self.to = to
        self.value = value
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.nonce = nonce
    }

    /// The wire form: every field a string, nonce `0x` + 64 hex.
    public var json: JSONObject {
        [
            "from": .string(from), "to": .string(to), "value": .string(value.decimal),
            "validAfter": .string(String(validAfter)), "validBefore": .string(String(validBefore)),
            "nonce": .string(HexBytes.prefixed(nonce)),
        ]
    }
}

/// What a `Signer` signs: an EIP-3009 transfer authorization under its token's EIP-712 domain.
public struct TransferTypedData: Sendable, Hashable {
    /// The token's domain.
    public let domain: TokenDomain
    /// The message.
    public let message: TransferAuthorization

    /// Creates typed data.
    public init(domain: TokenDomain, message: TransferAuthorization) {
        self.domain = domain
        self.message = message
    }

    /// The standard `eth_signTypedData_v4` JSON: `types`, `primaryType`, `domain`, `message`.
    ///
    /// `chainId` is a JSON number; the `uint256` message fields are decimal strings, as wallets expect.
    public var eip712JSON: JSONValue {
        let domainType: JSONValue = [
            ["name": "name", "type": "string"], ["name": "version", "type": "string"],
            ["name": "chainId", "type": "uint256"], ["name": "verifyingContract", "type": "address"],
        ]
        let transferType: JSONValue = [
            ["name": "from", "type": "address"], ["name": "to", "type": "address"],
            ["name": "value", "type": "uint256"], ["name": "validAfter", "type": "uint256"],
            ["name": "validBefore", "type": "uint256"], ["name": "nonce", "type": "bytes32"],
        ]
        return [
            "types": ["EIP712Domain": domainType, "TransferWithAuthorization": transferType],
            "primaryType": "TransferWithAuthorization",
            "domain": [
                "name": .string(domain.name), "version": .string(domain.version),
                "chainId": .number(JSONNumber(validatedLexeme: String(domain.chainId))),
                "verifyingContract": .string(domain.verifyingContract.text),
            ],
            "message": .object(message.json),
        ]
    }
}
