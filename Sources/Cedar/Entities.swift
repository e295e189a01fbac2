/// One entity in the store.
public struct Entity: Sendable {
    /// Its uid.
    public let uid: EntityUID
    /// Attributes.
    public let attributes: [CedarString: CedarValue]
    /// Direct parents, as written.
    public let parents: [EntityUID]
    /// Every ancestor (the transitive closure of `parents`).
    public let ancestors: Set<EntityUID>
    /// Tags.
    public let tags: [CedarString: CedarValue]

    /// Creates an entity; `ancestors` is filled in by `Entities`.
    public init(
        uid: EntityUID, attributes: [CedarString: CedarValue] = [:], parents: [EntityUID] = [],
        tags: [CedarString: CedarValue] = [:]
    ) {
        self.init(uid: uid, attributes: attributes, parents: parents, ancestors: [], tags: tags)
    }

    init(
        uid: EntityUID, attributes: [CedarString: CedarValue], parents: [EntityUID], ancestors: Set<EntityUID>,
        tags: [CedarString: CedarValue]
    ) {
        self.uid = uid
        self.attributes = attributes
        self.parents = parents
        self.ancestors = ancestors
        self.tags = tags
    }
}

/// An entity store with the transitive closure of the parent relation computed up front.
public struct Entities: Sendable {
    private var table: [EntityUID: Entity] = [:]

    /// An empty store.
    public init() {}

    /// Builds a store, computing ancestors. Duplicate uids and cycles in `parents` are refused, as in Cedar.
    public init(_ entities: [Entity]) throws(CedarDataError) {
        var direct: [EntityUID: Entity] = [:]
        for entity in entities {
            guard direct[entity.uid] == nil else {
                throw CedarDataError(.invalid, "duplicate entity entry `\(entity.uid)`")
            }
            direct[entity.uid] = entity
        }
        // Depth-first with an explicit stack, so a parent chain of any length cannot exhaust the call stack.
        var closure: [EntityUID: Set<EntityUID>] = [:]
        func ancestors(of root: EntityUID) throws(CedarDataError) -> Set<EntityUID> {
            if let known = closure[root] { return known }
            var onPath = Set<EntityUID>()
            var stack: [(uid: EntityUID, parents: [EntityUID], next: Int)] = []
            func push(_ uid: EntityUID) {
                onPath.insert(uid)
                stack.append((uid, direct[uid].map { Array($0.parents) } ?? [], 0))
            }
            push(root)
            while let top = stack.last {
                if top.next < top.parents.count {
                    let parent = top.parents[top.next]
                    stack[stack.count - 1].next += 1
                    if closure[parent] != nil || direct[parent] == nil { continue }
                    guard !onPath.contains(parent) else {
                        throw CedarDataError(.invalid, "input graph has a cycle containing vertex `\(parent)`")
                    }
                    push(parent)
                    continue
                }
                stack.removeLast()
                onPath.remove(top.uid)
                var result = Set<EntityUID>()
                for parent in top.parents {
                    result.insert(parent)
                    if let further = closure[parent] { result.formUnion(further) }
                }
                if result.contains(top.uid) {
                    throw CedarDataError(.invalid, "input graph has a cycle containing vertex `\(top.uid)`")
                }
                closure[top.uid] = result
            }
            return closure[root] ?? []
        }
        for uid in direct.keys {
            let found = try ancestors(of: uid)
            let entity = direct[uid]!
            table[uid] = Entity(
                uid: uid, attributes: entity.attributes, parents: entity.parents, ancestors: found, tags: entity.tags)
        }
    }

    /// Parses Cedar entity JSON: `[{"uid": …, "attrs": {…}, "parents": […], "tags": {…}}]`.
    public init(json text: String) throws(CedarDataError) {
        try self.init(json: try CedarJSON.parse(text))
    }

