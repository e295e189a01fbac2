/// A policy that Cedar's strict validator would reject against a schema.
public struct ValidationError: Sendable, Hashable, CustomStringConvertible {
    /// The policy's positional id.
    public let policyID: String
    /// The file, when the policy was loaded from one.
    public let file: String?
    /// Where the problem is: the policy start for scope problems; for a condition, the sub-expression at fault
    /// (the attribute name that is not declared or not guarded, the operand of the wrong type, the entity
    /// literal or type name, the method or function name, the comparison whose operands cannot be compared).
    public let position: SourcePosition
    /// What is wrong, naming the attribute, type or action.
    public let message: String

    public var description: String { "\(file ?? "<policy>"):\(position): error: \(message)" }
}

/// Cedar's strict validation (the typechecker `cedar validate` runs by default), against a `CedarSchema`.
///
/// A policy is checked in every request environment its scope admits (each action, and each principal and
/// resource type the action applies to). It is rejected when no environment is admitted, when it names an
/// unknown entity type or action, or when some condition does not typecheck: an attribute the type does not
/// declare, an optional attribute read without a `has` guard, an operator on the wrong types, operands of
/// `==`/`contains`/set literals whose types have no common type (a comparison that cannot hold), an empty set
/// literal, an extension constructor on a non-literal or invalid string, an entity of an enumerated entity
/// type whose id is not one of the declared ones.
///
/// Like Cedar, `has` on an undeclared attribute is not an error (it is simply false), and the right operand
/// of `&&`/`||` is not checked when the left one already decides.
public struct Validator: Sendable {
    /// The schema policies are checked against.
    public let schema: CedarSchema
    private let entityTypes: [String: SchemaEntityType]
    private let actionsByID: [String: SchemaAction]
    /// Entity type → the types it may be a descendant of (itself included).
    private let ancestorTypes: [String: Set<String>]
    /// Action id → action ids it may be a descendant of (itself included).
    private let actionAncestors: [String: Set<String>]

    /// Prepares the schema (name resolution and the membership closures).
    public init(schema: CedarSchema) {
        self.schema = schema
        var types: [String: SchemaEntityType] = [:]
        for entity in schema.entityTypes {
            var qualified = entity
            qualified.memberOf = entity.memberOf.map { schema.qualified($0) }
            types[schema.qualified(entity.name)] = qualified
        }
        entityTypes = types
        actionsByID = Dictionary(schema.actions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        ancestorTypes = Self.closure(types.mapValues { $0.memberOf })
        actionAncestors = Self.closure(actionsByID.mapValues { $0.memberOf })
    }

    private static func closure(_ edges: [String: [String]]) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for start in edges.keys {
            var seen: Set<String> = [start]
            var stack = [start]
            while let next = stack.popLast() {
                for parent in edges[next] ?? [] where seen.insert(parent).inserted { stack.append(parent) }
            }
            result[start] = seen
        }
        return result
    }

    /// Every problem of every policy, in policy order (a policy may have several).
    public func validate(_ policies: PolicySet) -> [ValidationError] {
        policies.policies.flatMap { validate($0) }
    }

    /// The problems of one policy (empty when it validates).
    public func validate(_ policy: Policy) -> [ValidationError] {
        var messages: [(SourcePosition, String)] = []
        func fail(_ message: String, at position: SourcePosition? = nil) {
            let text = "policy `\(policy.displayID)`: \(message)"
            if !messages.contains(where: { $0.1 == text }) { messages.append((position ?? policy.position, text)) }
        }
        for reference in scopeReferences(policy) {
            if let message = problem(reference) { fail(message) }
        }
        for condition in policy.conditions {
            var named: [(SchemaReference, SourcePosition)] = []
            entityReferences(condition.body, into: &named)
            for (reference, position) in named {
                if let message = problem(reference) { fail(message, at: position) }
            }
        }
        var environments: [Environment] = []
        for action in schema.actions where actionMatches(policy.action, action.name) {
            for principal in action.principals.map({ schema.qualified($0) })
            where entityScopeMatches(policy.principal, principal) {
                for resource in action.resources.map({ schema.qualified($0) })
                where entityScopeMatches(policy.resource, resource) {
                    environments.append(Environment(principal: principal, action: action, resource: resource))
                }
            }
        }
        if environments.isEmpty {
            fail("unable to find an applicable action given the policy scope constraints")
        }
        for environment in environments {
            var checker = TypeChecker(validator: self, environment: environment)
            var capabilities = Set<String>()
            for condition in policy.conditions {
                guard let result = checker.check(condition.body, capabilities) else {
                    for problem in checker.problems { fail(problem.message, at: problem.position) }
                    checker.problems = []
                    break
                }
                if !result.type.isBoolean {
                    fail("unexpected type: expected Bool but saw \(result.type)", at: condition.body.position)
                    break
                }
                // `unless { e }` contributes `!e`, which establishes nothing.
                if condition.isWhen {
                    capabilities.formUnion(result.capabilities)
                    if result.type == .bool(false) { break }
                } else if result.type == .bool(true) {
                    break
                }
            }
        }
        return messages.map {
            ValidationError(policyID: policy.id, file: policy.file, position: $0.0, message: $0.1)
        }
    }

