/// A type as the strict validator sees it: booleans keep a known constant (`True`/`False`) so that short-circuits
/// and `has` on undeclared attributes behave as in Cedar's typechecker.
indirect enum CheckedType: Sendable, Hashable, CustomStringConvertible {
    /// `Bool`, or the singleton `True`/`False` when the value is known.
    case bool(Bool?)
    case long
    case string
    /// A set; a nil element type only for the empty set.
    case set(CheckedType?)
    case record([String: CheckedAttribute])
    case entity(String)
    case `extension`(String)

    var isBoolean: Bool {
        if case .bool = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .bool(nil): return "Bool"
        case .bool(true?): return "__cedar::true"
        case .bool(false?): return "__cedar::false"
        case .long: return "Long"
        case .string: return "String"
        case .set(let element): return "Set<\(element.map { $0.description } ?? "__cedar::never")>"
        case .record(let attributes):
            let fields = attributes.sorted { $0.key < $1.key }.map {
                "\($0.key)\($0.value.required ? "" : "?"): \($0.value.type)"
            }
            return "{" + fields.joined(separator: ", ") + "}"
        case .entity(let name): return name
        case .extension(let name): return name
        }
    }
}

/// A record or entity attribute's checked type.
struct CheckedAttribute: Sendable, Hashable {
    var type: CheckedType
    var required: Bool
}

/// An expression's type and the attribute paths known to exist when it evaluates to true.
struct Checked {
    var type: CheckedType
    var capabilities: Set<String> = []
}

/// A name a policy uses that the schema must know: an entity (a literal or a scope entity) or a type (`is T`).
enum SchemaReference: Sendable, Hashable {
    case entity(EntityUID)
    case type(CedarString)
}

/// The entity literals and `is` types an expression names anywhere, with where they are written (checked before
/// typechecking, as Cedar does, so a short-circuited operand naming an unknown type is still an error).
func entityReferences(_ expr: Expr, into result: inout [(SchemaReference, SourcePosition)]) {
    switch expr {
    case .literal(let value, let position): literalReferences(value, at: position, into: &result)
    case .variable: break
    case .ifThenElse(let a, let b, let c, _):
        for child in [a, b, c] { entityReferences(child, into: &result) }
    case .and(let operands), .or(let operands), .setLiteral(let operands, _), .call(_, let operands, _):
        for child in operands { entityReferences(child, into: &result) }
    case .not(let operand, _), .negate(let operand, _), .like(let operand, _), .hasAttribute(let operand, _):
        entityReferences(operand, into: &result)
    case .binary(_, let left, let right, _):
        entityReferences(left, into: &result)
        entityReferences(right, into: &result)
    case .arithmetic(let first, let rest):
        entityReferences(first, into: &result)
        for (_, operand) in rest { entityReferences(operand, into: &result) }
    case .access(let base, let accessors):
        entityReferences(base, into: &result)
        for accessor in accessors {
            switch accessor {
            case .attribute, .isEmpty: break
            case .method(_, let argument, _): entityReferences(argument, into: &result)
            case .call(_, let arguments, _): for child in arguments { entityReferences(child, into: &result) }
            }
        }
    case .isType(let operand, let name, let position):
        entityReferences(operand, into: &result)
        result.append((.type(name), position))
    case .recordLiteral(let fields, _):
        for (_, value) in fields { entityReferences(value, into: &result) }
    }
}

private func literalReferences(
    _ value: CedarValue, at position: SourcePosition, into result: inout [(SchemaReference, SourcePosition)]
) {
    switch value {
    case .entity(let uid): result.append((.entity(uid), position))
    case .set(let elements): for element in elements { literalReferences(element, at: position, into: &result) }
    case .record(let fields): for (_, field) in fields { literalReferences(field, at: position, into: &result) }
    default: break
    }
}

/// Typechecks expressions of one policy in one request environment; problems are collected, not thrown, each
/// with the position of the sub-expression at fault (the operand of the wrong type, the attribute name that is
/// not declared, the method or function call, the entity literal or type name).
struct TypeChecker {
    let validator: Validator
    let environment: Validator.Environment
    var problems: [(position: SourcePosition, message: String)] = []

