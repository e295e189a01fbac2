/// An unsigned 256-bit integer, the EVM `uint256`.
///
/// Parsing is strict because these values are money and authorisation windows: see ``init(decimal:)``.
public struct UInt256: Sendable, Hashable, Comparable, CustomStringConvertible {
    // Little-endian 64-bit limbs: value = w0 + w1·2^64 + w2·2^128 + w3·2^192.
    var w0: UInt64
    var w1: UInt64
    var w2: UInt64
    var w3: UInt64

    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Zero.
    public static let zero = UInt256(0)
    /// 2^256 − 1.
    public static let max = UInt256(w0: .max, w1: .max, w2: .max, w3: .max)

    /// Creates a value from a machine integer.
    public init(_ value: UInt64) {
        self.init(w0: value, w1: 0, w2: 0, w3: 0)
    }

    /// Parses a canonical decimal string: ASCII digits only, no sign, no `+`, no spaces, no leading zeros
    /// (except `"0"` itself), not empty, at most 2^256 − 1. Returns nil for anything else.
    public init?(decimal: String) {
        let characters = Array(decimal.utf8)
        guard !characters.isEmpty, characters.count <= 78 else { return nil }
        if characters.count > 1 && characters[0] == UInt8(ascii: "0") { return nil }
        var value = UInt256.zero
        for character in characters {
            guard character >= UInt8(ascii: "0"), character <= UInt8(ascii: "9") else { return nil }
            guard let next = value.multipliedAdding(factor: 10, addend: UInt64(character - UInt8(ascii: "0")))
            else { return nil }
            value = next
        }
        self = value
    }

    /// Interprets exactly 32 big-endian bytes; nil for any other length.
    public init?(bigEndianBytes bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.init(w0: Self.load(bytes, 24), w1: Self.load(bytes, 16), w2: Self.load(bytes, 8), w3: Self.load(bytes, 0))
    }

    /// The value in decimal, without leading zeros.
    public var decimalString: String {
        if self == .zero { return "0" }
        var chunks: [UInt64] = []
        var rest = self
        while rest != .zero {
            let (quotient, remainder) = rest.dividedReportingRemainder(by: 10_000_000_000_000_000_000)
            chunks.append(remainder)
            rest = quotient
        }
        var text = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 19 - digits.count) + digits
        }
        return text
    }

    /// The 32-byte big-endian encoding (the ABI encoding of a `uint256`).
    public var bigEndianBytes: [UInt8] {
        // Written in place: no temporary array of limbs (this runs several times per signature).
        [UInt8](unsafeUninitializedCapacity: 32) { bytes, count in
            let raw = UnsafeMutableRawBufferPointer(bytes)
            raw.storeBytes(of: w3.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: w2.bigEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: w1.bigEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: w0.bigEndian, toByteOffset: 24, as: UInt64.self)
            count = 32
        }
    }

    public var description: String { decimalString }

    public static func < (lhs: UInt256, rhs: UInt256) -> Bool {
        if lhs.w3 != rhs.w3 { return lhs.w3 < rhs.w3 }
        if lhs.w2 != rhs.w2 { return lhs.w2 < rhs.w2 }
        if lhs.w1 != rhs.w1 { return lhs.w1 < rhs.w1 }
        return lhs.w0 < rhs.w0
    }

    static func load(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<(offset + 8) { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    /// self·factor + addend, or nil on overflow past 2^256 − 1.
    private func multipliedAdding(factor: UInt64, addend: UInt64) -> UInt256? {
        var carry = addend
        var limbs = [w0, w1, w2, w3]
        for index in 0..<4 {
            let product = limbs[index].multipliedFullWidth(by: factor)
            let (low, overflow) = product.low.addingReportingOverflow(carry)
            limbs[index] = low
            carry = product.high &+ (overflow ? 1 : 0)
        }
        guard carry == 0 else { return nil }
        return UInt256(w0: limbs[0], w1: limbs[1], w2: limbs[2], w3: limbs[3])
    }

    private func dividedReportingRemainder(by divisor: UInt64) -> (UInt256, UInt64) {
        var remainder: UInt64 = 0
        var limbs = [w3, w2, w1, w0]
        for index in 0..<4 {
            let (quotient, rest) = divisor.dividingFullWidth((remainder, limbs[index]))
            limbs[index] = quotient
            remainder = rest
        }
        return (UInt256(w0: limbs[3], w1: limbs[2], w2: limbs[1], w3: limbs[0]), remainder)
    }
}
