public import Cedar
public import JSONCore

/// How policies describe a call: Purser's own shape, or the cedar-for-agents shape (docs/policies.md).
public enum PolicyShape: String, Sendable, Hashable, CaseIterable {
    /// `Agent::"<id>"`, `Action::"call_tool"` / `Action::"pay"`, `Tool::"<name>"`, arguments in `context.params`.
    case purser
    /// `Purser::Agent::"<id>"`, `Purser::Action::"<tool>"`, `Purser::McpServer::"<server>"`, arguments in
    /// `context.input` (as `cedar-policy-mcp-schema-generator` describes a tool with `numbersAsDecimal` and
    /// `objectsAsRecords`); payments are `Purser::Action::"pay"` on the same resource.
    case agents
}

/// Generates the Cedar schema policies are validated against, from the tool manifests, the entities Purser
/// uses (and those in `entities.json`), and the call and pay contexts.
public enum PolicySchema {
    /// The namespace of the agents' shape.
    public static let agentsNamespace = "Purser"

    /// The schema for `shape`.
    ///
    /// - Parameters:
    ///   - tools: the tool manifests' names and `inputSchema` documents.
    ///   - entities: the `entities.json` store; each type it uses is declared, with every attribute it carries
    ///     as optional (an agent missing from the file has none, so policies must test `has`).
    public static func generate(
        shape: PolicyShape, tools: [(name: String, inputSchema: JSONValue)], entities: Entities
    ) -> CedarSchema {
        switch shape {
        case .purser: return purser(tools: tools, entities: entities)
        case .agents: return agents(tools: tools, entities: entities)
        }
    }

    /// The context every decision sees about the session (`context.session`, see `SessionFacts`).
    static let sessionType: SchemaType = .record([
        "spent": SchemaAttribute(.extension("decimal")), "held": SchemaAttribute(.extension("decimal")),
        "remaining": SchemaAttribute(.extension("decimal")), "windowPayments": SchemaAttribute(.long),
        "windowAmount": SchemaAttribute(.extension("decimal")), "toolPayments": SchemaAttribute(.long),
        "toolWindowPayments": SchemaAttribute(.long), "toolSpent": SchemaAttribute(.extension("decimal")),
    ])

    static let clientType: SchemaType = .record([
        "name": SchemaAttribute(.string, required: false), "version": SchemaAttribute(.string, required: false),
    ])

    /// The pay context minus the tool arguments.
    static let payContext: [String: SchemaAttribute] = [
        "amount": SchemaAttribute(.extension("decimal")), "amountAtomic": SchemaAttribute(.long),
        "asset": SchemaAttribute(.string), "network": SchemaAttribute(.string), "payTo": SchemaAttribute(.string),
        "tool": SchemaAttribute(.string), "session": SchemaAttribute(sessionType, required: false),
        // Change detection (ChangeDetectionStep): always present in the pay context.
        "payeeIsNew": SchemaAttribute(.bool), "networkChanged": SchemaAttribute(.bool),
        "priceRatio": SchemaAttribute(.extension("decimal")),
        // Spend plans (SpendPlanStep): always present; true for a step of the session's approved plan.
        "inPlan": SchemaAttribute(.bool),
    ]

    private static func purser(tools: [(name: String, inputSchema: JSONValue)], entities: Entities)
        -> CedarSchema
    {
        // One `params` type for every tool: the union of their arguments, all optional (only one tool has
        // each); an argument two tools type differently is left out.
        var params: [String: SchemaAttribute] = [:]
        var conflicting = Set<String>()
        for tool in tools {
            guard case .record(let fields) = inputType(tool.inputSchema) else { continue }
            for (name, field) in fields where !conflicting.contains(name) {
                if let existing = params[name], existing.type != field.type {
                    params[name] = nil
                    conflicting.insert(name)
                } else {
                    params[name] = SchemaAttribute(field.type, required: false)
                }
            }
        }
        var types = declaredTypes(entities, namespace: nil)
        merge(&types, SchemaEntityType(name: "Agent"))
        merge(&types, SchemaEntityType(name: "ToolGroup"))
        merge(
            &types,
            SchemaEntityType(
                name: "Tool", memberOf: ["ToolGroup"],
                attributes: [
                    "name": SchemaAttribute(.string), "tags": SchemaAttribute(.set(.string)),
                    "price": SchemaAttribute(.extension("decimal"), required: false),
                    "priceAsset": SchemaAttribute(.string, required: false),
                ]))
        var payContext = Self.payContext
        payContext["params"] = SchemaAttribute(.record(params))
        let call = SchemaAction(
            name: "call_tool", principals: ["Agent"], resources: ["Tool"],
            context: [
                "params": SchemaAttribute(.record(params)), "tool": SchemaAttribute(.string),
                "client": SchemaAttribute(clientType, required: false),
                "session": SchemaAttribute(sessionType, required: false),
            ])
        let pay = SchemaAction(name: "pay", principals: ["Agent"], resources: ["Tool"], context: payContext)
        return CedarSchema(entityTypes: types, actions: [call, pay])
    }

