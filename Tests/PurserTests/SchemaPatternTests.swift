import JSONCore
import Testing

@testable import Purser

/// JSON Schema `pattern`: ECMA-262 semantics (the expected answers below are ECMA-262's, checked by hand
/// against the specification, not read off the implementation), refusals with a reason, bounded work.
@Suite("JSON Schema pattern (ECMA-262 subset, linear time)")
struct SchemaPatternTests {
    private func matches(_ pattern: String, _ text: String) throws -> Bool? {
        try SchemaPattern(pattern).matches(text)
    }

    @Test(
        "ECMA-262 answers",
        arguments: [
            // Unanchored search, as JSON Schema specifies.
            ("b", "abc", true), ("^b", "abc", false), ("c$", "abc", true),
            ("^[a-z]+$", "abc", true), ("^[a-z]+$", "ab1", false), ("^[a-z]+$", "", false),
            // `$` is the end of the string, never before a final newline (ICU and PCRE would match here).
            ("^[a-z]+$", "abc\n", false), ("^a.c$", "a\nc", false), ("^a.c$", "a€c", true),
            ("^(ab|cd)*$", "abcdab", true), ("^(ab|cd)*$", "abc", false),
            ("^a{2,3}$", "a", false), ("^a{2,3}$", "aa", true), ("^a{2,3}$", "aaaa", false), ("^a{2,}$", "aaaaa", true),
            ("^\\d{3}-\\d{4}$", "555-0199", true), ("^\\d+$", "٣", false),  // \d is ASCII only
            ("^\\w+$", "snake_case9", true), ("^\\w+$", "é", false), ("^\\s$", "\u{00A0}", true),
            ("\\bcat\\b", "a cat!", true), ("\\bcat\\b", "concat", false), ("\\Bcat", "concat", true),
            ("^[^0-9]+$", "abc", true), ("^[^0-9]+$", "a1", false), ("^[\\d-]+$", "12-3", true),
            ("^[a-c-]+$", "a-c", true), ("^[]a]$", "a", false),  // [] matches nothing
            ("^[^]$", "x", true),  // [^] matches anything
            ("^\\x41\\u0042\\u{1F600}$", "AB😀", true), ("^\\uD83D\\uDE00$", "😀", true),
            ("^a{,2}$", "a{,2}", true),  // not a quantifier: literal text (Annex B)
            ("^(?:a|b)+?c??$", "abab", true), ("^(?<year>\\d{4})$", "2026", true),
            ("^(a*)*$", "aaaa", true), ("^(a|)+$", "", true),
        ])
    func answers(pattern: String, text: String, expected: Bool) throws {
        #expect(try matches(pattern, text) == expected)
    }

    @Test(
        "constructs outside the subset are refused with the reason",
        arguments: [
            ("(?=a)", "lookahead"), ("(?<!a)b", "lookbehind"), ("(a)\\1", "backreference"),
            ("\\k<x>", "backreference"), ("\\p{L}", "Unicode property"), ("\\a", "unsupported escape"),
            ("a**", "nothing to repeat"), ("*a", "nothing to repeat"), ("a{2}{3}", "nothing to repeat"),
            ("(a", "unterminated group"), ("a)", "unmatched"), ("[a", "unterminated character class"),
            ("[z-a]", "out of order"), ("a{3,2}", "out of order"), ("a{1001}", "above 1000"),
            ("\\uD800", "lone surrogate"), ("x\\", "at end"),
        ])
    func refusals(pattern: String, reason: String) {
        do {
            _ = try SchemaPattern(pattern)
            Issue.record("\(pattern) was accepted")
        } catch {
            #expect(error.message.contains(reason), "\(pattern): \(error.message)")
        }
    }

    @Test("hostile patterns cost time linear in the input: nested quantifiers on 20,000 characters")
    func hostile() throws {
        // Each of these backtracks exponentially (or as n^k) in NSRegularExpression and in Swift's Regex.
        let text = String(repeating: "a", count: 20_000) + "!"
        #expect(try matches("^(a+)+$", text) == false)
        #expect(try matches("^(a|a)*$", text) == false)
        #expect(try matches("^(a*)*b$", text) == false)
        #expect(try matches("a*a*a*a*a*a*a*a*b", text) == false)
    }

