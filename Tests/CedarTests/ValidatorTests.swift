import Cedar
import Testing

/// Strict validation against a schema. Each verdict below was first observed with cedarpy 4.12.2's
/// `validate_policies` on the same schema (Tests/Interop/cedar/test_validation.py compares generated cases).
@Suite("Validator")
struct ValidatorTests {
    static let schema = CedarSchema(
        entityTypes: [
            SchemaEntityType(name: "Group", memberOf: ["Group"]),
            SchemaEntityType(
                name: "Agent", memberOf: ["Group"], attributes: ["tier": SchemaAttribute(.string, required: false)]),
            SchemaEntityType(
                name: "Tool",
                attributes: [
                    "tags": SchemaAttribute(.set(.string)),
                    "price": SchemaAttribute(.extension("decimal"), required: false),
                ]),
        ],
        actions: [
            SchemaAction(
                name: "call_tool", principals: ["Agent"], resources: ["Tool"],
                context: [
                    "params": SchemaAttribute(
                        .record([
                            "max_results": SchemaAttribute(.long, required: false),
                            "query": SchemaAttribute(.string, required: false),
                        ])),
                    "tool": SchemaAttribute(.string),
                ])
        ])

    func problems(_ text: String) throws -> [String] {
        try Validator(schema: Self.schema).validate(PolicySet(parsing: text)).map(\.message)
    }

    @Test(
        "accepted like Cedar",
        arguments: [
            #"permit(principal, action == Action::"call_tool", resource) when { context.params has max_results && context.params.max_results <= 50 };"#,
            #"permit(principal, action, resource) when { context.params has max_reslts && context.params.max_reslts <= 50 };"#,
            #"permit(principal, action, resource) when { principal == Tool::"x" };"#,
            #"permit(principal, action, resource) when { false };"#,
            #"permit(principal, action, resource) when { if principal has tier then principal.tier == "a" else false };"#,
            #"permit(principal in Agent::"x", action, resource);"#,
            #"permit(principal, action, resource) when { 1 == "1" && context.nothing };"#,
            #"permit(principal, action, resource) when { false && context.params.nothing == 1 };"#,
        ])
    func accepted(_ text: String) throws {
        #expect(try problems(text) == [])
    }

