/// A 20-byte Ethereum account address.
public struct EthereumAddress: Sendable, Hashable, CustomStringConvertible {
    /// The 20 address bytes.
    public let bytes: [UInt8]

    /// Wraps exactly 20 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 20 else { return nil }
        self.bytes = bytes
    }

    /// Parses `0x` followed by 40 hex digits. All-lower-case and all-upper-case digits are accepted as they
    /// are; mixed case must be the exact EIP-55 checksum, otherwise the address is refused (nil).
    public init?(hex: String) {
        let characters = Array(hex.utf8)
        guard characters.count == 42, characters[0] == UInt8(ascii: "0"), characters[1] == UInt8(ascii: "x")
        else { return nil }
        let digits = String(decoding: characters[2...], as: UTF8.self)
        guard let decoded = Hex.decode(digits), decoded.count == 20 else { return nil }
        self.bytes = decoded
        let hasLower = characters[2...].contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f") }
        let hasUpper = characters[2...].contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") }
        if hasLower && hasUpper && checksummed != hex { return nil }
    }

    /// The address of an uncompressed public key: the last 20 bytes of Keccak-256(x‖y).
    init(publicKey: AffinePoint) {
        self.bytes = Array(Keccak256.hash(publicKey.uncompressedWithoutPrefix)[12...])
    }

    /// `0x` + 40 lower-case hex digits.
    public var lowercased: String { "0x" + Hex.encode(bytes) }

    /// The EIP-55 mixed-case checksum form, `0x…`.
    public var checksummed: String {
        let lower = Array(Hex.encode(bytes).utf8)
        let hash = Keccak256.hash(lower)
        var out: [UInt8] = Array("0x".utf8)
        for (index, character) in lower.enumerated() {
            let nibble = index % 2 == 0 ? hash[index / 2] >> 4 : hash[index / 2] & 0x0f
            if character >= UInt8(ascii: "a") && nibble >= 8 {
                out.append(character - 32)
            } else {
                out.append(character)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { checksummed }
}
