import Cedar
import Foundation
import JSONCore
import Testing

@testable import Purser

/// The generated schemas and the argument mapping they promise.
@Suite("PolicySchema")
struct PolicySchemaTests {
    static let tools: [(name: String, inputSchema: JSONValue)] = [
        (
            "search_papers",
            try! JSONParser.parse(
                #"{"type":"object","properties":{"query":{"type":"string"},"max_results":{"type":"integer"}},"required":["query"]}"#
            )
        ),
        (
            "weather",
            try! JSONParser.parse(#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#)
        ),
    ]

    @Test("the agents' shape for search_papers and weather is what the official generator printed (cedar.md appendix)")
    func agentsShape() {
        let schema = PolicySchema.generate(shape: .agents, tools: Self.tools, entities: Entities())
        let text = schema.cedarText
        #expect(text.contains("type search_papersInput = { max_results?: Long, query: String };"))
        #expect(text.contains("type weatherInput = { city: String };"))
        #expect(text.contains("entity Agent;"))
        #expect(text.contains("entity McpServer;"))
        #expect(
            text.contains(
                """
                  action "search_papers" appliesTo {
                    principal: [Agent],
                    resource: [McpServer],
                    context: { input: search_papersInput }
                  };
                """))
        #expect(text.hasPrefix("namespace Purser {"))
    }

    @Test("Purser's shape: one params record, every argument optional; a conflicting argument is left out")
    func purserShape() throws {
        let conflicting =
            Self.tools + [
                ("other", try JSONParser.parse(#"{"type":"object","properties":{"city":{"type":"integer"}}}"#))
            ]
        let schema = PolicySchema.generate(shape: .purser, tools: conflicting, entities: Entities())
        let call = try #require(schema.actions.first { $0.name == "call_tool" })
        #expect(
            call.context["params"]
                == SchemaAttribute(
                    .record([
                        "query": SchemaAttribute(.string, required: false),
                        "max_results": SchemaAttribute(.long, required: false),
                    ])))
    }

    @Test("inputSchema types: integer → Long, number → decimal, arrays → sets, objects → records, others left out")
    func types() throws {
        let schema = try JSONParser.parse(
            #"{"type":"object","required":["n"],"properties":{"i":{"type":"integer"},"n":{"type":"number"},"b":{"type":"boolean"},"a":{"type":"array","items":{"type":"string"}},"o":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},"u":{},"nl":{"type":["string","null"]},"ai":{"type":"array"}}}"#
        )
        #expect(
            PolicySchema.inputType(schema)
                == .record([
                    "i": SchemaAttribute(.long, required: false), "n": SchemaAttribute(.extension("decimal")),
                    "b": SchemaAttribute(.bool, required: false), "a": SchemaAttribute(.set(.string), required: false),
                    "o": SchemaAttribute(.record(["x": SchemaAttribute(.long)]), required: false),
                ]))
    }

