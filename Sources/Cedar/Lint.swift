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

    private static func key(_ expr: Expr) -> String? {
        switch expr {
        case .variable(let variable): return variable.rawValue
        case .literal(.entity(let uid)): return uid.description
        case .getAttribute(let base, let name): return key(base).map { "\($0).\(name.value)" }
        default: return nil
        }
    }

    /// Paths known to exist when `expr` evaluates to true.
    private static func facts(_ expr: Expr) -> Set<String> {
        switch expr {
        case .hasAttribute(let base, let name):
            return key(base).map { ["\($0).\(name.value)"] } ?? []
        case .binary(.hasTag, let base, .literal(.string(let tag))):
            return key(base).map { ["\($0).getTag(\(quoteCedarString(tag.value)))"] } ?? []
        case .and(let left, let right):
            return facts(left).union(facts(right))
        case .not(let inner):
            return negativeFacts(inner)
        default:
            return []
        }
    }

    /// Paths known to exist when `expr` evaluates to false.
    private static func negativeFacts(_ expr: Expr) -> Set<String> {
        switch expr {
        case .not(let inner): return facts(inner)
        case .or(let left, let right): return negativeFacts(left).union(negativeFacts(right))
        default: return []
        }
    }

    private static func unguarded(_ expr: Expr, guarded: Set<String>, into found: inout [String]) {
        switch expr {
        case .literal, .variable:
            return
        case .and(let left, let right):
            unguarded(left, guarded: guarded, into: &found)
            unguarded(right, guarded: guarded.union(facts(left)), into: &found)
        case .or(let left, let right):
            unguarded(left, guarded: guarded, into: &found)
            unguarded(right, guarded: guarded.union(negativeFacts(left)), into: &found)
        case .ifThenElse(let condition, let thenBranch, let elseBranch):
            unguarded(condition, guarded: guarded, into: &found)
            unguarded(thenBranch, guarded: guarded.union(facts(condition)), into: &found)
            unguarded(elseBranch, guarded: guarded.union(negativeFacts(condition)), into: &found)
        case .getAttribute(let base, let name):
            unguarded(base, guarded: guarded, into: &found)
            if let path = key(base).map({ "\($0).\(name.value)" }), !guarded.contains(path) {
                found.append(path)
            }
        case .binary(.getTag, let base, let tag):
            unguarded(base, guarded: guarded, into: &found)
            unguarded(tag, guarded: guarded, into: &found)
            if case .literal(.string(let name)) = tag, let base = key(base) {
                let path = "\(base).getTag(\(quoteCedarString(name.value)))"
                if !guarded.contains(path) { found.append(path) }
            }
        case .binary(_, let left, let right):
            unguarded(left, guarded: guarded, into: &found)
            unguarded(right, guarded: guarded, into: &found)
        case .not(let inner), .negate(let inner), .hasAttribute(let inner, _), .like(let inner, _),
            .isType(let inner, _), .isEmpty(let inner):
            unguarded(inner, guarded: guarded, into: &found)
        case .setLiteral(let elements), .call(_, let elements):
            for element in elements { unguarded(element, guarded: guarded, into: &found) }
        case .recordLiteral(let fields):
            for (_, value) in fields { unguarded(value, guarded: guarded, into: &found) }
        }
    }

    private static func isDecimal(_ expr: Expr) -> Bool {
        switch expr {
        case .call(.decimal, _), .literal(.decimal): return true
        default: return false
        }
    }

    private static func comparesDecimals(_ expr: Expr) -> Bool {
        switch expr {
        case .literal, .variable:
            return false
        case .binary(let op, let left, let right):
            if op == .less || op == .lessOrEqual, isDecimal(left) || isDecimal(right) { return true }
            return comparesDecimals(left) || comparesDecimals(right)
        case .and(let a, let b), .or(let a, let b):
            return comparesDecimals(a) || comparesDecimals(b)
        case .ifThenElse(let a, let b, let c):
            return comparesDecimals(a) || comparesDecimals(b) || comparesDecimals(c)
        case .not(let inner), .negate(let inner), .getAttribute(let inner, _), .hasAttribute(let inner, _),
            .like(let inner, _), .isType(let inner, _), .isEmpty(let inner):
            return comparesDecimals(inner)
        case .setLiteral(let elements), .call(_, let elements):
            return elements.contains { comparesDecimals($0) }
        case .recordLiteral(let fields):
            return fields.contains { comparesDecimals($0.1) }
        }
    }
}
