/// The type of an attribute, a context field or a tag in a Cedar schema.
public indirect enum SchemaType: Sendable, Hashable {
    case bool
    case long
    case string
    case set(SchemaType)
    /// A closed record: only the listed attributes exist.
    case record([String: SchemaAttribute])
    /// An entity of the named type (relative to the schema's namespace when unqualified).
    case entity(String)
    /// An extension type: `decimal`, `ipaddr`, `datetime` or `duration`.
    case `extension`(String)
}

/// One attribute of a record or entity type.
public struct SchemaAttribute: Sendable, Hashable {
    /// Its type.
    public var type: SchemaType
    /// False for `name?: T`: policies must test `has name` before reading it.
    public var required: Bool

    /// Creates an attribute.
    public init(_ type: SchemaType, required: Bool = true) {
        self.type = type
        self.required = required
    }
}

/// An entity type declaration: `entity Agent in [Group] { tier?: String } tags String;`, or an enumerated
/// entity type: `entity Color enum ["red", "green"];`.
public struct SchemaEntityType: Sendable, Hashable {
    /// The type name: without namespace for a type of the schema's namespace, or fully qualified
    /// (`Purser::search_papers::Input::sort`) for a type of another namespace, which the schema renders in a
    /// namespace block of its own.
    public var name: String
    /// Entity types its instances may have as parents.
    public var memberOf: [String]
    /// Its attributes.
    public var attributes: [String: SchemaAttribute]
    /// The type of its tags, if it may have tags.
    public var tags: SchemaType?
    /// For an enumerated entity type, the only entity ids it has (in declaration order); such a type has no
    /// attributes, parents or tags.
    public var enumValues: [String]?

    /// Creates a declaration.
    public init(
        name: String, memberOf: [String] = [], attributes: [String: SchemaAttribute] = [:], tags: SchemaType? = nil
    ) {
        self.name = name
        self.memberOf = memberOf
        self.attributes = attributes
        self.tags = tags
    }

    /// Creates an enumerated entity type whose entities are exactly `name::"<value>"` for the given values
    /// (duplicates are dropped).
    public init(name: String, enumValues: [String]) {
        self.name = name
        self.memberOf = []
        self.attributes = [:]
        var seen = Set<String>()
        self.enumValues = enumValues.filter { seen.insert($0).inserted }
    }
}

/// An action declaration: `action "pay" in [...] appliesTo { principal: [...], resource: [...], context: {...} };`.
public struct SchemaAction: Sendable, Hashable {
    /// The action id (`Action::"<name>"`).
    public var name: String
    /// Action groups (ids of other actions) it belongs to.
    public var memberOf: [String]
    /// Principal entity types it applies to.
    public var principals: [String]
    /// Resource entity types it applies to.
    public var resources: [String]
    /// The context record's attributes.
    public var context: [String: SchemaAttribute]

    /// Creates a declaration.
    public init(
        name: String, memberOf: [String] = [], principals: [String], resources: [String],
        context: [String: SchemaAttribute] = [:]
    ) {
        self.name = name
        self.memberOf = memberOf
        self.principals = principals
        self.resources = resources
        self.context = context
    }
}

/// A Cedar schema (one namespace, or none): what `purser policy schema` prints and `purser check` validates
/// against.
public struct CedarSchema: Sendable, Hashable {
    /// The namespace (`Purser` for the agents' shape), or nil for the empty namespace.
    public var namespace: String?
    /// Named record types (`type search_papersInput = {...};`), used by the rendering only.
    public var commonTypes: [String: SchemaType]
    /// Entity types, in declaration order.
    public var entityTypes: [SchemaEntityType]
    /// Actions, in declaration order.
    public var actions: [SchemaAction]

    /// Creates a schema.
    public init(
        namespace: String? = nil, commonTypes: [String: SchemaType] = [:], entityTypes: [SchemaEntityType],
        actions: [SchemaAction]
    ) {
        self.namespace = namespace
        self.commonTypes = commonTypes
        self.entityTypes = entityTypes
        self.actions = actions
    }