    // MARK: Scope

    private func scopeReferences(_ policy: Policy) -> [SchemaReference] {
        var result: [SchemaReference] = []
        for scope in [policy.principal, policy.resource] {
            switch scope {
            case .any: break
            case .equals(let uid), .isIn(let uid): result.append(.entity(uid))
            case .isType(let type): result.append(.type(type))
            case .isTypeIn(let type, let uid): result += [.type(type), .entity(uid)]
            }
        }
        switch policy.action {
        case .any: break
        case .equals(let uid): result.append(.entity(uid))
        case .isIn(let uids): result += uids.map { .entity($0) }
        }
        return result
    }

    private func problem(_ reference: SchemaReference) -> String? {
        switch reference {
        case .entity(let uid): return entityProblem(uid)
        case .type(let name):
            // `is T` names an entity type; the action type counts as one.
            if name.value == schema.actionType || entityTypes[name.value] != nil { return nil }
            return unknownTypeMessage(name.value)
        }
    }

    /// Why the schema does not admit the entity `uid` (an unknown type or action, or an id its enumerated type
    /// does not list), or nil when it does.
    func entityProblem(_ uid: EntityUID) -> String? {
        if uid.type.value == schema.actionType {
            return actionsByID[uid.id.value] == nil ? "unrecognized action `\(uid)`" : nil
        }
        guard let type = entityTypes[uid.type.value] else { return unknownTypeMessage(uid.type.value) }
        if let values = type.enumValues, !values.contains(uid.id.value) {
            return "entity `\(uid)` is of an enumerated entity type, but \(quoteCedarString(uid.id.value)) is not "
                + "declared as a valid eid"
        }
        return nil
    }

    func unknownTypeMessage(_ name: String) -> String {
        var message = "unrecognized entity type `\(name)`"
        if let near = nearest(name, among: Array(entityTypes.keys)) {
            message += " (did you mean `\(near)`?)"
        }
        return message
    }

    private func actionMatches(_ scope: ActionScope, _ name: String) -> Bool {
        switch scope {
        case .any: return true
        case .equals(let uid): return uid.type.value == schema.actionType && uid.id.value == name
        case .isIn(let uids):
            let ancestors = actionAncestors[name] ?? [name]
            return uids.contains { $0.type.value == schema.actionType && ancestors.contains($0.id.value) }
        }
    }

    private func entityScopeMatches(_ scope: EntityScope, _ type: String) -> Bool {
        switch scope {
        case .any: return true
        case .equals(let uid): return uid.type.value == type
        case .isIn(let uid): return mayBeIn(type, uid.type.value)
        case .isType(let name): return name.value == type
        case .isTypeIn(let name, let uid): return name.value == type && mayBeIn(type, uid.type.value)
        }
    }

    /// Whether an entity of `type` may be `in` an entity of `ancestor` (equal or a member, transitively).
    func mayBeIn(_ type: String, _ ancestor: String) -> Bool {
        type == ancestor || (ancestorTypes[type]?.contains(ancestor) ?? false)
    }

    func entityType(_ name: String) -> SchemaEntityType? { entityTypes[name] }

    /// The closest name by edit distance, when it is close enough to be a likely typo.
    func nearest(_ name: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(Array(name.unicodeScalars), Array($0.unicodeScalars))) }
        guard let best = scored.min(by: { ($0.1, $0.0) < ($1.1, $1.0) }), best.1 <= max(2, name.count / 3) else {
            return nil
        }
        return best.0
    }

    private func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    struct Environment {
        let principal: String
        let action: SchemaAction
        let resource: String
    }
}