    init(validator: Validator, environment: Validator.Environment) {
        self.validator = validator
        self.environment = environment
    }

    private var schema: CedarSchema { validator.schema }

    func type(of schemaType: SchemaType) -> CheckedType {
        switch schemaType {
        case .bool: return .bool(nil)
        case .long: return .long
        case .string: return .string
        case .set(let element): return .set(type(of: element))
        case .record(let attributes): return .record(attributes.mapValues { attribute(of: $0) })
        case .entity(let name): return .entity(schema.qualified(name))
        case .extension(let name): return .extension(name)
        }
    }

    private func attribute(of schemaAttribute: SchemaAttribute) -> CheckedAttribute {
        CheckedAttribute(type: type(of: schemaAttribute.type), required: schemaAttribute.required)
    }

    private mutating func problem(_ message: String, at position: SourcePosition) -> Checked? {
        problems.append((position, message))
        return nil
    }

    /// The attribute path an expression reads (`context.params.max_results`), for `has` guards.
    private func key(_ expr: Expr) -> String? {
        switch expr {
        case .variable(let variable, _): return variable.rawValue
        case .literal(.entity(let uid), _): return uid.description
        case .access(let base, let accessors):
            guard var path = key(base) else { return nil }
            for accessor in accessors {
                guard case .attribute(let name, _) = accessor else { return nil }
                path += ".\(name.value)"
            }
            return path
        default: return nil
        }
    }