    @Test("size bounds: deep nesting, expanded repetitions and work per match")
    func bounds() throws {
        let deep = String(repeating: "(", count: 100) + "a" + String(repeating: ")", count: 100)
        #expect(throws: SchemaPattern.Problem.self) { try SchemaPattern(deep) }
        #expect(throws: SchemaPattern.Problem.self) { try SchemaPattern("((a{100}){100}){100}") }
        let wide = try SchemaPattern("^[a-z]{0,1000}$")
        #expect(wide.matches(String(repeating: "a", count: 1000)) == true)
        // About 2,000 states × 100,000 code points is over the work cap: no answer, not a guess.
        #expect(wide.matches(String(repeating: "a", count: 100_000)) == nil)
    }

    @Test("through JSON Schema: a bad pattern fails the manifest, an uncheckable value fails the call")
    func throughSchema() throws {
        let refused = JSONSchema.compile(try JSONParser.parse(#"{"type":"string","pattern":"(?=x)"}"#))
        guard case .failure(let problems) = refused else {
            Issue.record("a lookahead pattern was accepted")
            return
        }
        #expect(problems.items.first?.pointer == "/pattern")
        #expect(problems.items.first?.message.contains("lookahead is not supported") == true)

        let schema = try JSONSchema.compile(
            try JSONParser.parse(#"{"type":"string","pattern":"^[a-z]{0,1000}$"}"#)
        ).get()
        let long = schema.validate(.string(String(repeating: "a", count: 100_000)))
        #expect(long.first?.message.contains("too long to check") == true)
        #expect(schema.validate(.string("abc")).isEmpty)
    }

    @Test("a value with a trailing newline does not pass an anchored pattern")
    func trailingNewline() throws {
        // NSRegularExpression (ICU) let "abc\n" through ^[a-z]+$: `$` matched before the final newline.
        let schema = try JSONSchema.compile(try JSONParser.parse(#"{"type":"string","pattern":"^[a-z]+$"}"#)).get()
        #expect(schema.validate(.string("abc\n")).first?.message.contains("must match the pattern") == true)
        #expect(schema.validate(.string("abc")).isEmpty)
    }
}

/// The Foundation-free helpers the CLI and the demo print and join paths with.
@Suite("Text and path helpers")
struct TextHelperTests {
    @Test(
        "fixed decimals as printf writes them",
        arguments: [
            (1.0, 2, "1.00"), (0.125, 2, "0.12"), (0.375, 2, "0.38"), (2.5, 0, "2"), (-1.25, 1, "-1.2"),
            (1234.5678, 3, "1234.568"), (1e21, 1, "1000000000000000000000.0"),
        ])
    func fixed(value: Double, digits: Int, expected: String) {
        #expect(TextFormat.fixed(value, digits: digits) == expected)
    }

    @Test("padding cuts or fills to the width")
    func padded() {
        #expect(TextFormat.padded("ab", to: 4) == "ab  ")
        #expect(TextFormat.padded("abcdef", to: 3) == "abc")
        #expect(TextFormat.padded("ab", to: 2) == "ab")
    }

    @Test(
        "paths join with one slash and standardize like NSString did",
        arguments: [
            ("/home/x", "a.json", "/home/x/a.json"), ("/home/x/", "a.json", "/home/x/a.json"), ("", "a", "a"),
            ("/", "etc", "/etc"), ("rel", "a", "rel/a"), ("/x", "", "/x"),
        ])
    func join(base: String, component: String, expected: String) {
        #expect(PathText.join(base, component) == expected)
    }

    @Test("standardizing drops ., empty components and trailing slashes, and applies ..")
    func standardized() {
        #expect(PathText.standardized("/a//b/./c/../d/") == "/a/b/d")
        #expect(PathText.standardized("/../a") == "/a")
        #expect(PathText.standardized("a/../../b") == "../b")
        #expect(PathText.standardized("/") == "/")
    }
}
