import JSONCore
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test("numbers keep their lexeme and compare by exact value")
    func numbersKeepLexeme() throws {
        let value = try JSONParser.parse(#"{"a": 10000, "b": 1.50, "c": -0, "d": 1e2, "e": 100}"#)
        #expect(value["a"]?.numberValue?.lexeme == "10000")
        #expect(value["b"]?.numberValue?.lexeme == "1.50")
        #expect(value["c"]?.numberValue?.lexeme == "-0")
        #expect(value["d"] == value["e"])
        #expect(value["b"] != value["a"])
        #expect(value["b"]?.numberValue?.int64 == nil)
        #expect(value["a"]?.int64Value == 10000)
        #expect(value["d"]?.schemaTypeName == "integer")
        #expect(value["b"]?.schemaTypeName == "number")
    }

    @Test("decimal ordering is exact beyond Double precision")
    func decimalOrdering() throws {
        let small = JSONNumber(validatedLexeme: "9007199254740993").decimal
        let large = JSONNumber(validatedLexeme: "9007199254740994").decimal
        #expect(small < large)
        #expect(JSONNumber(validatedLexeme: "-2").decimal < JSONNumber(validatedLexeme: "-1.5").decimal)
        #expect(!(JSONNumber(validatedLexeme: "0.10").decimal < JSONNumber(validatedLexeme: "0.1").decimal))
        #expect(JSONNumber(validatedLexeme: "0").decimal < JSONNumber(validatedLexeme: "1e-9").decimal)
    }

    @Test("object key order is kept and equality ignores it")
    func objectOrder() throws {
        let first = try JSONParser.parse(#"{"z":1,"a":2}"#)
        let second = try JSONParser.parse(#"{"a":2,"z":1}"#)
        #expect(first.objectValue?.keys == ["z", "a"])
        #expect(first == second)
        #expect(first.serialized() == #"{"z":1,"a":2}"#)
        #expect(first.serialized(sortedKeys: true) == #"{"a":2,"z":1}"#)
    }

    @Test("strings compare by Unicode scalars, not canonical equivalence")
    func scalarEquality() throws {
        let composed = try JSONParser.parse(#""\u00e9""#)
        let decomposed = try JSONParser.parse(#""e\u0301""#)
        #expect(composed != decomposed)
    }

    @Test(
        "malformed input is refused with a line and column",
        arguments: [
            ("{\"a\":1,}", 1, 8, "expected a string key"),
            ("{\"a\":1,\n \"a\":2}", 2, 2, "duplicate key \"a\""),
            ("[1,\n  01]", 2, 4, "invalid number: leading zero"),
            ("\"\\ud800\"", 1, 8, "unpaired surrogate \\ud800"),
            ("{\"a\": tru}", 1, 7, "invalid literal, expected 'true'"),
            ("[1] x", 1, 5, "unexpected content after the JSON value"),
            ("\"a\u{1}\"", 1, 3, "control character 0x01 in a string must be escaped"),
        ])
    func malformed(input: String, line: Int, column: Int, message: String) {
        #expect(throws: JSONParseError(location: SourceLocation(line: line, column: column), message: message)) {
            try JSONParser.parse(input)
        }
    }

    @Test("nesting beyond the limit is refused, not a stack overflow")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    @Test("locations are recorded per JSON Pointer")
    func locations() throws {
        let text = "{\n  \"upstream\": {\n    \"url\": \"http://x\"\n  },\n  \"a/b\": [true]\n}"
        let (_, locations) = try JSONParser.parseWithLocations(Array(text.utf8))
        #expect(locations.location(of: "/upstream/url") == SourceLocation(line: 3, column: 12))
        #expect(locations.location(of: "/a~1b/0") == SourceLocation(line: 5, column: 11))
        #expect(locations.location(of: "/upstream/missing") == SourceLocation(line: 2, column: 15))
    }

    @Test("serialization escapes control characters and round-trips")
    func roundTrip() throws {
        let original: JSONValue = ["text": "line1\nline2\t\"q\"\\ \u{7}", "list": [1, true, nil], "ü": "ß"]
        let text = original.serialized()
        #expect(!text.contains("\n"))
        #expect(try JSONParser.parse(text) == original)
    }
}
