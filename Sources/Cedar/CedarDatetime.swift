/// Cedar's `datetime` extension value: milliseconds since the Unix epoch (no leap seconds), ordered.
public struct CedarDatetime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let milliseconds: Int64

    /// Wraps a millisecond count.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    static let millisecondsPerDay: Int64 = 86_400_000

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ssZ`, `YYYY-MM-DDThh:mm:ss.SSSZ`, `YYYY-MM-DDThh:mm:ss(+|-)hhmm`
    /// or `YYYY-MM-DDThh:mm:ss.SSS(+|-)hhmm`, as Cedar's `datetime()` does: a real calendar date, hours < 24,
    /// minutes and seconds < 60 (no leap second), offset hours < 24 and minutes < 60.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func byte(_ index: Int, is character: Unicode.Scalar) -> Bool {
            index < bytes.count && bytes[index] == UInt8(ascii: character)
        }
        guard let year = number(0, 4), byte(4, is: "-"), let month = number(5, 2), byte(7, is: "-"),
            let day = number(8, 2)
        else { return nil }
        guard let days = Self.daysFromCivil(year: year, month: month, day: day) else { return nil }
        var total = Int64(days) * Self.millisecondsPerDay
        if bytes.count == 10 {
            milliseconds = total
            return
        }
        guard byte(10, is: "T"), let hour = number(11, 2), byte(13, is: ":"), let minute = number(14, 2),
            byte(16, is: ":"), let second = number(17, 2)
        else { return nil }
        var index = 19
        var fraction = 0
        if byte(index, is: ".") {
            guard let parsed = number(index + 1, 3) else { return nil }
            fraction = parsed
            index += 4
        }
        var offsetSeconds = 0
        if byte(index, is: "Z"), index + 1 == bytes.count {
            // UTC
        } else if byte(index, is: "+") || byte(index, is: "-"), index + 5 == bytes.count,
            let offsetHours = number(index + 1, 2), let offsetMinutes = number(index + 3, 2)
        {
            guard hour < 24, minute < 60, second < 60, offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (byte(index, is: "+") ? 1 : -1)
        } else {
            return nil
        }
        guard hour < 24, minute < 60, second < 60 else { return nil }
        total += Int64(((hour * 60 + minute) * 60 + second - offsetSeconds) * 1000 + fraction)
        milliseconds = total
    }

    /// Days since 1970-01-01 for a valid proleptic Gregorian date (year 0000…9999), else nil.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int? {
        guard (1...12).contains(month), day >= 1 else { return nil }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func < (lhs: CedarDatetime, rhs: CedarDatetime) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var description: String { "datetime(\(milliseconds)ms)" }
}

/// Cedar's `duration` extension value: a signed number of milliseconds, ordered.
public struct CedarDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds.
    public let milliseconds: Int64

    /// Wraps a millisecond count.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// Why a duration text was refused.
    enum ParseFailure: Error { case pattern, overflow }

    /// Parses `-?(Nd)?(Nh)?(Nm)?(Ns)?(Nms)?` with at least one unit, as Cedar's `duration()` does; a total that
    /// does not fit a signed 64-bit count of milliseconds is an overflow.
    static func parse(_ text: String) -> Result<CedarDuration, ParseFailure> {
        var bytes = Array(text.utf8)[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        guard !bytes.isEmpty else { return .failure(.pattern) }
        let units: [(suffix: [UInt8], factor: Int64)] = [
            (Array("d".utf8), 86_400_000), (Array("h".utf8), 3_600_000), (Array("ms".utf8), 1),
            (Array("m".utf8), 60_000), (Array("s".utf8), 1000),
        ]
        // Units must appear in the order d, h, m, s, ms, each at most once.
        let order: [Int64] = [86_400_000, 3_600_000, 60_000, 1000, 1]
        var quantities: [Int64: [UInt8]] = [:]
        var lastRank = -1
        while !bytes.isEmpty {
            let digits = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            guard !digits.isEmpty else { return .failure(.pattern) }
            bytes = bytes.dropFirst(digits.count)
            guard let unit = units.first(where: { bytes.starts(with: $0.suffix) }) else { return .failure(.pattern) }
            bytes = bytes.dropFirst(unit.suffix.count)
            let rank = order.firstIndex(of: unit.factor)!
            guard rank > lastRank else { return .failure(.pattern) }
            lastRank = rank
            quantities[unit.factor] = Array(digits)
        }
        // Accumulate from milliseconds up with checked arithmetic, as Cedar does.
        var total: Int64 = 0
        for factor in order.reversed() {
            guard let digits = quantities[factor] else { continue }
            var quantity: UInt64 = 0
            for digit in digits {
                let (times, o1) = quantity.multipliedReportingOverflow(by: 10)
                let (next, o2) = times.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
                if o1 || o2 { return .failure(.overflow) }
                quantity = next
            }
            if factor == 1 {
                if negative {
                    guard quantity <= UInt64(Int64.max) + 1 else { return .failure(.overflow) }
                    total = quantity == UInt64(Int64.max) + 1 ? .min : -Int64(quantity)
                } else {
                    guard quantity <= UInt64(Int64.max) else { return .failure(.overflow) }
                    total = Int64(quantity)
                }
                continue
            }
            guard quantity <= UInt64(Int64.max) else { return .failure(.overflow) }
            let (scaled, o1) = Int64(quantity).multipliedReportingOverflow(by: factor)
            if o1 { return .failure(.overflow) }
            let (next, o2) =
                negative ? total.subtractingReportingOverflow(scaled) : total.addingReportingOverflow(scaled)
            if o2 { return .failure(.overflow) }
            total = next
        }
        return .success(CedarDuration(milliseconds: total))
    }

    public static func < (lhs: CedarDuration, rhs: CedarDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var description: String { "duration(\"\(milliseconds)ms\")" }
}
