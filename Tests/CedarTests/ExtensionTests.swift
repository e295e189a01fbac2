import Cedar
import Testing

/// The `ipaddr`, `datetime` and `duration` extensions, with expectations from Cedar's documentation and the
/// Lean specification (`Ext/IPAddr.lean`, `Ext/Datetime.lean`): ranges, loopback and multicast nets, calendar
/// validation, offsets normalised to UTC, unit order and 64-bit overflow. The difftest suite compares the
/// same behaviour with cedarpy on generated cases.
@Suite("Extensions")
struct ExtensionTests {
    static let cases: [(String, Outcome)] = [
        // ipaddr: parsing.
        (#"ip("10.0.0.1").isIpv4()"#, .true), (#"ip("::1").isIpv6()"#, .true),
        (#"ip("01.2.3.4").isIpv4()"#, .error), (#"ip("1.2.3.256").isIpv4()"#, .error),
        (#"ip("1.2.3.4/33").isIpv4()"#, .error), (#"ip("1.2.3.4/033").isIpv4()"#, .error),
        (#"ip("::ffff:1.2.3.4").isIpv6()"#, .error), (#"ip("1::2::3").isIpv6()"#, .error),
        (#"ip("1:2:3:4:5:6:7::8").isIpv6()"#, .error), (#"ip("1:2:3:4:5:6:7:8").isIpv6()"#, .true),
        (#"ip("fe80::1/129").isIpv6()"#, .error), (#"ip(1).isIpv4()"#, .error), (#""10.0.0.1".isIpv4()"#, .error),
        // ipaddr: ranges, loopback, multicast, equality with the prefix.
        (#"ip("10.1.2.3").isInRange(ip("10.0.0.0/8"))"#, .true),
        (#"ip("10.1.2.3/24").isInRange(ip("10.1.2.0/24"))"#, .true),
        (#"ip("10.1.2.3/16").isInRange(ip("10.1.2.0/24"))"#, .false),
        (#"ip("10.1.2.3").isInRange(ip("::/0"))"#, .false),
        (#"ip("127.1.2.3").isLoopback()"#, .true), (#"ip("127.0.0.1/4").isLoopback()"#, .false),
        (#"ip("::1").isLoopback()"#, .true), (#"ip("::2").isLoopback()"#, .false),
        (#"ip("224.0.0.1").isMulticast()"#, .true), (#"ip("224.0.0.0/3").isMulticast()"#, .false),
        (#"ip("ff02::1").isMulticast()"#, .true),
        (#"ip("10.0.0.1") == ip("10.0.0.1/32")"#, .true), (#"ip("10.0.0.1/24") == ip("10.0.0.0/24")"#, .false),
        (#"ip("::1") == ip("0:0:0:0:0:0:0:1")"#, .true), (#"ip("10.0.0.1") < ip("10.0.0.2")"#, .error),
        // datetime: formats, calendar, offsets to UTC, leap seconds refused.
        (#"datetime("2024-10-15") < datetime("2024-10-15T00:00:00.001Z")"#, .true),
        (#"datetime("2024-10-15T11:38:02.101+1134") == datetime("2024-10-15T00:04:02.101Z")"#, .true),
        (#"datetime("2024-10-15T11:38:02-1134") == datetime("2024-10-15T23:12:02Z")"#, .true),
        (#"datetime("1970-01-01") == datetime("1970-01-01T00:00:00Z")"#, .true),
        (#"datetime("2024-02-29") < datetime("2024-03-01")"#, .true), (#"datetime("2025-02-29") == 1"#, .error),
        (#"datetime("1900-02-29") == 1"#, .error), (#"datetime("2016-12-31T23:59:60Z") == 1"#, .error),
        (#"datetime("2024-01-01T00:00:00") == 1"#, .error), (#"datetime("2024-01-01T00:00:00+2400") == 1"#, .error),
        (#"datetime("2024-01-01T00:00:00.1Z") == 1"#, .error), (#"datetime("10000-01-01") == 1"#, .error),
        // datetime methods.
        (#"datetime("2024-10-15").offset(duration("1d")) == datetime("2024-10-16")"#, .true),
        (#"datetime("2024-10-16").durationSince(datetime("2024-10-15")) == duration("24h")"#, .true),
        (#"datetime("2024-10-15T11:38:02Z").toDate() == datetime("2024-10-15")"#, .true),
        (#"datetime("1969-12-31T23:59:59.999Z").toDate() == datetime("1969-12-31")"#, .true),
        (#"datetime("2024-10-15T11:38:02Z").toTime() == duration("11h38m2s")"#, .true),
        (#"datetime("1969-12-31T23:00:00Z").toTime() == duration("23h")"#, .true),
        (#"datetime("2024-10-15") < duration("1d")"#, .error), (#"datetime("2024-10-15") == duration("1d")"#, .false),
        // duration: units in order, overflow, conversions truncating toward zero.
        (#"duration("1d2h3m4s5ms").toMilliseconds() == 93784005"#, .true),
        (#"duration("-1d23h59m59s999ms").toDays() == -1"#, .true), (#"duration("-90m").toHours() == -1"#, .true),
        (#"duration("59s").toMinutes() == 0"#, .true), (#"duration("1s1m") == duration("61s")"#, .error),
        (#"duration("1d1d") == 1"#, .error), (#"duration("+1h") == 1"#, .error), (#"duration("") == 1"#, .error),
        (#"duration("-") == 1"#, .error), (#"duration("9223372036854775807ms").toMilliseconds() > 0"#, .true),
        (#"duration("9223372036854775808ms") == 1"#, .error),
        (#"duration("-9223372036854775808ms").toMilliseconds() < 0"#, .true),
        (#"duration("106751991167d").toDays() == 106751991167"#, .true), (#"duration("106751991168d") == 1"#, .error),
        (#"duration("1h") > duration("59m")"#, .true), (#"duration("1h") >= duration("60m")"#, .true),
        (#"datetime("1970-01-01").offset(duration("9223372036854775807ms")).offset(duration("1ms")) == 1"#, .error),
        (#"decimal("1.0") < decimal("2.0")"#, .error), (#"ip("10.0.0.1").isIpv4(1)"#, .error),
    ]

    @Test("extension functions and methods follow Cedar", arguments: cases)
    func semantics(expression: String, expected: Outcome) throws {
        #expect(try outcome(expression) == expected)
    }

    @Test("__extn values in context JSON, including a nested offset, load and compare")
    func jsonValues() throws {
        let context = """
            {"ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
             "at": {"__extn": {"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "2024-10-15"}},
                                                       {"__extn": {"fn": "duration", "arg": "90m"}}]}},
             "span": {"__extn": {"fn": "duration", "args": ["1h"]}}}
            """
        #expect(try outcome(#"context.ip.isInRange(ip("10.0.0.0/8"))"#, context: context) == .true)
        #expect(try outcome(#"context.at == datetime("2024-10-15T01:30:00Z")"#, context: context) == .true)
        #expect(try outcome(#"context.span == duration("60m")"#, context: context) == .true)
        for bad in [
            #"{"x": {"__extn": {"fn": "ip", "arg": "1.2.3"}}}"#, #"{"x": {"__extn": {"fn": "nope", "arg": "1"}}}"#,
            #"{"x": {"__extn": {"fn": "duration", "arg": "1h", "args": ["1h"]}}}"#,
        ] {
            #expect(throws: CedarDataError.self) { try outcome("true", context: bad) }
        }
    }
}
