/// A warning about a policy that parses but may not do what its author meant.
public struct PolicyWarning: Sendable, Hashable, CustomStringConvertible {
    /// The policy's positional id.
    public let policyID: String
    /// The file, when the policy was loaded from one.
    public let file: String?
    /// Where the condition (or policy) starts.
    public let position: SourcePosition
    /// What is wrong and what to do.
    public let message: String

    public var description: String { "\(file ?? "<policy>"):\(position): warning: \(message)" }
}

/// Static checks beyond the grammar.
///
/// - In a `forbid`, reading an attribute or tag that no `has`/`hasTag` guard establishes first: if it is
///   missing at run time the forbid errors, is skipped, and so **fails open**.
/// - `<`, `<=`, `>`, `>=` with a `decimal(...)` operand: always a type error (use `.lessThan` and friends).
public enum PolicyLint {
    /// The warnings for every policy in the set, in policy order.
    public static func warnings(_ policies: PolicySet) -> [PolicyWarning] {
        var result: [PolicyWarning] = []
        for policy in policies.policies {
            for condition in policy.conditions {
                var messages: [String] = []
                if policy.effect == .forbid {
                    var found: [String] = []
                    unguarded(condition.body, guarded: [], into: &found)
                    var seen = Set<String>()
                    for path in found where seen.insert(path).inserted {
                        messages.append(
                            "forbid `\(policy.displayID)` reads `\(path)` without a `has` guard; if it is missing "
                                + "the forbid errors and is skipped (fails open). Guard it: `… has …&& …`")
                    }
                }
                if comparesDecimals(condition.body) {
                    messages.append(
                        "policy `\(policy.displayID)` compares a decimal with <, <=, > or >=, which is always a "
                            + "type error; use .lessThan(), .lessThanOrEqual(), .greaterThan() or .greaterThanOrEqual()"
                    )
                }
                for message in messages {
                    result.append(
                        PolicyWarning(
                            policyID: policy.id, file: policy.file, position: condition.position, message: message))
                }
            }
        }
        return result
    }

    /// Longer attribute paths are not tracked: building every prefix of a 100,000-step chain is quadratic.
    static let maximumTrackedPath = 64

    /// The dotted path an expression reads (`context.a.b`), when it is a plain attribute path.
    private static func key(_ expr: Expr) -> String? {
        switch expr {
        case .variable(let variable, _): return variable.rawValue
        case .literal(.entity(let uid), _): return uid.description
        case .access(let base, let accessors):
            guard accessors.count <= maximumTrackedPath, var path = key(base) else { return nil }
            for accessor in accessors {
                guard case .attribute(let name, _) = accessor else { return nil }
                path += ".\(name.value)"
            }
            return path
        default: return nil
        }
    }

    /// Paths known to exist when `expr` evaluates to true.
    private static func facts(_ expr: Expr) -> Set<String> {
        switch expr {
        case .hasAttribute(let base, let path):
            guard var prefix = key(base) else { return [] }
            var result = Set<String>()
            for name in path.prefix(maximumTrackedPath) {
                prefix += ".\(name.value)"
                result.insert(prefix)
            }
            return result
        case .access(let base, let accessors):
            guard case .method(.hasTag, .literal(.string(let tag), _), _) = accessors.last,
                let prefix = key(accessors.count == 1 ? base : .access(base, Array(accessors.dropLast())))
            else { return [] }
            return ["\(prefix).getTag(\(quoteCedarString(tag.value)))"]
        case .and(let operands):
            var result = Set<String>()
            for operand in operands { result.formUnion(facts(operand)) }
            return result
        case .not(let inner, _):
            return negativeFacts(inner)
        default:
            return []
        }
    }

    /// Paths known to exist when `expr` evaluates to false.
    private static func negativeFacts(_ expr: Expr) -> Set<String> {
        switch expr {
        case .not(let inner, _): return facts(inner)
        case .or(let operands):
            var result = Set<String>()
            for operand in operands { result.formUnion(negativeFacts(operand)) }
            return result
        default: return []
        }
    }

