/// Cedar's `ipaddr` extension value: an IPv4 or IPv6 address with a prefix length (32 or 128 for a single
/// address). Equality compares the address as written (not masked) and the prefix, as Cedar does.
public struct CedarIPAddress: Sendable, Hashable, CustomStringConvertible {
    /// True for IPv4.
    public let isIPv4: Bool
    /// The address bits: IPv4 in the low 32 bits.
    let high: UInt64
    let low: UInt64
    /// The prefix length: 0…32 (IPv4) or 0…128 (IPv6).
    public let prefix: Int

    /// Parses `a.b.c.d[/n]` or an IPv6 text form `x:x::x[/n]`, as Cedar's `ip()` does: no leading zeros in
    /// IPv4 octets or prefixes, no IPv4 embedded in IPv6, at most one `::`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        if let v4 = Self.parseIPv4(parts[0]) {
            var prefix = 32
            if parts.count == 2 {
                guard let parsed = Self.parsePrefix(parts[1], digits: 2, maximum: 32) else { return nil }
                prefix = parsed
            }
            self.isIPv4 = true
            self.high = 0
            self.low = UInt64(v4)
            self.prefix = prefix
            return
        }
        guard let (high, low) = Self.parseIPv6(parts[0]) else { return nil }
        var prefix = 128
        if parts.count == 2 {
            guard let parsed = Self.parsePrefix(parts[1], digits: 3, maximum: 128) else { return nil }
            prefix = parsed
        }
        self.isIPv4 = false
        self.high = high
        self.low = low
        self.prefix = prefix
    }

    private init(isIPv4: Bool, high: UInt64, low: UInt64, prefix: Int) {
        self.isIPv4 = isIPv4
        self.high = high
        self.low = low
        self.prefix = prefix
    }

    private static func isDigit(_ c: Character) -> Bool { c >= "0" && c <= "9" }

    /// Decimal, 1…`digits` digits, no leading zero unless it is `0`, at most `maximum`.
    private static func parsePrefix(_ text: Substring, digits: Int, maximum: Int) -> Int? {
        guard !text.isEmpty, text.count <= digits, text.allSatisfy(isDigit) else { return nil }
        if text.first == "0", text != "0" { return nil }
        guard let value = Int(text), value <= maximum else { return nil }
        return value
    }

    private static func parseIPv4(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var result: UInt32 = 0
        for octet in octets {
            guard let value = parsePrefix(octet, digits: 3, maximum: 255) else { return nil }
            result = result << 8 | UInt32(value)
        }
        return result
    }

    private static func parseGroups(_ text: Substring) -> [UInt16]? {
        if text.isEmpty { return [] }
        var groups: [UInt16] = []
        for group in text.split(separator: ":", omittingEmptySubsequences: false) {
            guard !group.isEmpty, group.count <= 4, group.allSatisfy(\.isHexDigit), group.allSatisfy(\.isASCII),
                let value = UInt16(group, radix: 16)
            else { return nil }
            groups.append(value)
        }
        return groups
    }

    private static func parseIPv6(_ text: Substring) -> (UInt64, UInt64)? {
        // Cedar refuses IPv4 embedded in IPv6 (`::ffff:1.2.3.4`); the group parser refuses any `.` anyway.
        var groups: [UInt16]
        let halves = text.ranges(of: "::")
        switch halves.count {
        case 0:
            guard let all = parseGroups(text) else { return nil }
            groups = all
        case 1:
            let range = halves[0]
            guard let head = parseGroups(text[..<range.lowerBound]),
                let tail = parseGroups(text[range.upperBound...]), head.count + tail.count < 8
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        default:
            return nil
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for group in groups[0..<4] { high = high << 16 | UInt64(group) }
        for group in groups[4..<8] { low = low << 16 | UInt64(group) }
        return (high, low)
    }

    /// The first and last address of the range, as 128-bit values (high, low).
    private var range: (first: (UInt64, UInt64), last: (UInt64, UInt64)) {
        let width = (isIPv4 ? 32 : 128) - prefix
        // Host mask of `width` low bits over 128 bits.
        let hostLow: UInt64 = width >= 64 ? .max : (width == 0 ? 0 : (UInt64(1) << width) - 1)
        let hostHigh: UInt64 = width >= 128 ? .max : (width <= 64 ? 0 : (UInt64(1) << (width - 64)) - 1)
        return ((high & ~hostHigh, low & ~hostLow), (high | hostHigh, low | hostLow))
    }

    private static func lessOrEqual(_ a: (UInt64, UInt64), _ b: (UInt64, UInt64)) -> Bool {
        a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1)
    }

    /// `isInRange`: every address of `self` is in `other`; false across IPv4 and IPv6.
    public func isInRange(_ other: CedarIPAddress) -> Bool {
        guard isIPv4 == other.isIPv4 else { return false }
        let mine = range
        let theirs = other.range
        return Self.lessOrEqual(theirs.first, mine.first) && Self.lessOrEqual(mine.last, theirs.last)
    }

    /// In 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        isInRange(
            isIPv4
                ? Self(isIPv4: true, high: 0, low: 0x7F00_0000, prefix: 8)
                : Self(isIPv4: false, high: 0, low: 1, prefix: 128))
    }

    /// In 224.0.0.0/4 or ff00::/8.
    public var isMulticast: Bool {
        isInRange(
            isIPv4
                ? Self(isIPv4: true, high: 0, low: 0xE000_0000, prefix: 4)
                : Self(isIPv4: false, high: 0xFF00_0000_0000_0000, low: 0, prefix: 8))
    }

    public var description: String {
        if isIPv4 {
            let bytes = (0..<4).map { String((low >> (24 - 8 * $0)) & 0xFF) }
            return bytes.joined(separator: ".") + "/\(prefix)"
        }
        let groups = (0..<8).map { index in
            String(((index < 4 ? high : low) >> (48 - 16 * (index % 4))) & 0xFFFF, radix: 16)
        }
        return groups.joined(separator: ":") + "/\(prefix)"
    }
}
