import Cedar
import Testing

/// Expression semantics from reference/cedar.md §2.4–2.5 (Lean `Evaluator.lean`) and the Cedar operator docs.
@Suite("Evaluator")
struct EvaluatorTests {
    static let store = """
        [{"uid": {"type": "User", "id": "alice"}, "attrs": {"tier": "pro", "age": 30, "addr": {"city": "Oslo"}},
          "parents": [{"type": "Group", "id": "Research"}], "tags": {"scope": "papers:read refund:write"}},
         {"uid": {"type": "Group", "id": "Research"}, "attrs": {}, "parents": [{"type": "Group", "id": "Staff"}]},
         {"uid": {"type": "Group", "id": "Staff"}, "attrs": {}, "parents": []},
         {"uid": {"type": "Photo", "id": "p"}, "attrs": {"price": {"__extn": {"fn": "decimal", "arg": "0.05"}}},
          "parents": []}]
        """

    static let cases: [(String, Outcome)] = [
        // Booleans, short-circuit and type errors only on evaluated operands.
        ("true && true", .true), ("false && 1", .false), ("true && 1", .error), ("true || 1", .true),
        ("false || 1", .error), ("!false", .true), ("!1", .error),
        ("if true then true else 1", .true), ("if 1 then true else false", .error),
        ("if false then 1 else 2 == 2", .true),
        // Longs: checked arithmetic.
        ("1 + 2 * 3 == 7", .true), ("9223372036854775807 + 1 > 0", .error), ("-9223372036854775808 - 1 < 0", .error),
        ("--9223372036854775808 == 0", .error), ("-9223372036854775808 < 0", .true),
        ("3037000500 * 3037000500 > 0", .error), ("1 - 2 == -1", .true), ("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3", .true),
        ("\"a\" < \"b\"", .error), ("1 + \"1\" == 2", .error),
        // == is total; values of different types are unequal.
        ("1 == \"1\"", .false), ("1 != \"1\"", .true), ("[1, 2, 2] == [2, 1]", .true),
        ("{a: 1, b: [1]} == {b: [1], a: 1}", .true), ("User::\"alice\" == User::\"alice\"", .true),
        ("User::\"alice\" == Group::\"alice\"", .false),
        ("decimal(\"1.0\") == decimal(\"1.0000\")", .true), ("decimal(\"1.0\") == 1", .false),
        // Strings compare by Unicode scalars (no normalisation).
        ("\"\\u{e9}\" == \"e\\u{301}\"", .false), ("[\"\\u{e9}\", \"e\\u{301}\"].contains(\"e\\u{301}\")", .true),
        // in: transitive, X in X, missing entities have no ancestors, sets type-checked completely.
        ("principal in Group::\"Staff\"", .true), ("principal in principal", .true),
        ("User::\"ghost\" in User::\"ghost\"", .true), ("User::\"ghost\" in Group::\"Staff\"", .false),
        ("principal in [Group::\"Nope\", Group::\"Research\"]", .true),
        ("principal in [Group::\"Research\", 1]", .error),
        ("1 in Group::\"Staff\"", .error), ("principal in \"Group\"", .error),
        // has / attribute access.
        ("principal has tier", .true), ("principal has nope", .false), ("User::\"ghost\" has tier", .false),
        ("User::\"ghost\".tier == \"pro\"", .error), ("principal.nope == 1", .error),
        ("principal has addr.city", .true), ("principal has addr.zip", .false), ("principal has tier.x", .error),
        ("principal.addr[\"city\"] == \"Oslo\"", .true), ("{a: 1} has a", .true), ("1 has a", .error),
        ("context.params.max_results <= 50", .error), ("context has params", .false),
        // like over Unicode scalars.
        ("\"e\\u{301}\" like \"e*\"", .true), ("\"a*b\" like \"a\\*b\"", .true), ("\"axb\" like \"a\\*b\"", .false),
        ("\"\" like \"*\"", .true), ("\"abc\" like \"a*c*\"", .true), ("\"abc\" like \"*b\"", .false),
        ("1 like \"*\"", .error),
        // is.
        ("principal is User", .true), ("principal is Group", .false), ("1 is User", .error),
        ("principal is User in Group::\"Staff\"", .true), ("principal is Group in 1", .false),
        // sets.
        ("[1, 2].contains(2)", .true), ("[1, 2].containsAll([1])", .true), ("[1, 2].containsAll([3])", .false),
        ("[1, 2].containsAny([3, 2])", .true), ("[].isEmpty()", .true), ("1.contains(1)", .error),
        ("[1].containsAll(1)", .error),
        // tags.
        ("principal.hasTag(\"scope\")", .true), ("principal.getTag(\"scope\") like \"*refund:write*\"", .true),
        ("principal.getTag(\"nope\") == 1", .error), ("User::\"ghost\".hasTag(\"scope\")", .false),
        ("User::\"ghost\".getTag(\"scope\") == 1", .error), ("principal.hasTag(1)", .error),
        // decimal: methods only; < on decimals is a type error.
        ("resource.price.lessThanOrEqual(decimal(\"0.10\"))", .true), ("resource.price < decimal(\"0.10\")", .error),
        ("decimal(\"-0.5\").lessThan(decimal(\"0.0\"))", .true), ("decimal(\"1.23456\") == decimal(\"1.2\")", .error),
        ("decimal(\"1\") == decimal(\"1.0\")", .error), ("decimal(1) == decimal(\"1.0\")", .error),
        ("decimal(\"1.0\", \"2.0\") == decimal(\"1.0\")", .error),
        ("decimal(\"922337203685477.5807\").greaterThan(decimal(\"0.0\"))", .true),
        ("decimal(\"922337203685477.5808\") == decimal(\"0.0\")", .error),
        ("decimal(\"1.0\").lessThan(1)", .error),
        // Record access errors.
        ("{a: 1}.b == 1", .error), ("{a: 1}[\"a\"] == 1", .true),
    ]

    @Test("operators follow Cedar's semantics", arguments: cases)
    func operators(_ expression: String, _ expected: Outcome) throws {
        #expect(try outcome(expression, entities: EvaluatorTests.store) == expected, "\(expression)")
    }

    @Test("context values reach the evaluator with strict types")
    func context() throws {
        let context =
            #"{"params": {"max_results": 20, "tags": ["a", "a"]}, "amount": {"__extn": {"fn": "decimal", "arg": "0.05"}}}"#
        #expect(try outcome("context.params.max_results <= 50", context: context) == .true)
        #expect(try outcome("context.params.tags == [\"a\"]", context: context) == .true)
        #expect(try outcome("context.amount.lessThanOrEqual(decimal(\"0.10\"))", context: context) == .true)
        #expect(try outcome("context.amount <= decimal(\"0.10\")", context: context) == .error)
    }
}