    private static func agents(tools: [(name: String, inputSchema: JSONValue)], entities: Entities)
        -> CedarSchema
    {
        var types = declaredTypes(entities, namespace: agentsNamespace)
        merge(&types, SchemaEntityType(name: "Agent"))
        merge(&types, SchemaEntityType(name: "McpServer"))
        var common: [String: SchemaType] = [:]
        var actions: [SchemaAction] = []
        var enums: [SchemaEntityType] = []
        for tool in tools.sorted(by: { $0.name < $1.name }) {
            let input = inputType(tool.inputSchema, enumType: enumNamespace(tool: tool.name), enums: &enums)
            common["\(tool.name)Input"] = input
            actions.append(
                SchemaAction(
                    name: tool.name, principals: ["Agent"], resources: ["McpServer"],
                    context: ["input": SchemaAttribute(input)]))
        }
        actions.append(
            SchemaAction(name: "pay", principals: ["Agent"], resources: ["McpServer"], context: Self.payContext))
        // An enum type is declared once, as an enum, even if entities.json uses its name.
        let enumNames = Set(enums.map(\.name))
        types.removeAll { enumNames.contains($0.name) }
        types += enums.sorted { $0.name < $1.name }
        return CedarSchema(namespace: agentsNamespace, commonTypes: common, entityTypes: types, actions: actions)
    }

    /// A tool's arguments as a record: `integer` → Long, `number` → decimal, `string` → String, `boolean` →
    /// Bool, `array` with typed `items` → Set, `object` with `properties` → record; `required` as declared.
    /// Properties of any other form (no `type`, a type list, `null`, an untyped array or object) are left out,
    /// so a policy cannot read them: Purser refuses what it cannot type rather than guess.
    ///
    /// A string `enum` stays a String here (Purser's shape); see `inputType(_:enumType:enums:)` for the agents'.
    public static func inputType(_ schema: JSONValue) -> SchemaType {
        var ignored: [SchemaEntityType] = []
        return inputType(schema, enumType: nil, enums: &ignored)
    }

    /// As `inputType(_:)`, but a `"type": "string"` property with an `enum` of strings becomes an enumerated
    /// entity type, as `cedar-policy-mcp-schema-generator` makes it: property `p` of tool `t` is
    /// `Purser::t::Input::p`, nested properties extend the path (`Purser::t::Input::opts::color`), and array
    /// items take their property's name. The declarations are appended to `enums`.
    ///
    /// - Parameter enumType: the name prefix for this object's properties (`Purser::t::Input`), or nil where
    ///   no type can be named (a tool or property name that is not a Cedar identifier): there the enum stays a
    ///   String, in the schema and in the context alike (`PolicyContext.value`).
    public static func inputType(_ schema: JSONValue, enumType: String?, enums: inout [SchemaEntityType])
        -> SchemaType
    {
        guard case .object(let object) = schema, case .object(let properties)? = object["properties"] else {
            return .record([:])
        }
        var required = Set<String>()
        if case .array(let names)? = object["required"] {
            for case .string(let name) in names { required.insert(name) }
        }
        var fields: [String: SchemaAttribute] = [:]
        for (name, property) in properties {
            if let type = type(property, enumType: enumName(enumType, name), enums: &enums) {
                fields[name] = SchemaAttribute(type, required: required.contains(name))
            }
        }
        return .record(fields)
    }

    static func type(_ property: JSONValue, enumType: String?, enums: inout [SchemaEntityType]) -> SchemaType? {
        guard case .object(let object) = property, case .string(let name)? = object["type"] else { return nil }
        switch name {
        case "integer": return .long
        case "number": return .extension("decimal")
        case "string":
            if let enumType, let values = stringEnum(property) {
                enums.append(SchemaEntityType(name: enumType, enumValues: values))
                return .entity(enumType)
            }
            return .string
        case "boolean": return .bool
        case "array":
            // Items are named after their property (`tags: Set<Purser::t::Input::tags>`).
            guard let items = object["items"], let element = type(items, enumType: enumType, enums: &enums) else {
                return nil
            }
            return .set(element)
        case "object":
            guard case .object? = object["properties"] else { return nil }
            return inputType(property, enumType: enumType, enums: &enums)
        default: return nil
        }
    }

    /// The namespace of a tool's enumerated argument types in the agents' shape (`Purser::<tool>::Input`), or
    /// nil when the tool's name cannot be part of a Cedar name.
    public static func enumNamespace(tool: String) -> String? {
        isIdentifier(tool) ? "\(agentsNamespace)::\(tool)::Input" : nil
    }

    /// `parent::key`, when there is a parent and `key` is a Cedar identifier (not a reserved word).
    public static func enumName(_ parent: String?, _ key: String) -> String? {
        guard let parent, isIdentifier(key) else { return nil }
        return "\(parent)::\(key)"
    }

