/// A Cedar string: compared, hashed and ordered by Unicode scalars, never by Swift's canonical equivalence.
///
/// Cedar compares code points, so `"\u{e9}"` and `"e\u{301}"` are different strings, different set
/// elements and different record keys. Swift's `String ==` would merge them.
public struct CedarString: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The text.
    public let value: String

    /// Wraps a Swift string.
    public init(_ value: String) {
        var copy = value
        copy.makeContiguousUTF8()
        self.value = copy
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public static func == (lhs: CedarString, rhs: CedarString) -> Bool {
        lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var copy = value
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(0xFF as UInt8)
    }

    /// Orders by UTF-8 bytes, which is the same as ordering by code points.
    public static func < (lhs: CedarString, rhs: CedarString) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }

    public var description: String { value }
}

/// An entity reference: a (possibly namespaced) type name and an id, e.g. `Agent::"alice"`.
public struct EntityUID: Sendable, Hashable, CustomStringConvertible {
    /// The normalised type name, e.g. `Agent` or `A::B::T`.
    public let type: CedarString
    /// The entity id.
    public let id: CedarString

    /// Creates a uid from a normalised type name and an id.
    public init(type: String, id: String) {
        self.type = CedarString(type)
        self.id = CedarString(id)
    }

    /// Creates a uid from already-wrapped parts.
    public init(type: CedarString, id: CedarString) {
        self.type = type
        self.id = id
    }

    /// The uid in Cedar syntax, e.g. `Agent::"alice"`, with the id escaped.
    public var description: String { "\(type.value)::\(quoteCedarString(id.value))" }
}

/// A Cedar `decimal`: a 64-bit integer scaled by 10⁴.
public struct CedarDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The value times 10 000.
    public let scaled: Int64

    /// Creates a decimal from its scaled representation.
    public init(scaled: Int64) {
        self.scaled = scaled
    }

    /// Parses Cedar's decimal syntax: `-?[0-9]+\.[0-9]{1,4}`, within the 64-bit scaled range.
    ///
    /// Returns nil for anything else (no exponent, no `+`, a digit on each side of the dot).
    public init?(parsing text: String) {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let whole = bytes[..<dot]
        let fraction = bytes[(dot + 1)...]
        guard !whole.isEmpty, !fraction.isEmpty, fraction.count <= 4 else { return nil }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard whole.allSatisfy(isDigit), fraction.allSatisfy(isDigit) else { return nil }
        // Accumulate negatively so that the most negative value is reachable.
        var accumulator: Int64 = 0
        for byte in whole {
            let (times, overflow1) = accumulator.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            accumulator = next
        }
        var fractionValue: Int64 = 0
        for byte in fraction { fractionValue = fractionValue * 10 + Int64(byte - UInt8(ascii: "0")) }
        for _ in fraction.count..<4 { fractionValue *= 10 }
        let (scaledWhole, overflow3) = accumulator.multipliedReportingOverflow(by: 10_000)
        let (total, overflow4) = scaledWhole.subtractingReportingOverflow(fractionValue)
        if overflow3 || overflow4 { return nil }
        if negative {
            scaled = total
        } else {
            guard total != Int64.min else { return nil }
            scaled = -total
        }
    }

    public static func < (lhs: CedarDecimal, rhs: CedarDecimal) -> Bool { lhs.scaled < rhs.scaled }

    /// The value with exactly four fractional digits, e.g. `0.0100`.
    public var description: String {
        let magnitude = scaled.magnitude
        let whole = magnitude / 10_000
        let fraction = String(magnitude % 10_000)
        let padded = String(repeating: "0", count: 4 - fraction.count) + fraction
        return (scaled < 0 ? "-" : "") + "\(whole).\(padded)"
    }
}

/// A Cedar value.
///
/// Sets and records are Swift `Set` and `Dictionary`, so equality and hashing are structural and a set is
/// canonical (unordered, de-duplicated) by construction.
public enum CedarValue: Sendable, Hashable {
    case bool(Bool)
    case long(Int64)
    case string(CedarString)
    case entity(EntityUID)
    case set(Set<CedarValue>)
    case record([CedarString: CedarValue])
    case decimal(CedarDecimal)
    case ipaddr(CedarIPAddress)
    case datetime(CedarDatetime)
    case duration(CedarDuration)

    /// The Cedar type name used in error messages.
    public var typeName: String {
        switch self {
        case .bool: return "bool"
        case .long: return "long"
        case .string: return "string"
        case .entity(let uid): return "(entity of type `\(uid.type.value)`)"
        case .set: return "set"
        case .record: return "record"
        case .decimal: return "decimal"
        case .ipaddr: return "ipaddr"
        case .datetime: return "datetime"
        case .duration: return "duration"
        }
    }
}

extension CedarValue: CustomStringConvertible {
    /// The value in Cedar syntax (sets and records in a stable, sorted order).
    public var description: String {
        switch self {
        case .bool(let value): return value ? "true" : "false"
        case .long(let value): return String(value)
        case .string(let value): return quoteCedarString(value.value)
        case .entity(let uid): return uid.description
        case .decimal(let value): return "decimal(\"\(value)\")"
        case .ipaddr(let value): return "ip(\"\(value)\")"
        case .datetime(let value): return value.description
        case .duration(let value): return value.description
        case .set(let elements):
            return "[" + elements.map { $0.description }.sorted().joined(separator: ", ") + "]"
        case .record(let fields):
            let parts = fields.sorted { $0.key < $1.key }.map { "\(quoteCedarString($0.key.value)): \($0.value)" }
            return "{" + parts.joined(separator: ", ") + "}"
        }
    }
}

/// Quotes a string in Cedar syntax, escaping what the lexer would not take back verbatim.
func quoteCedarString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\0": out += "\\0"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
