/// Why a policy could not be evaluated. The policy is then skipped by the authorizer and reported.
public struct EvaluationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable machine-readable kind.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public static let typeError = Code("type_error")
        public static let entityDoesNotExist = Code("entity_does_not_exist")
        public static let attributeDoesNotExist = Code("attribute_does_not_exist")
        public static let tagDoesNotExist = Code("tag_does_not_exist")
        public static let integerOverflow = Code("integer_overflow")
        public static let wrongNumberOfArguments = Code("wrong_number_of_arguments")
        public static let extensionFailure = Code("extension_failure")
        public var description: String { name }
    }

    /// The kind.
    public let code: Code
    /// What went wrong, in words close to Cedar's.
    public let message: String

    public var description: String { message }

    static func type(expected: String, got value: CedarValue) -> EvaluationError {
        EvaluationError(code: .typeError, message: "type error: expected \(expected), got \(value.typeName)")
    }

    static func overflow(_ what: String) -> EvaluationError {
        EvaluationError(code: .integerOverflow, message: "integer overflow while attempting to \(what)")
    }
}

/// The inputs of one authorization: the request variables and the entity store.
struct Environment {
    let principal: CedarValue
    let action: CedarValue
    let resource: CedarValue
    let context: CedarValue
    let entities: Entities
}

/// A direct tree-walking evaluator with Cedar's semantics: short-circuit `&&`/`||`/`if`, checked
/// arithmetic, total `==`, transitive `in`, typed errors.
struct Evaluator {
    let environment: Environment

    func evaluate(_ expr: Expr) throws(EvaluationError) -> CedarValue {
        switch expr {
        case .literal(let value, _):
            return value
        case .variable(let variable, _):
            switch variable {
            case .principal: return environment.principal
            case .action: return environment.action
            case .resource: return environment.resource
            case .context: return environment.context
            }
        case .ifThenElse(let condition, let thenBranch, let elseBranch, _):
            return try evaluateBool(condition) ? try evaluate(thenBranch) : try evaluate(elseBranch)
        case .and(let operands):
            for operand in operands where !(try evaluateBool(operand)) { return .bool(false) }
            return .bool(true)
        case .or(let operands):
            for operand in operands where try evaluateBool(operand) { return .bool(true) }
            return .bool(false)
        case .not(let operand, _):
            return .bool(!(try evaluateBool(operand)))
        case .negate(let operand, _):
            let value = try evaluateLong(operand)
            let (result, overflow) = Int64(0).subtractingReportingOverflow(value)
            if overflow { throw .overflow("negate a long") }
            return .long(result)
        case .binary(let op, let left, let right, _):
            return try binary(op, try evaluate(left), try evaluate(right))
        case .arithmetic(let first, let steps):
            var value = try evaluate(first)
            for (op, operand) in steps { value = try binary(op, value, try evaluate(operand)) }
            return value
        case .access(let base, let accessors):
            var value = try evaluate(base)
            for accessor in accessors { value = try apply(accessor, to: value) }
            return value
        case .hasAttribute(let base, let path):
            // `e has a.b` is `e has a && e.a has b`: stop (false) at the first missing step.
            var value = try evaluate(base)
            for (step, name) in path.enumerated() {
                let found: CedarValue?
                switch value {
                case .record(let fields): found = fields[name]
                case .entity(let uid): found = environment.entities[uid]?.attributes[name]
                case let other: throw .type(expected: "one of [record, (entity of any type)]", got: other)
                }
                guard let found else { return .bool(false) }
                if step + 1 < path.count { value = found }
            }
            return .bool(true)
        case .like(let operand, let pattern):
            guard case .string(let text) = try evaluate(operand) else {
                throw .type(expected: "string", got: try evaluate(operand))
            }
            return .bool(wildcardMatch(Array(text.value.unicodeScalars), pattern))
        case .isType(let operand, let typeName, _):
            let value = try evaluate(operand)
            guard case .entity(let uid) = value else {
                throw .type(expected: "(entity of any type)", got: value)
            }
            return .bool(uid.type == typeName)
        case .setLiteral(let elements, _):
            var result = Set<CedarValue>(minimumCapacity: elements.count)
            for element in elements { result.insert(try evaluate(element)) }
            return .set(result)
        case .recordLiteral(let fields, _):
            var result: [CedarString: CedarValue] = [:]
            for (key, value) in fields { result[key] = try evaluate(value) }
            return .record(result)
        case .call(let function, let arguments, _):
            var values: [CedarValue] = []
            for argument in arguments { values.append(try evaluate(argument)) }
            return try call(function, values)
        }
    }

    private func apply(_ accessor: Accessor, to value: CedarValue) throws(EvaluationError) -> CedarValue {
        switch accessor {
        case .attribute(let name, _):
            return try attribute(of: value, name)
        case .method(let op, let argument, _):
            return try binary(op, value, try evaluate(argument))
        case .isEmpty:
            guard case .set(let elements) = value else { throw .type(expected: "set", got: value) }
            return .bool(elements.isEmpty)
        case .call(let function, let arguments, _):
            var values: [CedarValue] = []
            values.reserveCapacity(arguments.count + 1)
            values.append(value)
            for argument in arguments { values.append(try evaluate(argument)) }
            return try call(function, values)
        }
    }

    func evaluateBool(_ expr: Expr) throws(EvaluationError) -> Bool {
        let value = try evaluate(expr)
        guard case .bool(let result) = value else { throw .type(expected: "bool", got: value) }
        return result
    }

    private func evaluateLong(_ expr: Expr) throws(EvaluationError) -> Int64 {
        let value = try evaluate(expr)
        guard case .long(let result) = value else { throw .type(expected: "long", got: value) }
        return result
    }

