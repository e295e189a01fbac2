import Glibc

/// The few text layouts the CLI and the demo print, formerly `String(format:)` and `NSString`'s `padding`,
/// which need full Foundation (FoundationInternationalization and ICU, linked into `purser`).
package enum TextFormat {
    /// `value` with exactly `digits` decimals, as `printf("%.*f")` writes it (C locale, correctly rounded).
    package static func fixed(_ value: Double, digits: Int) -> String {
        let format = "%.\(max(0, min(digits, 20)))f"
        var buffer = [CChar](repeating: 0, count: 64)
        var needed = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        if needed >= buffer.count {
            buffer = [CChar](repeating: 0, count: Int(needed) + 1)
            needed = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        }
        guard needed >= 0 else { return String(value) }
        return String(decoding: buffer.prefix(Int(needed)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `text` cut or filled with spaces to exactly `width` characters (as `padding(toLength:withPad:" "…)`).
    package static func padded(_ text: String, to width: Int) -> String {
        let count = text.count
        if count >= width { return String(text.prefix(max(0, width))) }
        return text + String(repeating: " ", count: width - count)
    }
}