    /// `name` with the namespace prefix, as policies write it (`Purser::Agent`).
    public func qualified(_ name: String) -> String {
        guard let namespace, !name.contains("::") else { return name }
        return "\(namespace)::\(name)"
    }

    /// The action entity type (`Action` or `Purser::Action`).
    public var actionType: String { qualified("Action") }
}

extension CedarSchema {
    /// The namespace an entity type is declared in and its name there: a qualified name's prefix, else the
    /// schema's namespace.
    func placement(of entity: SchemaEntityType) -> (namespace: String?, name: String) {
        let scalars = Array(entity.name.unicodeScalars)
        guard let colon = scalars.indices.dropFirst().last(where: { scalars[$0] == ":" && scalars[$0 - 1] == ":" })
        else { return (namespace, entity.name) }
        var prefix = String.UnicodeScalarView()
        prefix.append(contentsOf: scalars[..<(colon - 1)])
        var name = String.UnicodeScalarView()
        name.append(contentsOf: scalars[(colon + 1)...])
        return (String(prefix), String(name))
    }

    /// Entity types declared in namespaces other than the schema's, by namespace, sorted.
    private var otherNamespaces: [(namespace: String, entities: [(name: String, type: SchemaEntityType)])] {
        var byNamespace: [String: [(name: String, type: SchemaEntityType)]] = [:]
        for entity in entityTypes {
            let (space, name) = placement(of: entity)
            guard let space, space != namespace else { continue }
            byNamespace[space, default: []].append((name, entity))
        }
        return byNamespace.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private static func declaration(_ name: String, _ entity: SchemaEntityType, indent: String) -> String {
        var line = "\(indent)entity \(name)"
        if let values = entity.enumValues {
            return line + " enum [\(values.map { quoteCedarString($0) }.joined(separator: ", "))];"
        }
        if !entity.memberOf.isEmpty { line += " in [\(entity.memberOf.joined(separator: ", "))]" }
        if !entity.attributes.isEmpty { line += " " + Self.render(.record(entity.attributes)) }
        if let tags = entity.tags { line += " tags \(Self.render(tags))" }
        return line + ";"
    }

    /// The human-readable schema format (`.cedarschema`).
    public var cedarText: String {
        var lines: [String] = []
        for (space, entities) in otherNamespaces {
            lines.append("namespace \(space) {")
            for (name, entity) in entities { lines.append(Self.declaration(name, entity, indent: "  ")) }
            lines.append("}")
        }
        let indent = namespace == nil ? "" : "  "
        if let namespace { lines.append("namespace \(namespace) {") }
        for (name, type) in commonTypes.sorted(by: { $0.key < $1.key }) {
            lines.append("\(indent)type \(name) = \(Self.render(type));")
        }
        for entity in entityTypes {
            let (space, name) = placement(of: entity)
            guard space == namespace else { continue }
            lines.append(Self.declaration(name, entity, indent: indent))
        }
        for action in actions {
            var line = "\(indent)action \(quoteCedarString(action.name))"
            if !action.memberOf.isEmpty {
                line += " in [\(action.memberOf.map { quoteCedarString($0) }.joined(separator: ", "))]"
            }
            line += " appliesTo {\n\(indent)  principal: [\(action.principals.joined(separator: ", "))],"
            line += "\n\(indent)  resource: [\(action.resources.joined(separator: ", "))],"
            line += "\n\(indent)  context: \(render(contextOf: action))\n\(indent)};"
            lines.append(line)
        }
        if namespace != nil { lines.append("}") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A context written by the name of an identical common type when there is one.
    private func render(contextOf action: SchemaAction) -> String {
        Self.render(.record(action.context), commonTypes: commonTypes)
    }

    static func render(_ type: SchemaType, commonTypes: [String: SchemaType] = [:]) -> String {
        switch type {
        case .bool: return "Bool"
        case .long: return "Long"
        case .string: return "String"
        case .set(let element): return "Set<\(render(element, commonTypes: commonTypes))>"
        case .entity(let name): return name
        case .extension(let name): return name
        case .record(let attributes):
            if attributes.isEmpty { return "{}" }
            let fields = attributes.sorted { $0.key < $1.key }.map { key, attribute in
                let named = commonTypes.first { $0.value == attribute.type }?.key
                let rendered = named ?? render(attribute.type, commonTypes: commonTypes)
                return "\(quoteIfNeeded(key))\(attribute.required ? "" : "?"): \(rendered)"
            }
            return "{ " + fields.joined(separator: ", ") + " }"
        }
    }

    private static func quoteIfNeeded(_ key: String) -> String {
        !key.contains(":") && CedarData.isValidTypeName(key) ? key : quoteCedarString(key)
    }

    /// The JSON schema format (`.cedarschema.json`), with common types written inline, as a compact JSON text
    /// with sorted keys.
    public var jsonText: String {
        var entityTypes: [(String, String)] = []
        var namespaces: [(String, String)] = []
        for (space, entities) in otherNamespaces {
            let declared = entities.map { name, entity in (name, Self.jsonDeclaration(entity)) }
            namespaces.append(
                (space, Self.object([("actions", Self.object([])), ("entityTypes", Self.object(declared))])))
        }
        for entity in self.entityTypes {
            let (space, name) = placement(of: entity)
            guard space == namespace else { continue }
            entityTypes.append((name, Self.jsonDeclaration(entity)))
        }
        var actions: [(String, String)] = []
        for action in self.actions {
            var fields: [(String, String)] = []
            if !action.memberOf.isEmpty {
                let ids = action.memberOf.map { Self.object([("id", Self.json($0))]) }
                fields.append(("memberOf", "[" + ids.joined(separator: ",") + "]"))
            }
            let applies = Self.object([
                ("context", Self.json(.record(action.context))),
                ("principalTypes", "[" + action.principals.map { Self.json($0) }.joined(separator: ",") + "]"),
                ("resourceTypes", "[" + action.resources.map { Self.json($0) }.joined(separator: ",") + "]"),
            ])
            fields.append(("appliesTo", applies))
            actions.append((action.name, Self.object(fields)))
        }
        let body = Self.object([("actions", Self.object(actions)), ("entityTypes", Self.object(entityTypes))])
        return Self.object([(namespace ?? "", body)] + namespaces)
    }

    private static func jsonDeclaration(_ entity: SchemaEntityType) -> String {
        if let values = entity.enumValues {
            return object([("enum", "[" + values.map { json($0) }.joined(separator: ",") + "]")])
        }
        var fields: [(String, String)] = []
        if !entity.memberOf.isEmpty {
            fields.append(("memberOfTypes", "[" + entity.memberOf.map { json($0) }.joined(separator: ",") + "]"))
        }
        if !entity.attributes.isEmpty { fields.append(("shape", json(.record(entity.attributes)))) }
        if let tags = entity.tags { fields.append(("tags", json(tags))) }
        return object(fields)
    }

    private static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.sorted { $0.0 < $1.0 }.map { "\(json($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    private static func json(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += "\\u" + String(format4(scalar.value))
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func format4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    private static func json(_ type: SchemaType) -> String {
        switch type {
        case .bool: return object([("type", json("Boolean"))])
        case .long: return object([("type", json("Long"))])
        case .string: return object([("type", json("String"))])
        case .set(let element): return object([("element", json(element)), ("type", json("Set"))])
        case .entity(let name): return object([("name", json(name)), ("type", json("Entity"))])
        case .extension(let name): return object([("name", json(name)), ("type", json("Extension"))])
        case .record(let attributes):
            let fields = attributes.map { key, attribute -> (String, String) in
                var inner = json(attribute.type)
                if !attribute.required {
                    inner.removeLast()
                    inner += ",\"required\":false}"
                }
                return (key, inner)
            }
            return object([("attributes", object(fields)), ("type", json("Record"))])
        }
    }
}