    private static func unguarded(_ expr: Expr, guarded: Set<String>, into found: inout [String]) {
        switch expr {
        case .literal, .variable:
            return
        case .and(let operands):
            // `a && b && c`: each operand is guarded by what the ones before it establish.
            var known = guarded
            for operand in operands {
                unguarded(operand, guarded: known, into: &found)
                known.formUnion(facts(operand))
            }
        case .or(let operands):
            var known = guarded
            for operand in operands {
                unguarded(operand, guarded: known, into: &found)
                known.formUnion(negativeFacts(operand))
            }
        case .ifThenElse(let condition, let thenBranch, let elseBranch, _):
            unguarded(condition, guarded: guarded, into: &found)
            unguarded(thenBranch, guarded: guarded.union(facts(condition)), into: &found)
            unguarded(elseBranch, guarded: guarded.union(negativeFacts(condition)), into: &found)
        case .access(let base, let accessors):
            unguarded(base, guarded: guarded, into: &found)
            var path = key(base)
            for (step, accessor) in accessors.enumerated() {
                if step == maximumTrackedPath { path = nil }
                switch accessor {
                case .attribute(let name, _):
                    if let prefix = path {
                        let full = "\(prefix).\(name.value)"
                        if !guarded.contains(full) { found.append(full) }
                        path = full
                    }
                case .method(let op, let argument, _):
                    unguarded(argument, guarded: guarded, into: &found)
                    if op == .getTag, case .literal(.string(let tag), _) = argument, let prefix = path {
                        let full = "\(prefix).getTag(\(quoteCedarString(tag.value)))"
                        if !guarded.contains(full) { found.append(full) }
                    }
                    path = nil
                case .isEmpty:
                    path = nil
                case .call(_, let arguments, _):
                    for argument in arguments { unguarded(argument, guarded: guarded, into: &found) }
                    path = nil
                }
            }
        case .binary(_, let left, let right, _):
            unguarded(left, guarded: guarded, into: &found)
            unguarded(right, guarded: guarded, into: &found)
        case .arithmetic(let first, let steps):
            unguarded(first, guarded: guarded, into: &found)
            for (_, operand) in steps { unguarded(operand, guarded: guarded, into: &found) }
        case .not(let inner, _), .negate(let inner, _), .hasAttribute(let inner, _), .like(let inner, _),
            .isType(let inner, _, _):
            unguarded(inner, guarded: guarded, into: &found)
        case .setLiteral(let elements, _), .call(_, let elements, _):
            for element in elements { unguarded(element, guarded: guarded, into: &found) }
        case .recordLiteral(let fields, _):
            for (_, value) in fields { unguarded(value, guarded: guarded, into: &found) }
        }
    }

    private static func isDecimal(_ expr: Expr) -> Bool {
        switch expr {
        case .call(.decimal, _, _), .literal(.decimal, _): return true
        default: return false
        }
    }

    private static func comparesDecimals(_ expr: Expr) -> Bool {
        switch expr {
        case .literal, .variable:
            return false
        case .binary(let op, let left, let right, _):
            if op == .less || op == .lessOrEqual, isDecimal(left) || isDecimal(right) { return true }
            return comparesDecimals(left) || comparesDecimals(right)
        case .arithmetic(let first, let steps):
            return comparesDecimals(first) || steps.contains { comparesDecimals($0.1) }
        case .ifThenElse(let a, let b, let c, _):
            return comparesDecimals(a) || comparesDecimals(b) || comparesDecimals(c)
        case .not(let inner, _), .negate(let inner, _), .hasAttribute(let inner, _), .like(let inner, _),
            .isType(let inner, _, _):
            return comparesDecimals(inner)
        case .access(let base, let accessors):
            return comparesDecimals(base)
                || accessors.contains {
                    switch $0 {
                    case .attribute, .isEmpty: return false
                    case .method(_, let argument, _): return comparesDecimals(argument)
                    case .call(_, let arguments, _): return arguments.contains { comparesDecimals($0) }
                    }
                }
        case .and(let elements), .or(let elements), .setLiteral(let elements, _), .call(_, let elements, _):
            return elements.contains { comparesDecimals($0) }
        case .recordLiteral(let fields, _):
            return fields.contains { comparesDecimals($0.1) }
        }
    }
}
