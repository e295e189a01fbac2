public import EVMSigning
public import JSONCore

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
    /// The token's domain (EVMSigning's model: an offer's `extra.name`, `extra.version`, chain id and `asset`).
    public let domain: EIP712Domain
    /// The message.
    public let message: TransferAuthorization

    /// Creates typed data.
    public init(domain: EIP712Domain, message: TransferAuthorization) {
        self.domain = domain
        self.message = message
    }

    /// The standard `eth_signTypedData_v4` JSON: `types`, `primaryType`, `domain`, `message`.
    ///
    /// `chainId` is a JSON number; the `uint256` message fields are decimal strings, as wallets expect;
    /// `verifyingContract` is the EIP-55 form.
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
                "chainId": .number(JSONNumber(validatedLexeme: domain.chainID.decimalString)),
                "verifyingContract": .string(domain.verifyingContract.checksummed),
            ],
            "message": .object(message.json),
        ]
    }
}