    @Test("a `number` argument written as an integer is a decimal in the context, as the schema says")
    func numberArgumentIsDecimal() throws {
        let schema = try JSONParser.parse(
            #"{"type":"object","properties":{"ratio":{"type":"number"},"n":{"type":"integer"}}}"#)
        let value = try PolicyContext.value(JSONParser.parse(#"{"ratio": 5, "n": 5}"#), schema: schema).get()
        #expect(value == .record(["ratio": .decimal(CedarDecimal(scaled: 50_000)), "n": .long(5)]))
        // Without a schema the lexeme decides, as before.
        let plain = try PolicyContext.value(JSONParser.parse(#"{"ratio": 5}"#)).get()
        #expect(plain == .record(["ratio": .long(5)]))
    }

    @Test("policy.json selects the shape; an unknown setting refuses the directory with its place")
    func settings() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-shape-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "permit(principal, action, resource);".write(
            to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        let settings = directory.appendingPathComponent("policy.json")
        try #"{"shape": "agents", "server": "srv"}"#.write(to: settings, atomically: true, encoding: .utf8)
        let files = try PolicyFiles.load(directory: directory.path)
        #expect(files.shape == .agents)
        #expect(files.server == "srv")
        try "{\n  \"shape\": \"agents\",\n  \"shap\": 1\n}".write(to: settings, atomically: true, encoding: .utf8)
        #expect(throws: PolicyLoadError.self) { try PolicyFiles.load(directory: directory.path) }
        do {
            _ = try PolicyFiles.load(directory: directory.path)
        } catch {
            #expect(error.diagnostic.location == SourceLocation(line: 3, column: 11))
            #expect(error.diagnostic.message.contains("unknown setting `shap`"))
        }
    }

    @Test("the example policies validate against the example tools, with no warning left")
    func examplesValidate() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (manifests, problems) = ToolManifestLoader.loadDirectory(root.appendingPathComponent("tools").path)
        #expect(problems.isEmpty)
        let directory = root.appendingPathComponent("policies").path
        #expect(PolicyStore.lint(directory: directory, tools: manifests).map(\.description) == [])
        // Without the schema, the lint cannot know `context.session.toolWindowPayments` exists when
        // `context.session` does, and says so.
        #expect(PolicyStore.lint(directory: directory).count == 1)
    }

    @Test("the pay context's change facts are in the schema: a change rule validates, a misspelt fact does not")
    func changeFactsValidate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-schema-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let rule = """
            permit (principal, action == Action::"call_tool", resource);
            forbid (principal, action == Action::"pay", resource)
            when { context.payeeIsNew || context.networkChanged || context.priceRatio.greaterThan(decimal("2.0")) };

            """
        try rule.write(to: directory.appendingPathComponent("change.cedar"), atomically: true, encoding: .utf8)
        #expect(PolicyStore.lint(directory: directory.path, tools: []).map(\.description) == [])
        try rule.replacingOccurrences(of: "context.payeeIsNew", with: "context.payeeIsNw")
            .write(to: directory.appendingPathComponent("change.cedar"), atomically: true, encoding: .utf8)
        let problems = PolicyStore.lint(directory: directory.path, tools: []).map(\.description)
        #expect(problems.contains { $0.contains("payeeIsNw") && $0.contains("did you mean `payeeIsNew`") })
    }

    // MARK: String enums

    static let newsSchema = try! JSONParser.parse(
        #"""
        {"type":"object","required":["section"],"properties":{
          "section":{"type":"string","enum":["world","sports"]},
          "tags":{"type":"array","items":{"type":"string","enum":["x","y","x"]}},
          "opts":{"type":"object","properties":{"color":{"type":"string","enum":["red"]}}},
          "my-field":{"type":"string","enum":["a"]},
          "n":{"type":"integer","enum":[1,2]},
          "mixed":{"type":"string","enum":["a",1]},
          "title":{"type":"string"}}}
        """#)

    @Test(
        "agents' shape: a string enum is an enumerated entity type named by its path, as the generator names it")
    func enumTypes() throws {
        let schema = PolicySchema.generate(
            shape: .agents, tools: [("news", Self.newsSchema), ("bad-name", Self.newsSchema)], entities: Entities())
        let input = try #require(schema.commonTypes["newsInput"])
        #expect(
            input
                == .record([
                    "section": SchemaAttribute(.entity("Purser::news::Input::section")),
                    "tags": SchemaAttribute(.set(.entity("Purser::news::Input::tags")), required: false),
                    "opts": SchemaAttribute(
                        .record(["color": SchemaAttribute(.entity("Purser::news::Input::opts::color"), required: false)]
                        ),
                        required: false),
                    // Not expressible as a Cedar name, or not an enum of strings: the base type.
                    "my-field": SchemaAttribute(.string, required: false),
                    "n": SchemaAttribute(.long, required: false),
                    "mixed": SchemaAttribute(.string, required: false),
                    "title": SchemaAttribute(.string, required: false),
                ]))
        // A tool whose name cannot be part of a Cedar name keeps its enums as strings.
        #expect(
            schema.commonTypes["bad-nameInput"].map {
                if case .record(let fields) = $0 { return fields["section"]?.type == .string }
                return false
            } == true)
        let enums = schema.entityTypes.filter { $0.enumValues != nil }
        #expect(
            enums.map(\.name) == [
                "Purser::news::Input::opts::color", "Purser::news::Input::section", "Purser::news::Input::tags",
            ])
        #expect(enums.map(\.enumValues) == [["red"], ["world", "sports"], ["x", "y"]])
        let text = schema.cedarText
        #expect(text.contains("namespace Purser::news::Input {\n  entity section enum [\"world\", \"sports\"];"))
        #expect(text.contains("namespace Purser::news::Input::opts {\n  entity color enum [\"red\"];\n}"))
        // Purser's own shape keeps strings.
        let purser = PolicySchema.generate(shape: .purser, tools: [("news", Self.newsSchema)], entities: Entities())
        #expect(!purser.entityTypes.contains { $0.enumValues != nil })
    }

    @Test("agents' shape: an enum argument is the entity of its enumerated type in the context, named the same way")
    func enumArguments() throws {
        let arguments = try JSONParser.parse(
            #"{"section":"world","tags":["y"],"opts":{"color":"red"},"my-field":"a","title":"t"}"#)
        let namespace = try #require(PolicySchema.enumNamespace(tool: "news"))
        let value = try PolicyContext.value(arguments, schema: Self.newsSchema, enumType: namespace).get()
        #expect(
            value
                == .record([
                    "section": .entity(EntityUID(type: "Purser::news::Input::section", id: "world")),
                    "tags": .set([.entity(EntityUID(type: "Purser::news::Input::tags", id: "y"))]),
                    "opts": .record(["color": .entity(EntityUID(type: "Purser::news::Input::opts::color", id: "red"))]),
                    "my-field": .string("a"), "title": .string("t"),
                ]))
        #expect(PolicySchema.enumNamespace(tool: "bad-name") == nil)
        #expect(PolicySchema.enumNamespace(tool: "if") == nil)
        // Without an enum type (Purser's shape) the strings stay strings.
        let plain = try PolicyContext.value(arguments, schema: Self.newsSchema).get()
        #expect(
            plain
                == .record([
                    "section": .string("world"), "tags": .set([.string("y")]),
                    "opts": .record(["color": .string("red")]),
                    "my-field": .string("a"), "title": .string("t"),
                ]))
    }

    @Test(
        "agents' shape: a policy on an enum argument validates and decides calls; comparing it with a string does not validate"
    )
    func enumDecisions() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-enum-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try #"{"shape": "agents", "server": "srv"}"#.write(
            to: directory.appendingPathComponent("policy.json"), atomically: true, encoding: .utf8)
        let policy = """
            @id("world-news")
            permit (principal, action == Purser::Action::"news", resource)
            when { context.input.section == Purser::news::Input::section::"world" };

            """
        try policy.write(to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        var tool = ToolFacts(name: "news")
        tool.inputSchema = Self.newsSchema
        let store = PolicyStore(directory: directory.path)
        let world = await store.authorizeToolCall(agent: "a", tool: tool, arguments: ["section": "world"])
        #expect(world.allowed && world.deciding == ["world-news"])
        let sports = await store.authorizeToolCall(agent: "a", tool: tool, arguments: ["section": "sports"])
        #expect(!sports.allowed && sports.errors.isEmpty)

        let text =
            #"{"name":"news","description":"d","inputSchema":\#(Self.newsSchema.serialized()),"#
            + #""upstream":{"method":"GET","url":"http://127.0.0.1:9/x"}}"#
        let (loaded, diagnostics) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "news.json")
        let manifest = try #require(loaded, "\(diagnostics)")
        #expect(PolicyStore.lint(directory: directory.path, tools: [manifest]).map(\.description) == [])
        try policy.replacingOccurrences(of: #"Purser::news::Input::section::"world""#, with: #""world""#)
            .write(to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        let problems = PolicyStore.lint(directory: directory.path, tools: [manifest]).map(\.description)
        #expect(problems.count == 1 && problems.contains { $0.contains("are not compatible") }, "\(problems)")
    }

    @Test("agents' shape: entities.json types in nested namespaces are declared there; an enum type is declared once")
    func nestedNamespaces() throws {
        let entities = try Entities(
            json: #"""
                [{"uid":{"type":"Purser::Agent","id":"a"},"attrs":{},"parents":[{"type":"Purser::x::G","id":"g"}]},
                 {"uid":{"type":"Purser::news::Input::section","id":"world"},"attrs":{},"parents":[]}]
                """#)
        let schema = PolicySchema.generate(shape: .agents, tools: [("news", Self.newsSchema)], entities: entities)
        let text = schema.cedarText
        #expect(text.contains("namespace Purser::x {\n  entity G;\n}"), "\(text)")
        #expect(text.contains("entity Agent in [Purser::x::G];"), "\(text)")
        #expect(schema.entityTypes.filter { $0.name == "Purser::news::Input::section" }.count == 1)
        #expect(text.components(separatedBy: "entity section").count == 2, "\(text)")
        let set = try PolicySet(
            parsing: #"permit (principal in Purser::x::G::"g", action == Purser::Action::"news", resource);"#)
        #expect(Validator(schema: schema).validate(set).isEmpty)
    }

    @Test("a type met only as an attribute's value in entities.json is declared, in both shapes")
    func attributeValueTypesDeclared() throws {
        for (shape, prefix) in [(PolicyShape.purser, ""), (.agents, "Purser::")] {
            let entities = try Entities(
                json: """
                    [{"uid":{"type":"\(prefix)Agent","id":"a"},"parents":[],
                      "attrs":{"home":{"__entity":{"type":"\(prefix)Region","id":"eu"}},
                               "teams":[{"__entity":{"type":"\(prefix)Team","id":"t"}}]}}]
                    """)
            let schema = PolicySchema.generate(shape: shape, tools: [("news", Self.newsSchema)], entities: entities)
            let names = Set(schema.entityTypes.map(\.name))
            #expect(names.contains("Region") && names.contains("Team"), "\(shape): \(schema.cedarText)")
        }
    }
}
