/// Standard base64 (RFC 4648 §4, alphabet `A–Z a–z 0–9 + /`, `=` padding), as x402 headers use it.
///
/// Decoding is strict: padding is required, no whitespace, no base64url characters, and the unused
/// bits of the last group must be zero, so every value has exactly one accepted encoding.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    /// Encodes bytes with padding.
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(group >> 18 & 63)])
            output.append(alphabet[Int(group >> 12 & 63)])
            output.append(alphabet[Int(group >> 6 & 63)])
            output.append(alphabet[Int(group & 63)])
            index += 3
        }
        let remaining = input.count - index
        if remaining == 1 {
            let group = UInt32(input[index]) << 16
            output.append(alphabet[Int(group >> 18 & 63)])
            output.append(alphabet[Int(group >> 12 & 63)])
            output.append(contentsOf: "==".utf8)
        } else if remaining == 2 {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(alphabet[Int(group >> 18 & 63)])
            output.append(alphabet[Int(group >> 12 & 63)])
            output.append(alphabet[Int(group >> 6 & 63)])
            output.append(UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes strict padded standard base64.
    ///
    /// - Throws: `X402Error` with code `invalidBase64` naming the first problem.
    public static func decode(_ text: String) throws(X402Error) -> [UInt8] {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else {
            throw X402Error(.invalidBase64, "length \(input.count) is not a multiple of 4 (padding is required)")
        }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            // Four 6-bit values, accumulated in one word (no per-group array).
            var group: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                group <<= 6
                if byte == UInt8(ascii: "=") {
                    // Padding only at the end of the last group, in positions 3 and 4.
                    guard isLast, offset >= 2 else {
                        throw X402Error(.invalidBase64, "misplaced '=' at offset \(index + offset)")
                    }
                    padding += 1
                    continue
                }
                guard padding == 0 else {
                    throw X402Error(.invalidBase64, "data after '=' at offset \(index + offset)")
                }
                let value = decodeTable[Int(byte)]
                guard value >= 0 else {
                    throw X402Error(
                        .invalidBase64, "character outside the standard alphabet at offset \(index + offset)")
                }
                group |= UInt32(value)
            }
            output.append(UInt8(group >> 16 & 0xFF))
            if padding < 2 { output.append(UInt8(group >> 8 & 0xFF)) }
            if padding < 1 { output.append(UInt8(group & 0xFF)) }
            // Non-canonical encodings (non-zero bits hidden under the padding) are refused.
            if padding == 2 && group & 0xFFFF != 0 || padding == 1 && group & 0xFF != 0 {
                throw X402Error(.invalidBase64, "non-zero padding bits in the last group")
            }
            index += 4
        }
        return output
    }
}
