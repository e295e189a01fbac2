import X402

/// The few ABI pieces settlement evidence needs: 32-byte words, addresses, quantities, and the EIP-3009
/// selectors and event topics (`../shared/reference/x402.md` §10a; checked against Keccak-256 in tests).
public enum ABI {
    /// `authorizationState(address,bytes32)`.
    public static let authorizationStateSelector = "0xe94a0102"
    /// `AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)`.
    public static let authorizationUsedTopic = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
    /// `Transfer(address indexed from, address indexed to, uint256 value)`.
    public static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

    /// 20 address bytes from `0x` + 40 hex, or nil.
    public static func address(_ text: String) -> [UInt8]? {
        guard let bytes = HexBytes.decodePrefixed(text), bytes.count == 20, text.hasPrefix("0x") else { return nil }
        return bytes
    }

    /// 32 bytes from `0x` + 64 hex, or nil.
    public static func word(_ text: String) -> [UInt8]? {
        guard let bytes = HexBytes.decodePrefixed(text), bytes.count == 32, text.hasPrefix("0x") else { return nil }
        return bytes
    }

    /// An address left-padded to a 32-byte word (as in calldata and indexed topics).
    public static func padded(_ address: [UInt8]) -> [UInt8] {
        [UInt8](repeating: 0, count: 32 - address.count) + address
    }

    /// Calldata for `authorizationState(authorizer, nonce)`.
    public static func authorizationStateCall(authorizer: [UInt8], nonce: [UInt8]) -> String {
        authorizationStateSelector + HexBytes.encode(padded(authorizer) + nonce)
    }

    /// A JSON-RPC quantity (`0x0`, or `0x` + hex digits without a leading zero) as UInt64; nil when malformed
    /// or too large. Digits only: `UInt64(_:radix:)` alone would also take a sign (`0x+1`, `0x-0`).
    public static func quantity(_ text: String) -> UInt64? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 3, utf8.count <= 18, utf8[0] == 0x30, utf8[1] == 0x78,
            utf8.count == 3 || utf8[2] != 0x30
        else { return nil }
        var value: UInt64 = 0
        for digit in utf8[2...] {
            guard let nibble = HexBytes.decode([0x30, digit])?.first else { return nil }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    /// A JSON-RPC quantity for `value`.
    public static func quantity(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// The Boolean an ABI-encoded `bool` return word holds; nil unless it is exactly 0 or 1.
    public static func bool(_ word: [UInt8]) -> Bool? {
        guard word.count == 32, word[0..<31].allSatisfy({ $0 == 0 }), word[31] <= 1 else { return nil }
        return word[31] == 1
    }

    /// The decimal value of a 32-byte big-endian unsigned word.
    public static func decimal(_ word: [UInt8]) -> String {
        var digits: [UInt8] = [0]  // little-endian base-10 digits
        for byte in word {
            var carry = Int(byte)
            for index in digits.indices {
                let value = Int(digits[index]) * 256 + carry
                digits[index] = UInt8(value % 10)
                carry = value / 10
            }
            while carry > 0 {
                digits.append(UInt8(carry % 10))
                carry /= 10
            }
        }
        while digits.count > 1, digits.last == 0 { digits.removeLast() }
        return String(digits.reversed().map { Character(String($0)) })
    }
}
