import Foundation
public import X402

/// Removes the secret values Purser injected into an upstream request from whatever came back.
///
/// An upstream may quote a credential in an error (`401 {"error": "invalid api key <key>"}`) or echo the
/// request headers in a 200 body. Purser put those values there, so it can take them out before any
/// upstream byte becomes a result, a refusal, a trace, a ledger record or a report. Besides the value
/// as sent (`Bearer <token>`), the bare secret and the encodings an echo is likely to use are removed:
/// JSON string escapes (`\/`, `\uXXXX`), percent-encoding, and base64 (standard and URL-safe, at each of
/// the three byte alignments a quoted value can start at).
public struct SecretScrubber: Sendable {
    /// What replaces a secret.
    public static let replacement: [UInt8] = Array("[redacted]".utf8)

    /// Derived encodings shorter than this are not searched: they would match ordinary text.
    static let minimumEncodedLength = 8

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
                if !header.prefix.isEmpty, sent.hasPrefix(header.prefix) {
                    values.append(String(sent.dropFirst(header.prefix.count)))
                }
                // Whatever the prefix, the part after the scheme word is the credential.
                if let space = sent.firstIndex(of: " ") { values.append(String(sent[sent.index(after: space)...])) }
            }
        }
        self.init(values: values)
    }

    /// True when there is nothing to remove.
    public var isEmpty: Bool { patterns.isEmpty }

    /// `bytes` with every occurrence of every pattern replaced.
    public func scrub(_ bytes: [UInt8]) -> [UInt8] {
        var current = bytes
        for pattern in patterns { current = Self.replace(pattern, in: current) }
        return current
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
        // JSON string escapes: the writer's minimal form, `\/` for slashes, and `\u` for everything non-ASCII.
        var minimal = ""
        var slashes = ""
        var ascii = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": minimal += "\\\""; slashes += "\\\""; ascii += "\\\""
            case "\\": minimal += "\\\\"; slashes += "\\\\"; ascii += "\\\\"
            case "/": minimal += "/"; slashes += "\\/"; ascii += "/"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let escaped = "\\u" + hex4(scalar.value)
                    minimal += escaped
                    slashes += escaped
                    ascii += escaped
                } else if scalar.value < 0x80 {
                    minimal.unicodeScalars.append(scalar)
                    slashes.unicodeScalars.append(scalar)
                    ascii.unicodeScalars.append(scalar)
                } else {
                    minimal.unicodeScalars.append(scalar)
                    slashes.unicodeScalars.append(scalar)
                    for unit in String(scalar).utf16 { ascii += "\\u" + hex4(UInt32(unit)) }
                }
            }
        }
        forms += [minimal, slashes, ascii].map { Array($0.utf8) }
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

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func hex2(_ value: UInt8) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
