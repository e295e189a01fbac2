import EVMSigning

/// An EVM network as x402 names it: CAIP-2 `eip155:<chainId>` in v2, a legacy name in v1.
public struct EVMNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The EIP-155 chain id.
    public let chainId: UInt64

    /// Creates a network from its chain id.
    public init(chainId: UInt64) {
        self.chainId = chainId
    }

    /// The CAIP-2 identifier, e.g. `eip155:84532`.
    public var caip2: String { "eip155:\(chainId)" }

    public var description: String { caip2 }

    /// v1 network names and their chain ids (the x402 SDK's legacy table).
    public static let v1Names: [String: UInt64] = [
        "base": 8453, "base-sepolia": 84532, "ethereum": 1, "polygon": 137, "polygon-amoy": 80002,
        "avalanche": 43114, "avalanche-fuji": 43113, "abstract": 2741, "abstract-testnet": 11124,
        "iotex": 4689, "sei": 1329, "sei-testnet": 1328, "peaq": 3338, "story": 1513, "educhain": 656476,
        "skale-base-sepolia": 1_444_673_419, "megaeth": 4326, "monad": 143, "monad-testnet": 10143,
        "stable": 988, "stable-testnet": 2201, "celo": 42220, "flare": 14,
    ]

    /// Parses a v2 CAIP-2 id `eip155:<decimal chain id>`; nil for any other namespace or a malformed id.
    public static func parseCAIP2(_ text: String) -> EVMNetwork? {
        guard text.hasPrefix("eip155:") else { return nil }
        let reference = text.dropFirst("eip155:".count)
        guard let chainId = canonicalUInt64(reference), chainId > 0 else { return nil }
        return EVMNetwork(chainId: chainId)
    }

    /// Looks up a v1 network name (exact, case-sensitive as the SDK is).
    public static func parseV1Name(_ text: String) -> EVMNetwork? {
        v1Names[text].map { EVMNetwork(chainId: $0) }
    }

    /// The v1 name of this network, if it has one.
    public var v1Name: String? {
        Self.v1Names.first { $0.value == chainId }?.key
    }

    /// A decimal integer without sign, leading zeros or other characters, fitting in `UInt64`.
    static func canonicalUInt64(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        if text.utf8.count > 1, text.utf8.first == 0x30 { return nil }
        return UInt64(text)
    }
}

/// A token amount in atomic units, held as its canonical decimal string (never a floating-point value).
///
/// Canonical means ASCII digits only, no sign, no leading zeros, at most 2^256 − 1.
public struct AtomicAmount: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The canonical decimal digits, e.g. `"10000"`.
    public let decimal: String

    private static let uint256Max = "115792089237316195423570985008687907853269984665640564039457584007913129639935"

    /// Parses a canonical decimal integer string; nil for anything else (signs, spaces, `1e4`, `1.0`,
    /// leading zeros, hex, values above 2^256 − 1).
    public init?(_ text: String) {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= 78, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if bytes.count > 1, bytes.first == 0x30 { return nil }
        if bytes.count == 78, !Self.lessOrEqualSameLength(text, Self.uint256Max) { return nil }
        self.decimal = text
    }

    /// Creates an amount from an integer.
    public init(_ value: UInt64) {
        self.decimal = String(value)
    }

    /// True for zero.
    public var isZero: Bool { decimal == "0" }

    public var description: String { decimal }

    public static func < (lhs: AtomicAmount, rhs: AtomicAmount) -> Bool {
        let left = lhs.decimal.utf8
        let right = rhs.decimal.utf8
        if left.count != right.count { return left.count < right.count }
        return left.lexicographicallyPrecedes(right)
    }

    private static func lessOrEqualSameLength(_ lhs: String, _ rhs: String) -> Bool {
        !rhs.utf8.lexicographicallyPrecedes(lhs.utf8)
    }
}

/// A 20-byte EVM address, parsed from `0x` + 40 hex digits.
///
/// Mixed-case input must carry a valid EIP-55 checksum; that check needs Keccak and is applied where
/// addresses are validated for payment (`EVMAddressCheck`). Equality ignores case.
public struct EVMAddressText: Sendable, Hashable, CustomStringConvertible {
    /// The address exactly as received.
    public let text: String
    /// The 20 bytes.
    public let bytes: [UInt8]

    /// Parses `0x` + 40 hex digits; nil otherwise.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 42, utf8[0] == 0x30, utf8[1] == 0x78 else { return nil }
        guard let bytes = HexBytes.decode(utf8[2...]) else { return nil }
        self.text = text
        self.bytes = bytes
    }

    public var description: String { text }

    public static func == (lhs: EVMAddressText, rhs: EVMAddressText) -> Bool { lhs.bytes == rhs.bytes }

    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

/// Lower-case hexadecimal helpers; encoding is EVMSigning's `Hex` (one encoder for the package).
public enum HexBytes {
    /// Lower-case hex without prefix.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Hex.encode(bytes)
    }

    /// `0x` + lower-case hex.
    public static func prefixed<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Hex.prefixed(bytes)
    }

    /// Decodes hex digits (either case, no prefix); nil on an odd length or a non-hex character.
    public static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        guard text.count % 2 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 2)
        var high: UInt8?
        for byte in text {
            guard let value = nibble(byte) else { return nil }
            if let first = high {
                output.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return output
    }

    /// Decodes `0x`-prefixed (or bare) hex of any case.
    public static func decodePrefixed(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        if utf8.count >= 2, utf8[0] == 0x30, utf8[1] == 0x78 || utf8[1] == 0x58 {
            return decode(utf8[2...])
        }
        return decode(utf8)
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x61...0x66: return byte - 0x61 + 10
        case 0x41...0x46: return byte - 0x41 + 10
        default: return nil
        }
    }
}