    /// Converts parsed Cedar entity JSON.
    public init(json: CedarJSON) throws(CedarDataError) {
        guard case .array(let items) = json else {
            throw CedarDataError(.invalid, "entities must be a JSON array")
        }
        var entities: [Entity] = []
        entities.reserveCapacity(items.count)
        for item in items {
            guard case .object(let members) = item else {
                throw CedarDataError(.invalid, "each entity must be a JSON object")
            }
            for (key, _) in members where !["uid", "attrs", "parents", "tags"].contains(key) {
                throw CedarDataError(.invalid, "unknown field `\(key)` in entity")
            }
            guard let uidJSON = item["uid"] else { throw CedarDataError(.invalid, "entity is missing `uid`") }
            let uid = try CedarData.entityUID(uidJSON)
            guard case .object(let attrMembers)? = item["attrs"] else {
                throw CedarDataError(.invalid, "entity `\(uid)` needs an `attrs` object")
            }
            guard case .array(let parentItems)? = item["parents"] else {
                throw CedarDataError(.invalid, "entity `\(uid)` needs a `parents` array")
            }
            var attributes: [CedarString: CedarValue] = [:]
            for (key, value) in attrMembers { attributes[CedarString(key)] = try CedarData.value(value) }
            var parents: [EntityUID] = []
            for parent in parentItems { parents.append(try CedarData.entityUID(parent)) }
            var tags: [CedarString: CedarValue] = [:]
            if let tagsJSON = item["tags"] {
                guard case .object(let tagMembers) = tagsJSON else {
                    throw CedarDataError(.invalid, "entity `\(uid)`: `tags` must be an object")
                }
                for (key, value) in tagMembers { tags[CedarString(key)] = try CedarData.value(value) }
            }
            entities.append(Entity(uid: uid, attributes: attributes, parents: parents, tags: tags))
        }
        try self.init(entities)
    }

    /// The entity with this uid, if present.
    public subscript(uid: EntityUID) -> Entity? {
        table[uid]
    }

    /// Every entity.
    public var all: [Entity] { Array(table.values) }

    /// The number of entities.
    public var count: Int { table.count }

    /// A copy with `entity` added or replaced; ancestors are recomputed.
    public func adding(_ extra: [Entity]) throws(CedarDataError) -> Entities {
        var merged: [EntityUID: Entity] = [:]
        for entity in table.values { merged[entity.uid] = entity }
        for entity in extra { merged[entity.uid] = entity }
        return try Entities(Array(merged.values))
    }
}

/// Conversions from Cedar's JSON data format (schema-free rules).
public enum CedarData {
    /// Converts a JSON value from entity attributes, tags or context to a Cedar value.
    ///
    /// Integers must be plain integer lexemes that fit in 64 bits (`1.0`, `1e2` and `-0` are refused);
    /// `null` is refused; `{"__entity": …}` is an entity reference; `{"__extn": …}` an extension value
    /// (only `decimal` is supported; others report `unsupported`); any other object is a record.
    public static func value(_ json: CedarJSON) throws(CedarDataError) -> CedarValue {
        switch json {
        case .null:
            throw CedarDataError(.invalid, "`null` is not a valid Cedar value")
        case .bool(let value):
            return .bool(value)
        case .string(let value):
            return .string(CedarString(value))
        case .number(let lexeme):
            guard lexeme != "-0", !lexeme.contains("."), !lexeme.contains("e"), !lexeme.contains("E"),
                let value = Int64(lexeme)
            else {
                throw CedarDataError(.invalid, "`\(lexeme)` is not a valid Cedar integer (64-bit, no fraction)")
            }
            return .long(value)
        case .array(let elements):
            var result = Set<CedarValue>(minimumCapacity: elements.count)
            for element in elements { result.insert(try value(element)) }
            return .set(result)
        case .object(let members):
            if members.count == 1, members[0].0 == "__entity" {
                return .entity(try entityUID(members[0].1))
            }
            if members.count == 1, members[0].0 == "__extn" {
                return try extensionValue(members[0].1)
            }
            if members.count == 1, members[0].0 == "__expr" {
                throw CedarDataError(.unsupported, "`__expr` escapes are not supported", feature: "__expr")
            }
            var record: [CedarString: CedarValue] = [:]
            for (key, element) in members { record[CedarString(key)] = try value(element) }
            return .record(record)
        }
    }

