import EVMSigning
import Testing

@Suite("UInt256 decimal parsing and encoding")
struct UInt256Tests {
    static let maxDecimal = "115792089237316195423570985008687907853269984665640564039457584007913129639935"

    @Test(
        "canonical decimals round-trip",
        arguments: ["0", "1", "10000", "18446744073709551615", "18446744073709551616", "1900000000", maxDecimal])
    func roundTrip(text: String) throws {
        let value = try #require(UInt256(decimal: text))
        #expect(value.decimalString == text)
    }

    @Test(
        "non-canonical or out-of-range decimals are refused",
        arguments: [
            "", "-1", "+1", "01", "00", " 1", "1 ", "1.0", "1e3", "0x10", "1_000", "١٢٣",
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
            "1000000000000000000000000000000000000000000000000000000000000000000000000000000",
        ])
    func refused(text: String) {
        #expect(UInt256(decimal: text) == nil)
    }

    @Test("big-endian bytes: 2^64 and the maximum")
    func bytes() throws {
        let twoTo64 = try #require(UInt256(decimal: "18446744073709551616"))
        #expect(twoTo64.bigEndianBytes == [UInt8](repeating: 0, count: 23) + [1] + [UInt8](repeating: 0, count: 8))
        #expect(UInt256.max.bigEndianBytes == [UInt8](repeating: 0xff, count: 32))
        #expect(UInt256(bigEndianBytes: twoTo64.bigEndianBytes) == twoTo64)
        #expect(UInt256(bigEndianBytes: [1, 2, 3]) == nil)
    }

    @Test("ordering follows the numeric value")
    func ordering() throws {
        let small = try #require(UInt256(decimal: "18446744073709551615"))
        let large = try #require(UInt256(decimal: "18446744073709551616"))
        #expect(small < large)
        #expect(!(large < small))
        #expect(UInt256.zero < small)
    }
}
