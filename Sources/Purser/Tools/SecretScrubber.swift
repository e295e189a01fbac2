import FoundationEssentials
public import X402

/// Removes the secret values Purser injected into an upstream request from whatever came back.
///
/// An upstream may quote a credential in an error (`401 {"error": "invalid api key <key>"}`) or echo the
/// request headers in a 200 body. Purser put those values there, so it can take them out before any
/// upstream byte becomes a result, a refusal, a trace, a ledger record or a report. Besides the value
/// as sent (`Bearer <token>`), the bare secret and the encodings an echo is likely to use are removed:
/// JSON string escapes, percent-encoding, HTML escapes, and base64 (standard and URL-safe, at each of the
/// three byte alignments a quoted value can start at).
///
/// JSON escapes are also undone rather than only guessed: encoders differ in what they escape (Go writes
/// `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`; PHP writes `\/` and `\u00E9`; some escape every
/// character), so every string literal with an escape is decoded, scanned for every form above, and
/// written back (minimally escaped) only when it held one. Literals holding JSON are decoded again, up to
/// `jsonNestingDepth` levels (an echoed request body inside an echoed response).
public struct SecretScrubber: Sendable {
    /// What replaces a secret.
    public static let replacement: [UInt8] = Array("[redacted]".utf8)

    /// Derived encodings shorter than this are not searched: they would match ordinary text.
    static let minimumEncodedLength = 8

    /// How many levels of JSON-in-a-JSON-string are decoded.
    static let jsonNestingDepth = 3

    /// Byte patterns to remove, longest first so a longer form wins over a form it contains.
    let patterns: [[UInt8]]

    /// Creates a scrubber for `values`: each value as sent (`Bearer abc`) and the secret alone (`abc`).
    /// Empty values are ignored.
    public init(values: [String]) {
        var forms = Set<[UInt8]>()
        for value in values where !value.isEmpty {
            forms.insert(Array(value.utf8))
            for encoded in Self.encodings(of: value) where encoded.count >= Self.minimumEncodedLength {
                forms.insert(encoded)
            }
        }
        patterns = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
    }

    /// The scrubber for the secret headers `manifest` declares, with the values `request` carries.
    public init(secretHeaders: [(name: String, secret: String, prefix: String)], request: HTTPRequest) {
        var values: [String] = []
        for header in secretHeaders {
            for sent in request.headers.values(for: header.name) {
                values.append(sent)
                // Split on bytes, as the wire carries them: as Characters, a secret starting with a combining
                // mark glues itself to the prefix's space, and neither the prefix nor the space is found.
                let bytes = Array(sent.utf8)
                let prefix = Array(header.prefix.utf8)
                if !prefix.isEmpty, bytes.starts(with: prefix) {
                    values.append(String(decoding: bytes[prefix.count...], as: UTF8.self))
                }
                // Whatever the prefix, the part after the scheme word is the credential.
                if let space = bytes.firstIndex(of: UInt8(ascii: " ")) {
                    values.append(String(decoding: bytes[(space + 1)...], as: UTF8.self))
                }
            }
        }
        self.init(values: values)
    }

    /// True when there is nothing to remove.
    public var isEmpty: Bool { patterns.isEmpty }

    /// `bytes` with every occurrence of every pattern replaced, in the bytes as they are and inside every
    /// JSON string literal once its escapes are undone.
    public func scrub(_ bytes: [UInt8]) -> [UInt8] {
        guard !isEmpty else { return bytes }
        return replacePatterns(scrubJSONStrings(bytes, depth: Self.jsonNestingDepth))
    }

    private func replacePatterns(_ bytes: [UInt8]) -> [UInt8] {
        var current = bytes
        for pattern in patterns { current = Self.replace(pattern, in: current) }
        return current
    }

