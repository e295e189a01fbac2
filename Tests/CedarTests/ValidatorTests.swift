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

    @Test("a problem is placed at its condition, in its file")
    func position() throws {
        let set = try PolicySet(sources: [
            ("p.cedar", "permit(principal, action, resource)\n  when { true }\n  when { principal.teir == 1 };")
        ])
        let found = Validator(schema: Self.schema).validate(set)
        #expect(
            found.map(\.description) == [
                "p.cedar:3:3: error: policy `policy0`: attribute `teir` on entity type `Agent` not found (did you mean `tier`?)"
            ])
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
