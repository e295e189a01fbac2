/// A minimal JSON value for Cedar's entity and context data.
///
/// Cedar has no dependencies, so it reads JSON itself. Numbers keep their lexeme so that Cedar's strict
/// rules hold (`1.0`, `1e2` and `-0` are not integers); object members keep their order, and duplicate keys
/// are refused.
public indirect enum CedarJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([CedarJSON])
    case object([(String, CedarJSON)])

    public static func == (lhs: CedarJSON, rhs: CedarJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member named `key` of an object.
    public subscript(key: String) -> CedarJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0.unicodeScalars.elementsEqual(key.unicodeScalars) }?.1
    }

    /// Parses RFC 8259 JSON text.
    public static func parse(_ text: String) throws(CedarDataError) -> CedarJSON {
        var reader = JSONReader(bytes: Array(text.utf8))
        return try reader.document()
    }

    /// Parses RFC 8259 JSON from UTF-8 bytes.
    public static func parse(bytes: [UInt8]) throws(CedarDataError) -> CedarJSON {
        var reader = JSONReader(bytes: bytes)
        return try reader.document()
    }

    /// Serialises compactly (object members in their order).
    public var serialized: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let lexeme): return lexeme
        case .string(let value): return CedarJSON.quote(value)
        case .array(let elements): return "[" + elements.map { $0.serialized }.joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { CedarJSON.quote($0.0) + ":" + $0.1.serialized }.joined(separator: ",") + "}"
        }
    }

    /// Quotes a string as JSON.
    public static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Entity, context or JSON data that Cedar refuses.
public struct CedarDataError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable kind.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// Not JSON.
        public static let syntax = Code("json_syntax")
        /// JSON, but not valid Cedar data.
        public static let invalid = Code("invalid_data")
        /// Valid Cedar data using a feature outside the v1 subset (e.g. an `ip` value).
        public static let unsupported = Code("unsupported")
        public var description: String { name }
    }

    /// The kind.
    public let code: Code
    /// What is wrong.
    public let message: String
    /// For `unsupported`: the feature, e.g. `ext:ip`.
    public let feature: String?

    init(_ code: Code, _ message: String, feature: String? = nil) {
        self.code = code
        self.message = message
        self.feature = feature
    }

    public var description: String { message }
}

private struct JSONReader {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func document() throws(CedarDataError) -> CedarJSON {
        let value = try parseValue()
        skipSpace()
        guard index == bytes.count else { throw error("unexpected trailing characters") }
        return value
    }

    func error(_ message: String) -> CedarDataError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(index, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return CedarDataError(.syntax, "JSON \(line):\(column): \(message)")
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func literal(_ word: String, _ value: CedarJSON) throws(CedarDataError) -> CedarJSON {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<(index + expected.count)]) == expected else {
            throw error("invalid literal")
        }
        index += expected.count
        return value
    }

    mutating func parseValue() throws(CedarDataError) -> CedarJSON {
        skipSpace()
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "["):
            depth += 1
            guard depth <= 256 else { throw error("nesting too deep") }
            index += 1
            var elements: [CedarJSON] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array(elements)
            }
            while true {
                elements.append(try parseValue())
                skipSpace()
                guard index < bytes.count else { throw error("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    depth -= 1
                    return .array(elements)
                } else {
                    throw error("expected `,` or `]`")
                }
            }
        case UInt8(ascii: "{"):
            depth += 1
            guard depth <= 256 else { throw error("nesting too deep") }
            index += 1
            var members: [(String, CedarJSON)] = []
            var keys = Set<[UInt8]>()
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try parseString()
                guard keys.insert(Array(key.utf8)).inserted else { throw error("duplicate key `\(key)`") }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected `:`") }
                index += 1
                members.append((key, try parseValue()))
                skipSpace()
                guard index < bytes.count else { throw error("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    depth -= 1
                    return .object(members)
                } else {
                    throw error("expected `,` or `}`")
                }
            }
        default:
            return .number(try parseNumber())
        }
    }

    mutating func parseNumber() throws(CedarDataError) -> String {
        let start = index
        func digit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, digit(bytes[index]) else { throw error("invalid value") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, digit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, digit(bytes[index]) else { throw error("invalid number") }
            while index < bytes.count, digit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, digit(bytes[index]) else { throw error("invalid number") }
            while index < bytes.count, digit(bytes[index]) { index += 1 }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func hex4() throws(CedarDataError) -> UInt32 {
        guard index + 4 <= bytes.count,
            let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
        else { throw error("invalid \\u escape") }
        index += 4
        return value
    }

    mutating func parseString() throws(CedarDataError) -> String {
        index += 1
        var out: [UInt8] = []
        var scalars = String.UnicodeScalarView()
        func flush() {
            if !out.isEmpty {
                scalars.append(contentsOf: String(decoding: out, as: UTF8.self).unicodeScalars)
                out.removeAll(keepingCapacity: true)
            }
        }
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                break
            }
            if byte < 0x20 { throw error("control character in string") }
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw error("unterminated escape") }
            let code = bytes[index]
            index += 1
            switch code {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var value = try hex4()
                if (0xD800...0xDBFF).contains(value) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(value) {
                    throw error("unpaired surrogate")
                }
                guard let scalar = Unicode.Scalar(value) else { throw error("invalid \\u escape") }
                flush()
                scalars.append(scalar)
            default:
                throw error("invalid escape")
            }
        }
        flush()
        return String(scalars)
    }
}
