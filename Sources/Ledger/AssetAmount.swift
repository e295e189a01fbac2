/// Exact conversion between whole-unit decimal strings (`"0.50"`) and integer atomic units.
///
/// Money is never a `Double`: parsing refuses anything it cannot represent exactly.
public enum AssetAmount {
    /// The largest number of decimals accepted for an asset (10^18 still fits in `Int64`).
    public static let maximumDecimals = 18

    /// Converts a whole-unit decimal string to atomic units.
    ///
    /// Accepts `digits` or `digits.digits`; refuses signs, exponents, spaces, a bare `.`, more
    /// fractional digits than the asset has, and values beyond `Int64`.
    /// - Returns: the atomic amount, or a message saying what is wrong.
    public static func parse(_ text: String, decimals: Int) -> Result<Int64, AmountError> {
        guard (0...maximumDecimals).contains(decimals) else {
            return .failure(AmountError("an asset cannot have \(decimals) decimals"))
        }
        let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return .failure(AmountError("'\(text)' has more than one '.'")) }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        func allDigits(_ part: Substring) -> Bool { part.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
        guard !whole.isEmpty, allDigits(whole), allDigits(fraction), parts.count == 1 || !fraction.isEmpty else {
            return .failure(AmountError("'\(text)' is not a decimal amount like \"0.50\""))
        }
        guard fraction.count <= decimals else {
            return .failure(
                AmountError("'\(text)' has \(fraction.count) fractional digits; the asset has only \(decimals)"))
        }
        var value: Int64 = 0
        let digits = Array(whole.utf8) + Array(fraction.utf8) + Array(repeating: 48, count: decimals - fraction.count)
        for digit in digits {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(digit - 48))
            guard !overflow1, !overflow2 else { return .failure(AmountError("'\(text)' is too large")) }
            value = sum
        }
        return .success(value)
    }

    /// Formats atomic units as whole units: at least two fractional digits, trailing zeros beyond them
    /// dropped (`500000` with 6 decimals → `"0.50"`, `1` → `"0.000001"`).
    public static func format(_ atomic: Int64, decimals: Int) -> String {
        let negative = atomic < 0
        var digits = String(atomic.magnitude)
        guard decimals > 0 else { return (negative ? "-" : "") + digits }
        if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
        let split = digits.index(digits.endIndex, offsetBy: -decimals)
        var fraction = String(digits[split...])
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return (negative ? "-" : "") + digits[..<split] + "." + fraction
    }
}

/// Why an amount string was refused.
public struct AmountError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}