    /// `{"fn": name, "arg": x}` or `{"fn": name, "args": [x, …]}`: an extension call on restricted arguments
    /// (strings, or nested `__extn` values such as `offset(datetime(…), duration(…))`).
    private static func extensionValue(_ json: CedarJSON) throws(CedarDataError) -> CedarValue {
        guard case .object(let members) = json, case .string(let name)? = json["fn"] else {
            throw CedarDataError(.invalid, "`__extn` needs a `fn` string")
        }
        for (key, _) in members where !["fn", "arg", "args"].contains(key) {
            throw CedarDataError(.invalid, "unknown field `\(key)` in `__extn`")
        }
        var arguments: [CedarJSON]
        if let single = json["arg"] {
            guard json["args"] == nil else { throw CedarDataError(.invalid, "`__extn` has both `arg` and `args`") }
            arguments = [single]
        } else if case .array(let list)? = json["args"] {
            arguments = list
        } else {
            throw CedarDataError(.invalid, "`__extn` needs `arg` or an `args` array")
        }
        guard let function = ExtensionFunction(rawValue: name) else {
            throw CedarDataError(.invalid, "unknown extension function `\(name)`")
        }
        var values: [CedarValue] = []
        for argument in arguments { values.append(try value(argument)) }
        do {
            return try ExtensionCall.apply(function, values)
        } catch {
            throw CedarDataError(.invalid, "invalid `\(name)` value: \(error.message)")
        }
    }

    /// Converts `{"type": …, "id": …}` or `{"__entity": {…}}` to a uid.
    public static func entityUID(_ json: CedarJSON) throws(CedarDataError) -> EntityUID {
        if case .object(let members) = json, members.count == 1, members[0].0 == "__entity" {
            return try entityUID(members[0].1)
        }
        guard case .object(let members) = json, members.count == 2, case .string(let type)? = json["type"],
            case .string(let id)? = json["id"]
        else {
            throw CedarDataError(.invalid, "an entity uid must be {\"type\": …, \"id\": …}")
        }
        guard isValidTypeName(type) else {
            throw CedarDataError(.invalid, "`\(type)` is not a valid entity type name")
        }
        return EntityUID(type: type, id: id)
    }

    /// Converts a JSON object to a context record.
    public static func context(_ json: CedarJSON) throws(CedarDataError) -> CedarValue {
        guard case .object = json else { throw CedarDataError(.invalid, "context must be a JSON object") }
        return try value(json)
    }

    /// True for `Ident(::Ident)*` without reserved words or `__cedar`.
    public static func isValidTypeName(_ name: String) -> Bool {
        let segments = name.split(separator: ":", omittingEmptySubsequences: false)
        // `A::B` splits into ["A", "", "B"]: odd positions must be empty.
        guard segments.count % 2 == 1 else { return false }
        for (offset, segment) in segments.enumerated() {
            if offset % 2 == 1 {
                guard segment.isEmpty else { return false }
                continue
            }
            guard let first = segment.unicodeScalars.first,
                first == "_" || (first >= "a" && first <= "z") || (first >= "A" && first <= "Z"),
                segment.unicodeScalars.allSatisfy({
                    $0 == "_" || ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                }),
                !Parser.reservedWords.contains(String(segment)), segment != "__cedar"
            else { return false }
        }
        return true
    }

    /// Parses `Type::"id"` (normalised form, as in Cedar's uid strings).
    public static func parseEntityUID(_ text: String) throws(CedarDataError) -> EntityUID {
        do {
            var parser = Parser(tokens: try Lexer.tokenize(text))
            let expr = try parser.parseExpression()
            guard case .literal(.entity(let uid), _) = expr, parser.atEnd else {
                throw CedarDataError(.invalid, "`\(text)` is not an entity uid like Type::\"id\"")
            }
            return uid
        } catch let error as CedarParseError {
            throw CedarDataError(.invalid, "`\(text)` is not an entity uid: \(error.message)")
        } catch let error as CedarDataError {
            throw error
        } catch {
            throw CedarDataError(.invalid, "`\(text)` is not an entity uid")
        }
    }
}
