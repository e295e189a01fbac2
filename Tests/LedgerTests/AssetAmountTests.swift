import Ledger
import Testing

@Suite("AssetAmount: exact decimal strings ↔ atomic units")
struct AssetAmountTests {
    @Test(
        "whole-unit strings convert exactly",
        arguments: [
            ("0.50", 6, Int64(500_000)), ("1", 6, 1_000_000), ("0.000001", 6, 1), ("12.345678", 6, 12_345_678),
            ("0", 6, 0), ("7", 0, 7), ("9223372036854.775807", 6, Int64.max),
        ])
    func parses(text: String, decimals: Int, expected: Int64) throws {
        #expect(try AssetAmount.parse(text, decimals: decimals).get() == expected)
    }

    @Test(
        "anything inexact or malformed is refused",
        arguments: [
            ("0.0000001", 6), ("-1", 6), ("+1", 6), ("1e3", 6), (" 1", 6), ("1.", 6), (".5", 6), ("", 6),
            ("1.2.3", 6), ("0x10", 6), ("9223372036854.775808", 6), ("1.5", 0), ("1,5", 6),
        ])
    func refuses(text: String, decimals: Int) {
        #expect(throws: AmountError.self) { try AssetAmount.parse(text, decimals: decimals).get() }
    }

    @Test("too many fractional digits names the asset's decimals")
    func fractionMessage() {
        guard case .failure(let error) = AssetAmount.parse("0.1234567", decimals: 6) else {
            Issue.record("accepted")
            return
        }
        #expect(error.message.contains("7 fractional digits"))
        #expect(error.message.contains("only 6"))
    }

    @Test(
        "formatting keeps two decimals and every significant digit",
        arguments: [
            (Int64(500_000), 6, "0.50"), (1, 6, "0.000001"), (1_000_000, 6, "1.00"), (12_345_678, 6, "12.345678"),
            (0, 6, "0.00"), (5, 0, "5"), (-250_000, 6, "-0.25"),
        ])
    func formats(atomic: Int64, decimals: Int, expected: String) {
        #expect(AssetAmount.format(atomic, decimals: decimals) == expected)
    }
}