    /// The least upper bound in strict mode: same kind, same entity type, records with the same attributes.
    static func lub(_ a: CheckedType, _ b: CheckedType) -> CheckedType? {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return .bool(x == y ? x : nil)
        case (.long, .long): return .long
        case (.string, .string): return .string
        case (.extension(let x), .extension(let y)): return x == y ? a : nil
        case (.entity(let x), .entity(let y)): return x == y ? a : nil
        case (.set(let x), .set(let y)):
            guard let x else { return b }
            guard let y else { return a }
            return lub(x, y).map { .set($0) }
        case (.record(let x), .record(let y)):
            guard Set(x.keys) == Set(y.keys) else { return nil }
            var result: [String: CheckedAttribute] = [:]
            for (name, left) in x {
                guard let right = y[name], left.required == right.required, let type = lub(left.type, right.type)
                else { return nil }
                result[name] = CheckedAttribute(type: type, required: left.required)
            }
            return .record(result)
        default: return nil
        }
    }

    private mutating func expect(
        _ expr: Expr, _ capabilities: Set<String>, _ accepted: [CheckedType], _ names: String
    ) -> Checked? {
        guard let checked = check(expr, capabilities) else { return nil }
        let matches = accepted.contains { expected in
            switch (expected, checked.type) {
            case (.bool, .bool), (.set, .set), (.entity, .entity), (.record, .record): return true
            default: return expected == checked.type
            }
        }
        guard matches else {
            return problem("unexpected type: expected \(names) but saw \(checked.type)", at: expr.position)
        }
        return checked
    }

    private mutating func incompatible(_ a: CheckedType, _ b: CheckedType, at position: SourcePosition) -> Checked? {
        problem("the types \(a) and \(b) are not compatible", at: position)
    }

    /// The type of `expr` given the paths known to exist, or nil after recording a problem.
    mutating func check(_ expr: Expr, _ capabilities: Set<String>) -> Checked? {
        switch expr {
        case .literal(let value, let position):
            return literal(value, at: position)
        case .variable(let variable, _):
            switch variable {
            case .principal: return Checked(type: .entity(environment.principal))
            case .action: return Checked(type: .entity(schema.actionType))
            case .resource: return Checked(type: .entity(environment.resource))
            case .context:
                return Checked(type: .record(environment.action.context.mapValues { attribute(of: $0) }))
            }
        case .ifThenElse(let condition, let then, let otherwise, let position):
            guard let tested = expect(condition, capabilities, [.bool(nil)], "Bool") else { return nil }
            switch tested.type {
            case .bool(true?): return check(then, capabilities.union(tested.capabilities))
            case .bool(false?): return check(otherwise, capabilities)
            default:
                guard let left = check(then, capabilities.union(tested.capabilities)),
                    let right = check(otherwise, capabilities)
                else { return nil }
                guard let type = Self.lub(left.type, right.type) else {
                    return incompatible(left.type, right.type, at: position)
                }
                return Checked(
                    type: type,
                    capabilities: tested.capabilities.union(left.capabilities).intersection(right.capabilities))
            }
        case .and(let operands):
            var known = capabilities
            var gained = Set<String>()
            var allTrue = true
            for operand in operands {
                guard let checked = expect(operand, known, [.bool(nil)], "Bool") else { return nil }
                if checked.type == .bool(false) { return Checked(type: .bool(false)) }
                if checked.type != .bool(true) { allTrue = false }
                known.formUnion(checked.capabilities)
                gained.formUnion(checked.capabilities)
            }
            return Checked(type: .bool(allTrue ? true : nil), capabilities: gained)
        case .or(let operands):
            var gained: Set<String>?
            var anyUnknown = false
            for operand in operands {
                guard let checked = expect(operand, capabilities, [.bool(nil)], "Bool") else { return nil }
                if checked.type == .bool(true) {
                    let result = gained.map { $0.intersection(checked.capabilities) } ?? checked.capabilities
                    return Checked(type: .bool(anyUnknown ? nil : true), capabilities: result)
                }
                if checked.type == .bool(false) { continue }
                anyUnknown = true
                gained = gained.map { $0.intersection(checked.capabilities) } ?? checked.capabilities
            }
            return Checked(type: .bool(anyUnknown ? nil : false), capabilities: gained ?? [])
        case .not(let operand, _):
            guard let checked = expect(operand, capabilities, [.bool(nil)], "Bool") else { return nil }
            if case .bool(let value?) = checked.type { return Checked(type: .bool(!value)) }
            return Checked(type: .bool(nil))
        case .negate(let operand, _):
            guard expect(operand, capabilities, [.long], "Long") != nil else { return nil }
            return Checked(type: .long)
        case .binary(let op, let left, let right, let position):
            return binary(op, left, right, capabilities, at: position)
        case .arithmetic(let first, let rest):
            guard expect(first, capabilities, [.long], "Long") != nil else { return nil }
            for (_, operand) in rest {
                guard expect(operand, capabilities, [.long], "Long") != nil else { return nil }
            }
            return Checked(type: .long)
        case .access(let base, let accessors):
            return access(base, accessors, capabilities)
        case .hasAttribute(let base, let path):
            return has(base, path, capabilities)
        case .like(let operand, _):
            guard expect(operand, capabilities, [.string], "String") != nil else { return nil }
            return Checked(type: .bool(nil))
        case .isType(let operand, let name, let position):
            guard let checked = expect(operand, capabilities, [.entity("")], "an entity") else { return nil }
            guard validator.entityType(name.value) != nil || name.value == schema.actionType else {
                return problem(validator.unknownTypeMessage(name.value), at: position)
            }
            // The operand's entity type is known in each environment: the test is decided statically.
            guard case .entity(let type) = checked.type else { return Checked(type: .bool(nil)) }
            return Checked(type: .bool(type == name.value))
        case .setLiteral(let elements, let position):
            guard !elements.isEmpty else {
                return problem("empty set literals are forbidden in policies", at: position)
            }
            var element: CheckedType?
            for item in elements {
                guard let checked = check(item, capabilities) else { return nil }
                if let current = element {
                    guard let joined = Self.lub(current, checked.type) else {
                        return incompatible(current, checked.type, at: item.position)
                    }
                    element = joined
                } else {
                    element = checked.type
                }
            }
            return Checked(type: .set(element))
        case .recordLiteral(let fields, _):
            var attributes: [String: CheckedAttribute] = [:]
            for (name, value) in fields {
                guard let checked = check(value, capabilities) else { return nil }
                attributes[name.value] = CheckedAttribute(type: checked.type, required: true)
            }
            return Checked(type: .record(attributes))
        case .call(let function, let arguments, let position):
            return call(function, receiver: nil, arguments, capabilities, at: position)
        }
    }

    private mutating func literal(_ value: CedarValue, at position: SourcePosition) -> Checked? {
        switch value {
        case .bool(let flag): return Checked(type: .bool(flag))
        case .long: return Checked(type: .long)
        case .string: return Checked(type: .string)
        case .entity(let uid):
            if let message = validator.entityProblem(uid) { return problem(message, at: position) }
            return Checked(type: .entity(uid.type.value))
        case .decimal: return Checked(type: .extension("decimal"))
        case .ipaddr: return Checked(type: .extension("ipaddr"))
        case .datetime: return Checked(type: .extension("datetime"))
        case .duration: return Checked(type: .extension("duration"))
        case .set(let elements):
            guard !elements.isEmpty else {
                return problem("empty set literals are forbidden in policies", at: position)
            }
            var element: CheckedType?
            for item in elements {
                guard let checked = literal(item, at: position) else { return nil }
                guard let joined = element.map({ Self.lub($0, checked.type) }) ?? checked.type else {
                    return incompatible(element ?? checked.type, checked.type, at: position)
                }
                element = joined
            }
            return Checked(type: .set(element))
        case .record(let fields):
            var attributes: [String: CheckedAttribute] = [:]
            for (name, item) in fields {
                guard let checked = literal(item, at: position) else { return nil }
                attributes[name.value] = CheckedAttribute(type: checked.type, required: true)
            }
            return Checked(type: .record(attributes))
        }
    }

    private mutating func binary(
        _ op: BinaryOperator, _ left: Expr, _ right: Expr, _ capabilities: Set<String>, at position: SourcePosition
    ) -> Checked? {
        switch op {
        case .equal, .notEqual:
            // Two literals are compared statically, whatever their types (as Cedar's typechecker does).
            if case .literal(let a, let at) = left, case .literal(let b, let bt) = right {
                guard literal(a, at: at) != nil, literal(b, at: bt) != nil else { return nil }
                return Checked(type: .bool((a == b) == (op == .equal)))
            }
            guard let l = check(left, capabilities), let r = check(right, capabilities) else { return nil }
            if Self.lub(l.type, r.type) == nil {
                // Entities of different types may be compared: the answer is known to be false.
                if case .entity = l.type, case .entity = r.type { return Checked(type: .bool(op == .notEqual)) }
                return incompatible(l.type, r.type, at: position)
            }
            return Checked(type: .bool(nil))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let accepted: [CheckedType] = [.long, .extension("datetime"), .extension("duration")]
            let names = "datetime, or duration, or Long"
            guard let l = expect(left, capabilities, accepted, names),
                let r = expect(right, capabilities, accepted, names)
            else { return nil }
            guard l.type == r.type else { return incompatible(l.type, r.type, at: position) }
            return Checked(type: .bool(nil))
        case .in:
            guard expect(left, capabilities, [.entity("")], "an entity") != nil,
                let r = check(right, capabilities)
            else { return nil }
            switch r.type {
            case .entity, .set(.entity?): return Checked(type: .bool(nil))
            default:
                return problem(
                    "unexpected type: expected an entity or a set of entities but saw \(r.type)", at: right.position)
            }
        case .add, .subtract, .multiply:
            guard expect(left, capabilities, [.long], "Long") != nil,
                expect(right, capabilities, [.long], "Long") != nil
            else { return nil }
            return Checked(type: .long)
        case .contains, .containsAll, .containsAny, .hasTag, .getTag:
            guard let receiver = check(left, capabilities) else { return nil }
            return method(op, receiver: receiver, receiverKey: key(left), right, capabilities, at: position)
        }
    }

    /// `position` is the method name's (the receiver is a chain, not one expression).
    private mutating func method(
        _ op: BinaryOperator, receiver: Checked, receiverKey: String?, _ argument: Expr, _ capabilities: Set<String>,
        at position: SourcePosition
    ) -> Checked? {
        switch op {
        case .contains, .containsAll, .containsAny:
            guard case .set(let element) = receiver.type else {
                return problem("unexpected type: expected Set but saw \(receiver.type)", at: position)
            }
            guard let checked = check(argument, capabilities) else { return nil }
            var other = checked.type
            if op != .contains {
                guard case .set(let inner) = checked.type else {
                    return problem("unexpected type: expected Set but saw \(checked.type)", at: argument.position)
                }
                guard let inner else { return Checked(type: .bool(nil)) }
                other = inner
            }
            if let element, Self.lub(element, other) == nil {
                if case .entity = element, case .entity = other { return Checked(type: .bool(nil)) }
                return incompatible(element, other, at: argument.position)
            }
            return Checked(type: .bool(nil))
        case .hasTag, .getTag:
            guard case .entity(let name) = receiver.type else {
                return problem("unexpected type: expected an entity but saw \(receiver.type)", at: position)
            }
            guard expect(argument, capabilities, [.string], "String") != nil else { return nil }
            let tags = validator.entityType(name)?.tags
            var tagKey: String?
            if let receiverKey, case .literal(.string(let text), _) = argument {
                tagKey = "\(receiverKey)#tag:\(text.value)"
            }
            if op == .hasTag {
                guard tags != nil else { return Checked(type: .bool(false)) }
                return Checked(type: .bool(nil), capabilities: tagKey.map { [$0] } ?? [])
            }
            guard let tags else { return problem("tags are not permitted on entity type `\(name)`", at: position) }
            guard let tagKey, capabilities.contains(tagKey) else {
                return problem("unable to guarantee safety of access to a tag of entity type `\(name)`", at: position)
            }
            return Checked(type: type(of: tags))
        default:
            return problem("internal: unexpected method \(op.rawValue)", at: position)
        }
    }

    /// The attributes of a record or entity type, with a description for messages.
    private func attributes(of type: CheckedType) -> (fields: [String: CheckedAttribute], owner: String)? {
        switch type {
        case .record(let fields): return (fields, "record")
        case .entity(let name):
            guard let entity = validator.entityType(name) else { return ([:], "entity type `\(name)`") }
            return (entity.attributes.mapValues { attribute(of: $0) }, "entity type `\(name)`")
        default: return nil
        }
    }

    private func describe(_ attribute: String, path: String?, owner: String) -> String {
        // A path through the context's records; once it passes an entity, the attribute is the entity type's.
        if let path, path.hasPrefix("context."), owner == "record" {
            return
                "attribute `\(path.dropFirst("context.".count))` in context for \(schema.actionType)::\(quoteCedarString(environment.action.name))"
        }
        return "attribute `\(attribute)` on \(owner)"
    }

    private mutating func access(_ base: Expr, _ accessors: [Accessor], _ capabilities: Set<String>) -> Checked? {
        guard var current = check(base, capabilities) else { return nil }
        var path = key(base)
        for accessor in accessors {
            switch accessor {
            case .attribute(let name, let position):
                guard let (fields, owner) = attributes(of: current.type) else {
                    return problem(
                        "unexpected type: expected an entity or a record but saw \(current.type)", at: position)
                }
                let next = path.map { "\($0).\(name.value)" }
                guard let field = fields[name.value] else {
                    var message = describe(name.value, path: next, owner: owner) + " not found"
                    if let near = validator.nearest(name.value, among: Array(fields.keys)) {
                        message += " (did you mean `\(near)`?)"
                    }
                    return problem(message, at: position)
                }
                if !field.required, !(next.map { capabilities.contains($0) } ?? false) {
                    return problem(
                        "unable to guarantee safety of access to optional "
                            + describe(name.value, path: next, owner: owner) + "; guard it with `has`", at: position)
                }
                current = Checked(type: field.type)
                path = next
            case .method(let op, let argument, let position):
                guard
                    let result = method(
                        op, receiver: current, receiverKey: path, argument, capabilities, at: position)
                else { return nil }
                current = result
                path = nil
            case .isEmpty(let position):
                guard case .set = current.type else {
                    return problem("unexpected type: expected Set but saw \(current.type)", at: position)
                }
                current = Checked(type: .bool(nil))
                path = nil
            case .call(let function, let arguments, let position):
                guard let result = call(function, receiver: current, arguments, capabilities, at: position) else {
                    return nil
                }
                current = result
                path = nil
            }
        }
        return current
    }

    private mutating func has(_ base: Expr, _ names: [CedarString], _ capabilities: Set<String>) -> Checked? {
        guard var current = check(base, capabilities) else { return nil }
        var path = key(base)
        var gained = Set<String>()
        var known = true
        for name in names {
            guard let (fields, _) = attributes(of: current.type) else {
                return problem(
                    "unexpected type: expected an entity or a record but saw \(current.type)", at: base.position)
            }
            let next = path.map { "\($0).\(name.value)" }
            guard let field = fields[name.value] else { return Checked(type: .bool(false)) }
            if !field.required, !(next.map { capabilities.contains($0) } ?? false) {
                known = false
                if let next { gained.insert(next) }
            }
            current = Checked(type: field.type)
            path = next
        }
        return Checked(type: .bool(known ? true : nil), capabilities: gained)
    }

    /// `position` is the function or method name's.
    private mutating func call(
        _ function: ExtensionFunction, receiver: Checked?, _ arguments: [Expr], _ capabilities: Set<String>,
        at position: SourcePosition
    ) -> Checked? {
        let count = arguments.count + (receiver == nil ? 0 : 1)
        guard count == function.arity else {
            return problem(
                "wrong number of arguments in extension function application: expected \(function.arity), got \(count)",
                at: position)
        }
        if ExtensionFunction.functionStyle.contains(function) {
            guard case .literal(.string(let text), _)? = arguments.first else {
                return problem(
                    "extension constructors may not be called with non-literal expressions",
                    at: arguments.first?.position ?? position)
            }
            let valid: Bool
            switch function {
            case .decimal: valid = CedarDecimal(parsing: text.value) != nil
            case .ip: valid = CedarIPAddress(parsing: text.value) != nil
            case .datetime: valid = CedarDatetime(parsing: text.value) != nil
            default: valid = (try? CedarDuration.parse(text.value).get()) != nil
            }
            guard valid else {
                return problem(
                    "error during extension function argument validation: `\(function.rawValue)(\"\(text.value)\")`",
                    at: arguments.first?.position ?? position)
            }
            let type = function == .ip ? "ipaddr" : function.rawValue
            return Checked(type: .extension(type))
        }
        let decimal = CheckedType.extension("decimal")
        let ipaddr = CheckedType.extension("ipaddr")
        let datetime = CheckedType.extension("datetime")
        let duration = CheckedType.extension("duration")
        let signature: (parameters: [CheckedType], result: CheckedType)
        switch function {
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual:
            signature = ([decimal, decimal], .bool(nil))
        case .isIpv4, .isIpv6, .isLoopback, .isMulticast: signature = ([ipaddr], .bool(nil))
        case .isInRange: signature = ([ipaddr, ipaddr], .bool(nil))
        case .offset: signature = ([datetime, duration], datetime)
        case .durationSince: signature = ([datetime, datetime], duration)
        case .toDate: signature = ([datetime], datetime)
        case .toTime: signature = ([datetime], duration)
        default: signature = ([duration], .long)
        }
        // Each type with where to point when it is wrong: the method name for the receiver, else the argument.
        var types: [(type: CheckedType, position: SourcePosition)] = []
        if let receiver { types.append((receiver.type, position)) }
        for argument in arguments {
            guard let checked = check(argument, capabilities) else { return nil }
            types.append((checked.type, argument.position))
        }
        for (expected, actual) in zip(signature.parameters, types) where expected != actual.type {
            return problem("unexpected type: expected \(expected) but saw \(actual.type)", at: actual.position)
        }
        return Checked(type: signature.result)
    }
}