    private func attribute(of value: CedarValue, _ name: CedarString) throws(EvaluationError) -> CedarValue {
        switch value {
        case .record(let fields):
            guard let found = fields[name] else {
                throw EvaluationError(
                    code: .attributeDoesNotExist, message: "record does not have the attribute `\(name.value)`")
            }
            return found
        case .entity(let uid):
            guard let entity = environment.entities[uid] else {
                throw EvaluationError(code: .entityDoesNotExist, message: "entity `\(uid)` does not exist")
            }
            guard let found = entity.attributes[name] else {
                throw EvaluationError(
                    code: .attributeDoesNotExist, message: "`\(uid)` does not have the attribute `\(name.value)`")
            }
            return found
        default:
            throw .type(expected: "one of [record, (entity of any type)]", got: value)
        }
    }

    private func binary(_ op: BinaryOperator, _ left: CedarValue, _ right: CedarValue) throws(EvaluationError)
        -> CedarValue
    {
        switch op {
        case .equal:
            return .bool(left == right)
        case .notEqual:
            return .bool(left != right)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            // Longs, and (overloaded) two datetimes or two durations; anything else, decimals included, is a
            // type error.
            let a: Int64
            let b: Int64
            switch (left, right) {
            case (.long(let x), .long(let y)): (a, b) = (x, y)
            case (.datetime(let x), .datetime(let y)): (a, b) = (x.milliseconds, y.milliseconds)
            case (.duration(let x), .duration(let y)): (a, b) = (x.milliseconds, y.milliseconds)
            case (.long, _), (.datetime, _), (.duration, _):
                throw .type(expected: "one of [long, datetime, duration]", got: right)
            default:
                throw .type(expected: "one of [long, datetime, duration]", got: left)
            }
            switch op {
            case .less: return .bool(a < b)
            case .lessOrEqual: return .bool(a <= b)
            case .greater: return .bool(a > b)
            default: return .bool(a >= b)
            }
        case .add, .subtract, .multiply:
            guard case .long(let a) = left else { throw .type(expected: "long", got: left) }
            guard case .long(let b) = right else { throw .type(expected: "long", got: right) }
            let (result, overflow): (Int64, Bool)
            switch op {
            case .add: (result, overflow) = a.addingReportingOverflow(b)
            case .subtract: (result, overflow) = a.subtractingReportingOverflow(b)
            default: (result, overflow) = a.multipliedReportingOverflow(by: b)
            }
            // Operands stay out of the message: they may be tool arguments.
            if overflow { throw .overflow("apply `\(op.rawValue)`") }
            return .long(result)
        case .in:
            guard case .entity(let child) = left else { throw .type(expected: "(entity of any type)", got: left) }
            switch right {
            case .entity(let parent):
                return .bool(isDescendant(child, of: parent))
            case .set(let elements):
                // Every element is type-checked before answering, as Cedar does.
                var parents: [EntityUID] = []
                parents.reserveCapacity(elements.count)
                for element in elements {
                    guard case .entity(let parent) = element else {
                        throw .type(expected: "(entity of any type)", got: element)
                    }
                    parents.append(parent)
                }
                return .bool(parents.contains { isDescendant(child, of: $0) })
            default:
                throw .type(expected: "one of [set, (entity of any type)]", got: right)
            }
        case .contains:
            guard case .set(let elements) = left else { throw .type(expected: "set", got: left) }
            return .bool(elements.contains(right))
        case .containsAll, .containsAny:
            guard case .set(let elements) = left else { throw .type(expected: "set", got: left) }
            guard case .set(let others) = right else { throw .type(expected: "set", got: right) }
            return .bool(op == .containsAll ? others.isSubset(of: elements) : !others.isDisjoint(with: elements))
        case .hasTag, .getTag:
            guard case .entity(let uid) = left else { throw .type(expected: "(entity of any type)", got: left) }
            guard case .string(let key) = right else { throw .type(expected: "string", got: right) }
            let entity = environment.entities[uid]
            if op == .hasTag { return .bool(entity?.tags[key] != nil) }
            guard let entity else {
                throw EvaluationError(code: .entityDoesNotExist, message: "entity `\(uid)` does not exist")
            }
            guard let tag = entity.tags[key] else {
                throw EvaluationError(
                    code: .tagDoesNotExist, message: "`\(uid)` does not have the tag `\(key.value)`")
            }
            return tag
        }
    }

    private func isDescendant(_ child: EntityUID, of parent: EntityUID) -> Bool {
        if child == parent { return true }
        return environment.entities[child]?.ancestors.contains(parent) ?? false
    }

    private func call(_ function: ExtensionFunction, _ arguments: [CedarValue]) throws(EvaluationError) -> CedarValue {
        try ExtensionCall.apply(function, arguments)
    }
}

/// Cedar's `like`: `*` matches any run of Unicode scalars (including none); everything else literally.
func wildcardMatch(_ text: [Unicode.Scalar], _ pattern: [Unescaper.PatternElement]) -> Bool {
    // Iterative matcher with single backtrack point: linear-ish, no recursion.
    var t = 0
    var p = 0
    var starP = -1
    var starT = 0
    while t < text.count {
        if p < pattern.count, case .literal(let scalar) = pattern[p], scalar == text[t] {
            t += 1
            p += 1
        } else if p < pattern.count, pattern[p] == .wildcard {
            starP = p
            starT = t
            p += 1
        } else if starP >= 0 {
            p = starP + 1
            starT += 1
            t = starT
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == .wildcard { p += 1 }
    return p == pattern.count
}