    /// `[_a-zA-Z][_a-zA-Z0-9]*`, not a reserved word, without `__cedar`.
    private static func isIdentifier(_ text: String) -> Bool {
        func letter(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
        }
        guard let first = text.unicodeScalars.first, letter(first),
            text.unicodeScalars.allSatisfy({ letter($0) || ("0"..."9").contains($0) })
        else { return false }
        return !reservedWords.contains(text) && !text.contains("__cedar")
    }

    private static let reservedWords: Set<String> = ["true", "false", "if", "then", "else", "in", "like", "has", "is"]

    /// The values of a `"type": "string"` property's `enum` when it is a non-empty array of strings.
    public static func stringEnum(_ property: JSONValue?) -> [String]? {
        guard case .object(let object)? = property, case .string("string")? = object["type"],
            case .array(let items)? = object["enum"], !items.isEmpty
        else { return nil }
        var values: [String] = []
        for item in items {
            guard case .string(let value) = item else { return nil }
            values.append(value)
        }
        return values
    }

    /// The types used in `entities.json`, with the attributes and parent types seen.
    private static func declaredTypes(_ entities: Entities, namespace: String?) -> [SchemaEntityType] {
        var byName: [String: SchemaEntityType] = [:]
        var order: [String] = []
        let prefix = namespace.map { "\($0)::" } ?? ""
        for entity in entities.all.sorted(by: { $0.uid.description < $1.uid.description }) {
            guard let name = localName(entity.uid.type.value, prefix: prefix) else { continue }
            if byName[name] == nil {
                byName[name] = SchemaEntityType(name: name)
                order.append(name)
            }
            for parent in entity.parents {
                guard let parentName = localName(parent.type.value, prefix: prefix) else { continue }
                if !(byName[name]?.memberOf.contains(parentName) ?? true) { byName[name]?.memberOf.append(parentName) }
                if byName[parentName] == nil {
                    byName[parentName] = SchemaEntityType(name: parentName)
                    order.append(parentName)
                }
            }
            for (key, value) in entity.attributes {
                guard let type = type(of: value, prefix: prefix) else { continue }
                if let existing = byName[name]?.attributes[key.value], existing.type != type {
                    continue
                }
                byName[name]?.attributes[key.value] = SchemaAttribute(type, required: false)
                // A type met only as an attribute's value is declared too: Cedar refuses a schema that uses a
                // type it does not declare.
                for referenced in entityTypes(in: type) where byName[referenced] == nil {
                    byName[referenced] = SchemaEntityType(name: referenced)
                    order.append(referenced)
                }
            }
        }
        return order.sorted().compactMap { byName[$0] }.map { entity in
            var sorted = entity
            sorted.memberOf.sort()
            return sorted
        }
    }

    /// The entity types a schema type mentions, at any depth (set elements, record fields).
    private static func entityTypes(in type: SchemaType) -> [String] {
        switch type {
        case .entity(let name): return [name]
        case .set(let element): return entityTypes(in: element)
        case .record(let attributes): return attributes.values.flatMap { entityTypes(in: $0.type) }
        default: return []
        }
    }

    /// A type's name as the schema declares it: without `prefix` (the schema's namespace) when it is directly in
    /// it, fully qualified when it is in a namespace nested in it (`Purser::t::Input::x`, declared in a namespace
    /// block of its own), nil when it is outside.
    private static func localName(_ name: String, prefix: String) -> String? {
        guard !prefix.isEmpty else { return name }
        guard name.hasPrefix(prefix) else { return nil }
        let local = String(name.dropFirst(prefix.count))
        return local.contains("::") ? name : local
    }

    private static func type(of value: CedarValue, prefix: String) -> SchemaType? {
        switch value {
        case .bool: return .bool
        case .long: return .long
        case .string: return .string
        case .decimal: return .extension("decimal")
        case .ipaddr: return .extension("ipaddr")
        case .datetime: return .extension("datetime")
        case .duration: return .extension("duration")
        case .entity(let uid):
            return localName(uid.type.value, prefix: prefix).map { .entity($0) }
        case .set(let elements):
            let types = Set(elements.compactMap { type(of: $0, prefix: prefix) })
            guard types.count == 1, let element = types.first else { return elements.isEmpty ? .set(.string) : nil }
            return .set(element)
        case .record(let fields):
            var attributes: [String: SchemaAttribute] = [:]
            for (key, field) in fields {
                guard let type = type(of: field, prefix: prefix) else { return nil }
                attributes[key.value] = SchemaAttribute(type)
            }
            return .record(attributes)
        }
    }

    /// Adds `entity`, or merges its parents and attributes into an existing declaration (Purser's facts win).
    private static func merge(_ types: inout [SchemaEntityType], _ entity: SchemaEntityType) {
        guard let index = types.firstIndex(where: { $0.name == entity.name }) else {
            types.append(entity)
            types.sort { $0.name < $1.name }
            return
        }
        for parent in entity.memberOf where !types[index].memberOf.contains(parent) {
            types[index].memberOf.append(parent)
        }
        types[index].memberOf.sort()
        for (key, attribute) in entity.attributes { types[index].attributes[key] = attribute }
    }
}