    /// `bytes` with each string literal that has an escape decoded, scrubbed and re-encoded if it held a
    /// secret. The scan is lexical (`"` to the next unescaped `"`), so it also covers JSON quoted inside
    /// text that is not JSON as a whole; a literal with an invalid escape is left to the byte patterns.
    private func scrubJSONStrings(_ bytes: [UInt8], depth: Int) -> [UInt8] {
        // Without a backslash, every literal's bytes are its content: the byte patterns see it as it is.
        guard depth > 0, bytes.contains(Self.backslash) else { return bytes }
        var output: [UInt8] = []
        var copied = 0
        var index = 0
        while index < bytes.count {
            guard bytes[index] == Self.quote else {
                index += 1
                continue
            }
            var end = index + 1
            var escaped = false
            while end < bytes.count, bytes[end] != Self.quote {
                if bytes[end] == Self.backslash {
                    escaped = true
                    end += 2
                } else {
                    end += 1
                }
            }
            // A body cut off inside a literal: its rest is the literal's content.
            let closed = end < bytes.count
            end = min(end, bytes.count)
            if escaped, let decoded = Self.decodeJSONString(bytes[(index + 1)..<end]) {
                let scrubbed = replacePatterns(scrubJSONStrings(decoded, depth: depth - 1))
                if scrubbed != decoded {
                    output.append(contentsOf: bytes[copied...index])
                    output.append(contentsOf: Self.encodeJSONString(scrubbed))
                    if closed { output.append(Self.quote) }
                    copied = closed ? end + 1 : end
                }
            }
            index = end + 1
        }
        guard copied > 0 else { return bytes }
        if copied < bytes.count { output.append(contentsOf: bytes[copied...]) }
        return output
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// The UTF-8 content of a JSON string literal's body (between the quotes); nil on an invalid escape.
    /// A lone surrogate becomes U+FFFD (no secret holds one: Swift strings cannot).
    static func decodeJSONString(_ body: ArraySlice<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(body.count)
        var index = body.startIndex
        func unit(at position: Int) -> UInt32? {
            guard position + 4 <= body.endIndex else { return nil }
            var value: UInt32 = 0
            for byte in body[position..<(position + 4)] {
                guard let digit = hexValue(byte) else { return nil }
                value = value << 4 | digit
            }
            return value
        }
        while index < body.endIndex {
            let byte = body[index]
            guard byte == backslash else {
                output.append(byte)
                index += 1
                continue
            }
            guard index + 1 < body.endIndex else { return nil }
            let kind = body[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(kind)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard var value = unit(at: index) else { return nil }
                index += 4
                if (0xD800..<0xDC00).contains(value), index + 6 <= body.endIndex, body[index] == backslash,
                    body[index + 1] == UInt8(ascii: "u"), let low = unit(at: index + 2), (0xDC00..<0xE000).contains(low)
                {
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
                output.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: return nil
            }
        }
        return output
    }

    /// `content` as the body of a JSON string literal (no quotes): only `"`, `\` and controls escaped.
    static func encodeJSONString(_ content: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        for byte in content {
            switch byte {
            case quote, backslash: output += [backslash, byte]
            case 0x0A: output += Array("\\n".utf8)
            case 0x0D: output += Array("\\r".utf8)
            case 0x09: output += Array("\\t".utf8)
            case ..<0x20: output += Array(("\\u" + hex4(UInt32(byte))).utf8)
            default: output.append(byte)
            }
        }
        return output
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// `text` with every occurrence of every pattern replaced.
    public func scrub(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let scrubbed = scrub(bytes)
        return scrubbed == bytes ? text : String(decoding: scrubbed, as: UTF8.self)
    }

    /// `response` with its body and header values scrubbed.
    public func scrub(_ response: HTTPResponse) -> HTTPResponse {
        guard !isEmpty else { return response }
        var headers = HTTPHeaders()
        for field in response.headers { headers.add(name: field.name, value: scrub(field.value)) }
        return HTTPResponse(status: response.status, headers: headers, body: scrub(response.body))
    }

    static func replace(_ pattern: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return bytes }
        var output: [UInt8] = []
        var copied = 0
        var index = 0
        let last = bytes.count - pattern.count
        while index <= last {
            if bytes[index] == pattern[0], bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                output.append(contentsOf: bytes[copied..<index])
                output.append(contentsOf: replacement)
                index += pattern.count
                copied = index
            } else {
                index += 1
            }
        }
        guard copied > 0 else { return bytes }
        output.append(contentsOf: bytes[copied...])
        return output
    }

    /// The encoded forms of `value` an upstream echo is likely to contain.
    static func encodings(of value: String) -> [[UInt8]] {
        let raw = Array(value.utf8)
        var forms: [[UInt8]] = []
        // JSON string escapes as encoders write them, for literals the decoding pass cannot see whole (a body
        // cut off inside a string): `\/` or `/`, `<>&` and U+2028/9 as `\u` (Go) or raw, non-ASCII as `\u`
        // or raw, `\u` digits in either case.
        for options in 0..<16 {
            forms.append(
                Array(
                    jsonEscaped(
                        value, slash: options & 1 != 0, htmlSafe: options & 2 != 0, asciiOnly: options & 4 != 0,
                        upperHex: options & 8 != 0
                    ).utf8))
        }
        // HTML escapes, as in an error page: `&amp;`, `&lt;`, `&gt;`, and the quotes as entities or numbers.
        // Scalar by scalar, as escapers work: a `Character` "&" followed by a combining mark is not "&".
        if value.unicodeScalars.contains(where: { "&<>\"'".unicodeScalars.contains($0) }) {
            for quote in ["&quot;", "&#34;"] {
                for apostrophe in ["&#39;", "&#x27;"] {
                    var html = ""
                    for scalar in value.unicodeScalars {
                        switch scalar {
                        case "&": html += "&amp;"
                        case "<": html += "&lt;"
                        case ">": html += "&gt;"
                        case "\"": html += quote
                        case "'": html += apostrophe
                        default: html.unicodeScalars.append(scalar)
                        }
                    }
                    forms.append(Array(html.utf8))
                }
            }
        }
        // Percent-encoding, as in a query string or a form body: RFC 3986 (unreserved kept) and strict
        // (only letters and digits kept), each with both hex cases.
        for keepPunctuation in [true, false] {
            var upper = ""
            var lower = ""
            for byte in raw {
                let alphanumeric =
                    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                let unreserved = byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
                if alphanumeric || (keepPunctuation && unreserved) {
                    upper.unicodeScalars.append(Unicode.Scalar(byte))
                    lower.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = hex2(byte)
                    upper += "%" + digits.uppercased()
                    lower += "%" + digits
                }
            }
            forms += [Array(upper.utf8), Array(lower.utf8)]
        }
        // Base64 at each alignment: only the characters that depend on the value's bytes alone.
        for offset in 0..<3 {
            let padded = [UInt8](repeating: 0, count: offset) + raw
            let encoded = Array(Data(padded).base64EncodedString().utf8)
            let skip = offset == 0 ? 0 : 4
            let complete = (padded.count / 3) * 4
            guard complete > skip else { continue }
            let core = Array(encoded[skip..<complete])
            forms.append(core)
            forms.append(core.map { $0 == 0x2B ? 0x2D : $0 == 0x2F ? 0x5F : $0 })
        }
        return forms
    }

    /// `value` as the inside of a JSON string literal, with one encoder's choices.
    private static func jsonEscaped(_ value: String, slash: Bool, htmlSafe: Bool, asciiOnly: Bool, upperHex: Bool)
        -> String
    {
        func unit(_ code: UInt32) -> String {
            let digits = hex4(code)
            return "\\u" + (upperHex ? digits.uppercased() : digits)
        }
        var text = ""
        let htmlUnsafe: Set<Unicode.Scalar> = ["<", ">", "&", "\u{2028}", "\u{2029}"]
        for scalar in value.unicodeScalars {
            if htmlSafe && htmlUnsafe.contains(scalar) {
                text += unit(scalar.value)
                continue
            }
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "/": text += slash ? "\\/" : "/"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    text += unit(scalar.value)
                } else if scalar.value >= 0x80 && asciiOnly {
                    for code in String(scalar).utf16 { text += unit(UInt32(code)) }
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func hex2(_ value: UInt8) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
