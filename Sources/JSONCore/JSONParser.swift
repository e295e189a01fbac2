/// A position in a source text: 1-based line and column (columns count Unicode scalars).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// 1-based line.
    public var line: Int
    /// 1-based column, in Unicode scalars.
    public var column: Int

    /// Creates a location.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// A JSON syntax error with the place it was found.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong, in words.
    public var message: String

    /// Creates an error.
    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// Where each value of a parsed document starts, keyed by JSON Pointer (RFC 6901), e.g. `/upstream/url`.
public struct JSONLocations: Sendable {
    fileprivate var table: [String: SourceLocation] = [:]

    /// The location of the value at `pointer`, or of its nearest parent that has one.
    public func location(of pointer: String) -> SourceLocation {
        var current = pointer
        while true {
            if let found = table[current] { return found }
            guard let slash = current.lastIndex(of: "/") else { return SourceLocation(line: 1, column: 1) }
            current = String(current[..<slash])
        }
    }

    /// Escapes one reference token for use in a JSON Pointer.
    public static func escape(_ token: String) -> String {
        var escaped = ""
        for character in token {
            switch character {
            case "~": escaped += "~0"
            case "/": escaped += "~1"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// Strict where it matters for money and policy: duplicate keys, unpaired surrogates, invalid UTF-8,
/// trailing garbage and excessive nesting are errors with a line and column.
public struct JSONParser {
    /// The deepest nesting accepted; deeper input is refused rather than risking the stack.
    public static let maximumDepth = 256

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var recordLocations: Bool
    private var locations = JSONLocations()

    private init(bytes: [UInt8], recordLocations: Bool) {
        self.bytes = bytes
        self.recordLocations = recordLocations
    }

    /// Parses one JSON document.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses one JSON document from UTF-8 bytes.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, recordLocations: false)
        return try parser.document()
    }

    /// Parses one JSON document and records where every value starts, for file:line:col diagnostics.
    public static func parseWithLocations(_ bytes: [UInt8]) throws(JSONParseError) -> (JSONValue, JSONLocations) {
        var parser = JSONParser(bytes: bytes, recordLocations: true)
        let value = try parser.document()
        return (value, parser.locations)
    }

    private mutating func document() throws(JSONParseError) -> JSONValue {
        // A UTF-8 byte order mark is tolerated at the very start only.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            index = 3
            lineStart = 3
        }
        skipWhitespace()
        let value = try parseValue(pointer: "", depth: 0)
        skipWhitespace()
        if index < bytes.count {
            throw error("unexpected content after the JSON value")
        }
        return value
    }

    private var location: SourceLocation {
        // Columns count scalars: skip UTF-8 continuation bytes between the line start and here.
        var column = 1
        var position = lineStart
        while position < index {
            if bytes[position] & 0xC0 != 0x80 { column += 1 }
            position += 1
        }
        return SourceLocation(line: line, column: column)
    }

    private func error(_ message: String) -> JSONParseError {
        JSONParseError(location: location, message: message)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D:
                index += 1
            case 0x0A:
                index += 1
                line += 1
                lineStart = index
            default:
                return
            }
        }
    }

    private mutating func parseValue(pointer: String, depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
        if recordLocations { locations.table[pointer] = location }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(pointer: pointer, depth: depth)
        case UInt8(ascii: "["): return try parseArray(pointer: pointer, depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character \(describe(bytes[index])), expected a value")
        }
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return hexByte(byte)
    }

    private mutating func expectLiteral(_ literal: String) throws(JSONParseError) {
        let count = literal.utf8.count
        guard index + count <= bytes.count, bytes[index..<(index + count)].elementsEqual(literal.utf8) else {
            throw error("invalid literal, expected '\(literal)'")
        }
        index += count
    }

    private mutating func parseObject(pointer: String, depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        // Keys compare by UTF-8 bytes (the same as by scalars); small objects need no hash set.
        var seen = Set<[UInt8]>()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject())
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a string key")
            }
            let keyStart = (index: index, line: line, lineStart: lineStart)
            let key = try parseString()
            if Self.isDuplicate(key, in: members, seen: &seen) {
                // The location is computed only for the error: it scans the line, which is costly per key.
                let (here, hereLine, hereLineStart) = (index, line, lineStart)
                (index, line, lineStart) = keyStart
                let keyLocation = location
                (index, line, lineStart) = (here, hereLine, hereLineStart)
                throw JSONParseError(location: keyLocation, message: "duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("expected ':' after the key \"\(key)\"")
            }
            index += 1
            skipWhitespace()
            let value = try parseValue(
                pointer: recordLocations ? pointer + "/" + JSONLocations.escape(key) : "", depth: depth + 1)
            members.append((key, value))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input inside an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject(uniqueMembers: members))
            }
            throw error("expected ',' or '}' in an object")
        }
    }

    private mutating func parseArray(pointer: String, depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array([])
        }
        while true {
            skipWhitespace()
            elements.append(
                try parseValue(pointer: recordLocations ? pointer + "/\(elements.count)" : "", depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input inside an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number: expected a digit") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error("invalid number: leading zero") }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("invalid number: expected a digit after '.'")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("invalid number: expected a digit in the exponent")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return JSONNumber(validatedLexeme: String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// True when `key` is already a member (byte comparison); a linear scan for small objects, then a set.
    private static func isDuplicate(
        _ key: String, in members: [(key: String, value: JSONValue)], seen: inout Set<[UInt8]>
    ) -> Bool {
        if members.count < 16 {
            let count = key.utf8.count
            return members.contains { $0.key.utf8.count == count && $0.key.utf8.elementsEqual(key.utf8) }
        }
        if seen.isEmpty { for member in members { seen.insert(Array(member.key.utf8)) } }
        return !seen.insert(Array(key.utf8)).inserted
    }

    private func hexByte(_ byte: UInt8) -> String {
        let text = String(byte, radix: 16, uppercase: true)
        return "0x" + (text.count == 1 ? "0" + text : text)
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        var text = ""
        var runStart = index
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try appendRun(from: runStart, to: index, into: &text)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") {
                try appendRun(from: runStart, to: index, into: &text)
                index += 1
                text.unicodeScalars.append(try parseEscape())
                runStart = index
                continue
            }
            if byte < 0x20 {
                throw error("control character \(hexByte(byte)) in a string must be escaped")
            }
            index += 1
        }
    }

    private func appendRun(from start: Int, to end: Int, into text: inout String) throws(JSONParseError) {
        guard start < end else { return }
        // Validated as a whole run (the same rules as decoding it scalar by scalar), appended at once.
        guard let run = String(validating: bytes[start..<end], as: UTF8.self) else {
            throw error("invalid UTF-8 in a string")
        }
        if text.isEmpty { text = run } else { text += run }
    }

    private mutating func parseEscape() throws(JSONParseError) -> Unicode.Scalar {
        guard index < bytes.count else { throw error("unterminated escape") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try parseHex4()
            if (0xD800...0xDBFF).contains(first) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw error("unpaired surrogate \\u\(String(first, radix: 16))") }
                index += 2
                let second = try parseHex4()
                guard (0xDC00...0xDFFF).contains(second) else {
                    throw error("unpaired surrogate \\u\(String(first, radix: 16))")
                }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                return Unicode.Scalar(combined)!
            }
            guard let scalar = Unicode.Scalar(first) else {
                throw error("unpaired surrogate \\u\(String(first, radix: 16))")
            }
            return scalar
        default:
            index -= 1
            throw error("invalid escape '\\\(Character(Unicode.Scalar(byte)))'")
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