    @Test(
        "rejected like Cedar, with the reason",
        arguments: [
            (
                #"permit(principal, action, resource) when { context.params.max_reslts <= 50 };"#,
                "`params.max_reslts` in context for Action::\"call_tool\" not found (did you mean `max_results`?)"
            ),
            (#"permit(principal, action, resource) when { principal.teir == "pro" };"#, "did you mean `tier`?"),
            (#"permit(principal, action, resource) when { principal.tier == "pro" };"#, "optional attribute `tier`"),
            (
                #"permit(principal, action, resource) when { !(context.params has max_results) || context.params.max_results <= 50 };"#,
                "optional attribute `params.max_results`"
            ),
            (
                #"permit(principal, action, resource) when { context.tool == 1 };"#,
                "the types String and Long are not compatible"
            ),
            (#"permit(principal == User::"x", action, resource);"#, "unrecognized entity type `User`"),
            (#"permit(principal, action == Action::"nope", resource);"#, "unrecognized action `Action::\"nope\"`"),
            (#"permit(principal is Tool, action, resource);"#, "unable to find an applicable action"),
            (#"permit(principal, action, resource) when { [].isEmpty() };"#, "empty set literals are forbidden"),
            (
                #"permit(principal, action, resource) when { resource has price && resource.price < decimal("1.0") };"#,
                "expected datetime, or duration, or Long but saw decimal"
            ),
            (
                #"permit(principal, action, resource) when { decimal(context.tool) == decimal("1.0") };"#,
                "non-literal expressions"
            ),
            (
                #"permit(principal, action, resource) when { decimal("1.00000") == decimal("1.0") };"#,
                "argument validation"
            ),
            (#"permit(principal, action, resource) when { true || principal in Team::"x" };"#, "`Team`"),
            (#"permit(principal, action, resource) when { resource.tags.contains(1) };"#, "not compatible"),
            (#"permit(principal, action, resource) when { [principal, resource].isEmpty() };"#, "not compatible"),
        ])
    func rejected(_ text: String, _ reason: String) throws {
        let found = try problems(text)
        #expect(found.count >= 1)
        #expect(found.contains { $0.contains(reason) }, "\(found)")
    }

    @Test("a problem is placed at the attribute name at fault, in its file")
    func position() throws {
        let set = try PolicySet(sources: [
            ("p.cedar", "permit(principal, action, resource)\n  when { true }\n  when { principal.teir == 1 };")
        ])
        let found = Validator(schema: Self.schema).validate(set)
        #expect(
            found.map(\.description) == [
                "p.cedar:3:20: error: policy `policy0`: attribute `teir` on entity type `Agent` not found (did you mean `tier`?)"
            ])
    }

    /// The 1-based line and column (in Unicode scalars) where `needle` first occurs in `text`: the expected
    /// place, found from the text alone.
    static func place(of needle: String, in text: String) -> String? {
        let scalars = Array(text.unicodeScalars)
        let target = Array(needle.unicodeScalars)
        var line = 1
        var column = 1
        for start in scalars.indices {
            if scalars[start...].starts(with: target) { return "\(line):\(column)" }
            if scalars[start] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return nil
    }

    @Test(
        "each problem points at the sub-expression at fault, not at its when/unless clause",
        arguments: [
            // (policy, where the problem is: the first occurrence of this text, a part of the message)
            (
                "permit(principal, action, resource)\nwhen {\n  context.params has query &&\n  context.params.max_reslts <= 50\n};",
                "max_reslts", "not found"
            ),
            (
                "permit(principal, action, resource)\nwhen { context.params has query && context.params.max_results > 1 };",
                "max_results", "optional attribute `params.max_results`"
            ),
            (
                "permit(principal, action, resource)\nwhen { 1 < 2 &&\n       context.tool + 1 > 2 };",
                "context.tool +", "expected Long but saw String"
            ),
            (
                "permit(principal, action, resource) when {\n  principal is Robot };",
                "Robot", "unrecognized entity type `Robot`"
            ),
            (
                "permit(principal, action, resource) when {\n  true || principal in Team::\"x\" };",
                "Team::", "unrecognized entity type `Team`"
            ),
            (
                "permit(principal, action, resource) when { true &&\n  context.tool == 1 };",
                "context.tool ==", "the types String and Long are not compatible"
            ),
            (
                "permit(principal, action, resource) when {\n  resource.tags.contains(\n    1) };",
                "1)", "not compatible"
            ),
            (
                "permit(principal, action, resource) when {\n  resource has price && resource.price.lessThan(decimal(\"1.00000\")) };",
                "\"1.00000\"", "argument validation"
            ),
            (
                "permit(principal, action, resource) when { true } unless {\n  [] .isEmpty() };",
                "[]", "empty set literals"
            ),
            (
                "permit(principal, action, resource) when {\n  [principal,\n   resource].isEmpty() };",
                "resource]", "not compatible"
            ),
            (
                "permit(principal, action, resource) when {\n  (context.params has query) && 7 };",
                "7", "expected Bool but saw Long"
            ),
            ("permit(principal, action, resource) when {\n     1 };", "1", "expected Bool but saw Long"),
            (
                "permit(principal, action, resource) when { context.tool.isEmpty() };",
                "isEmpty", "expected Set but saw String"
            ),
        ])
    func placedAtTheSubexpression(_ text: String, _ needle: String, _ reason: String) throws {
        let found = Validator(schema: Self.schema).validate(try PolicySet(parsing: text))
        let expected = try #require(Self.place(of: needle, in: text))
        #expect(found.count == 1, "\(found)")
        #expect(found.contains { "\($0.position)" == expected && $0.message.contains(reason) }, "\(found)")
    }

    // MARK: Enumerated entity types

    /// A schema in a namespace with an enumerated entity type from another namespace, as the agents' shape has.
    static let enumSchema = CedarSchema(
        namespace: "N",
        entityTypes: [
            SchemaEntityType(name: "Agent"),
            SchemaEntityType(name: "N::t::Input::sort", enumValues: ["asc", "desc", "asc"]),
        ],
        actions: [
            SchemaAction(
                name: "t", principals: ["Agent"], resources: ["Agent"],
                context: [
                    "input": SchemaAttribute(
                        .record([
                            "sort": SchemaAttribute(.entity("N::t::Input::sort")),
                            "many": SchemaAttribute(.set(.entity("N::t::Input::sort")), required: false),
                        ]))
                ])
        ])

    func enumProblems(_ text: String) throws -> [String] {
        try Validator(schema: Self.enumSchema).validate(PolicySet(parsing: text)).map(\.message)
    }

    @Test(
        "enumerated entity types: listed ids and what Cedar allows on them validate",
        arguments: [
            #"permit(principal, action, resource) when { context.input.sort == N::t::Input::sort::"asc" };"#,
            #"permit(principal, action, resource) when { context.input.sort in N::t::Input::sort::"desc" };"#,
            #"permit(principal, action, resource) when { context.input.sort is N::t::Input::sort };"#,
            #"permit(principal, action, resource) when { context.input.sort has name };"#,
            #"permit(principal, action, resource) when { context.input.sort.hasTag("x") };"#,
            #"permit(principal, action, resource) when { context.input has many && context.input.many.contains(N::t::Input::sort::"asc") };"#,
            #"permit(principal, action, resource) when { context.input.sort == N::Agent::"x" };"#,
        ])
    func enumAccepted(_ text: String) throws {
        #expect(try enumProblems(text) == [])
    }

    @Test(
        "enumerated entity types: an undeclared id is an error wherever it is written; they have no attributes or tags",
        arguments: [
            (
                #"permit(principal, action, resource) when { context.input.sort == N::t::Input::sort::"up" };"#,
                #"entity `N::t::Input::sort::"up"` is of an enumerated entity type, but "up" is not declared as a valid eid"#
            ),
            (
                #"permit(principal, action, resource) when { false && N::t::Input::sort::"" == context.input.sort };"#,
                #"but "" is not declared"#
            ),
            (
                #"permit(principal, action, resource) when { [N::t::Input::sort::"asc", N::t::Input::sort::"no"].contains(context.input.sort) };"#,
                #"but "no" is not declared"#
            ),
            (
                #"permit(principal, action, resource) when { context.input.sort == "asc" };"#,
                "the types N::t::Input::sort and String are not compatible"
            ),
            (
                #"permit(principal, action, resource) when { context.input.sort.name == "asc" };"#,
                "attribute `name` on entity type `N::t::Input::sort` not found"
            ),
            (
                #"permit(principal, action, resource) when { context.input.sort.getTag("x") == 1 };"#,
                "tags are not permitted"
            ),
            (#"permit(principal == N::t::Input::sort::"up", action, resource);"#, #"but "up" is not declared"#),
        ])
    func enumRejected(_ text: String, _ reason: String) throws {
        let found = try enumProblems(text)
        #expect(found.contains { $0.contains(reason) }, "\(found)")
    }

    @Test("an undeclared enum id is placed at its literal")
    func enumPosition() throws {
        let text = "permit(principal, action, resource) when {\n  context.input.sort == N::t::Input::sort::\"up\" };"
        let found = Validator(schema: Self.enumSchema).validate(try PolicySet(parsing: text))
        #expect(found.map { "\($0.position)" } == [try #require(Self.place(of: "N::t::", in: text))])
    }

    @Test("an enumerated entity type is declared in its own namespace, in both schema forms, without duplicates")
    func enumRendering() {
        #expect(
            Self.enumSchema.cedarText == """
                namespace N::t::Input {
                  entity sort enum ["asc", "desc"];
                }
                namespace N {
                  entity Agent;
                  action "t" appliesTo {
                    principal: [Agent],
                    resource: [Agent],
                    context: { input: { many?: Set<N::t::Input::sort>, sort: N::t::Input::sort } }
                  };
                }

                """)
        let declared = #""N::t::Input":{"actions":{},"entityTypes":{"sort":{"enum":["asc","desc"]}}}"#
        #expect(Self.enumSchema.jsonText.contains(declared))
        #expect(Self.enumSchema.jsonText.contains(#""entityTypes":{"Agent":{}}"#))
    }

    @Test("the human schema form names every type, attribute and action")
    func rendering() {
        #expect(
            Self.schema.cedarText == """
                entity Group in [Group];
                entity Agent in [Group] { tier?: String };
                entity Tool { price?: decimal, tags: Set<String> };
                action "call_tool" appliesTo {
                  principal: [Agent],
                  resource: [Tool],
                  context: { params: { max_results?: Long, query?: String }, tool: String }
                };

                """)
    }
}
