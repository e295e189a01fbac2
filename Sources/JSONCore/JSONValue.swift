/// A JSON value that keeps what Foundation's decoders lose.
///
/// Numbers keep their exact lexeme (money is never a `Double`), objects keep their key order (so a
/// payment requirement can be echoed verbatim), and strings compare by Unicode scalars rather than
/// by Swift's canonical equivalence (so `"é"` and `"e\u{301}"` stay different, as they are on the wire).
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON number kept as its source lexeme.
///
/// The lexeme is validated JSON number syntax; conversions are explicit and fail rather than round.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number exactly as written, e.g. `"10000"`, `"-0"`, `"1.50"`, `"1e2"`.
    public let lexeme: String

    /// Creates a number from a lexeme that is already valid JSON number syntax.
    public init(validatedLexeme: String) {
        self.lexeme = validatedLexeme
    }

    /// Creates an integer number.
    public init(_ value: Int64) {
        self.lexeme = String(value)
    }

    /// Creates an integer number.
    public init(_ value: Int) {
        self.lexeme = String(value)
    }

    /// True when the lexeme has no fraction and no exponent (`-0` counts as an integer lexeme).
    public var isIntegerLexeme: Bool {
        !lexeme.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
    }

    /// The value as `Int64` when the lexeme is an integer that fits; nil otherwise (never rounds).
    public var int64: Int64? {
        isIntegerLexeme ? Int64(lexeme) : nil
    }

    /// The mathematical value as a `Double`, for schema bounds only; never used for money.
    public var approximateDouble: Double? {
        Double(lexeme)
    }

    /// The exact value as a decimal: an integer significand and a power-of-ten exponent.
    public var decimal: JSONDecimal {
        JSONDecimal(lexeme: lexeme)
    }

    public var description: String { lexeme }

    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        lhs.decimal == rhs.decimal
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(decimal)
    }
}

/// The exact value of a JSON number: `sign * digits * 10^exponent`, normalised (no trailing zeros).
///
/// Used to compare numbers by value (`1.0 == 1`) without floating point.
public struct JSONDecimal: Sendable, Hashable, Comparable {
    /// True for negative values (never for zero).
    public let negative: Bool
    /// Significant digits without leading or trailing zeros; empty for zero.
    public let digits: [UInt8]
    /// Power of ten applied to `digits`.
    public let exponent: Int

    init(lexeme: String) {
        var bytes = Array(lexeme.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes.removeFirst()
        }
        var mantissa: [UInt8] = []
        var exponent = 0
        var index = 0
        var seenDot = false
        while index < bytes.count, bytes[index] != UInt8(ascii: "e"), bytes[index] != UInt8(ascii: "E") {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") {
                seenDot = true
            } else {
                mantissa.append(byte - UInt8(ascii: "0"))
                if seenDot { exponent -= 1 }
            }
            index += 1
        }
        if index < bytes.count {
            let exponentText = String(decoding: bytes[(index + 1)...], as: UTF8.self)
            // Exponents beyond this range make no sense for tool arguments; clamp rather than trap.
            let parsed = Int(exponentText.hasPrefix("+") ? String(exponentText.dropFirst()) : exponentText) ?? 0
            exponent += max(-1_000_000, min(1_000_000, parsed))
        }
        while let first = mantissa.first, first == 0 { mantissa.removeFirst() }
        while let last = mantissa.last, last == 0 {
            mantissa.removeLast()
            exponent += 1
        }
        if mantissa.isEmpty {
            self.negative = false
            self.digits = []
            self.exponent = 0
        } else {
            self.negative = negative
            self.digits = mantissa
            self.exponent = exponent
        }
    }

    /// True when the value is a whole number.
    public var isInteger: Bool { exponent >= 0 }

    /// True when the value is zero.
    public var isZero: Bool { digits.isEmpty }

    public static func < (lhs: JSONDecimal, rhs: JSONDecimal) -> Bool {
        if lhs.negative != rhs.negative { return lhs.negative }
        let magnitudeLess = lessMagnitude(lhs, rhs)
        if lhs.negative {
            return lhs != rhs && !magnitudeLess
        }
        return magnitudeLess
    }

    private static func lessMagnitude(_ lhs: JSONDecimal, _ rhs: JSONDecimal) -> Bool {
        if lhs.isZero { return !rhs.isZero }
        if rhs.isZero { return false }
        // Compare by the position of the most significant digit, then digit by digit.
        let lhsTop = lhs.digits.count + lhs.exponent
        let rhsTop = rhs.digits.count + rhs.exponent
        if lhsTop != rhsTop { return lhsTop < rhsTop }
        let length = max(lhs.digits.count, rhs.digits.count)
        for position in 0..<length {
            let left = position < lhs.digits.count ? lhs.digits[position] : 0
            let right = position < rhs.digits.count ? rhs.digits[position] : 0
            if left != right { return left < right }
        }
        return false
    }
}

/// A JSON object that keeps its keys in source order.
public struct JSONObject: Sendable, Sequence {
    /// The members in order.
    public private(set) var members: [(key: String, value: JSONValue)]

    /// Creates an object from ordered members; later duplicates replace earlier ones.
    public init(_ members: [(String, JSONValue)] = []) {
        self.members = []
        for (key, value) in members { self[key] = value }
    }

    /// Members whose keys are known to be distinct (the parser checked them byte by byte).
    init(uniqueMembers: [(key: String, value: JSONValue)]) {
        self.members = uniqueMembers
    }

    /// The keys in order.
    public var keys: [String] { members.map(\.key) }

    /// The number of members.
    public var count: Int { members.count }

    /// True when there are no members.
    public var isEmpty: Bool { members.isEmpty }

    /// Looks a member up by key (Unicode-scalar comparison); setting nil removes it.
    public subscript(key: String) -> JSONValue? {
        get {
            for member in members where Self.sameKey(member.key, key) {
                return member.value
            }
            return nil
        }
        set {
            let index = members.firstIndex { Self.sameKey($0.key, key) }
            switch (index, newValue) {
            case (let index?, let value?): members[index].value = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append((key, value))
            case (nil, nil): break
            }
        }
    }

    /// Equal Unicode scalars, compared as UTF-8 bytes (the same relation, without decoding scalars).
    static func sameKey(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.count == rhs.utf8.count && lhs.utf8.elementsEqual(rhs.utf8)
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }
}

extension JSONObject: Hashable {
    /// Objects are equal when they have the same members, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs.members {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: combine a commutative digest of the members.
        var combined = 0
        for (key, value) in members {
            var memberHasher = Hasher()
            memberHasher.combine(Array(key.utf8))
            memberHasher.combine(value)
            combined ^= memberHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONValue: Hashable {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(value)
        case .number(let value): hasher.combine(value)
        case .string(let value): hasher.combine(Array(value.utf8))
        case .array(let value): hasher.combine(value)
        case .object(let value): hasher.combine(value)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The Boolean, when this is a Boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number, when this is a number.
    public var numberValue: JSONNumber? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The integer, when this is an integer number that fits in `Int64`.
    public var int64Value: Int64? { numberValue?.int64 }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The object, when this is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// True for `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member of an object by key, or nil for anything else.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The JSON Schema type name of this value (`integer` for numbers with an integral value).
    public var schemaTypeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let number): return number.decimal.isInteger ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
