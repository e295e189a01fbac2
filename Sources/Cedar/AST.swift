/// Whether a policy grants or denies.
public enum Effect: String, Sendable, Hashable {
    case permit
    case forbid
}

/// One of the four request variables.
public enum Variable: String, Sendable, Hashable {
    case principal
    case action
    case resource
    case context
}

/// The principal or resource part of a policy scope.
public enum EntityScope: Sendable, Hashable {
    /// No constraint.
    case any
    /// `== E`.
    case equals(EntityUID)
    /// `in E`.
    case isIn(EntityUID)
    /// `is T`.
    case isType(CedarString)
    /// `is T in E`.
    case isTypeIn(CedarString, EntityUID)
}

/// The action part of a policy scope.
public enum ActionScope: Sendable, Hashable {
    /// No constraint.
    case any
    /// `== A`.
    case equals(EntityUID)
    /// `in A` or `in [A, B, …]`.
    case isIn([EntityUID])
}

enum BinaryOperator: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case `in`
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case contains
    case containsAll
    case containsAny
    case hasTag
    case getTag
}

/// Cedar's extension functions (`decimal`, `ipaddr`, `datetime`); constructors are called as functions, the
/// rest as methods on their first argument.
enum ExtensionFunction: String, Sendable, CaseIterable {
    case decimal
    case lessThan
    case lessThanOrEqual
    case greaterThan
    case greaterThanOrEqual
    case ip
    case isIpv4
    case isIpv6
    case isLoopback
    case isMulticast
    case isInRange
    case datetime
    case duration
    case offset
    case durationSince
    case toDate
    case toTime
    case toMilliseconds
    case toSeconds
    case toMinutes
    case toHours
    case toDays

    /// Constructors, called as `name(…)`.
    static let functionStyle: Set<ExtensionFunction> = [.decimal, .ip, .datetime, .duration]

    /// How many arguments it takes, counting a method's receiver.
    var arity: Int {
        switch self {
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual, .isInRange, .offset, .durationSince:
            return 2
        default:
            return 1
        }
    }
}

/// One step of a postfix chain: `.name`, `["name"]`, or a method call `.m(args)`.
///
/// Each step carries where its name starts (the attribute name or key, the method name), so that the validator
/// can point at the step that fails rather than at the whole chain.
enum Accessor: Sendable {
    case attribute(CedarString, at: SourcePosition)
    /// A built-in method (`contains`, `containsAll`, `containsAny`, `hasTag`, `getTag`): receiver and argument.
    case method(BinaryOperator, Expr, at: SourcePosition)
    case isEmpty(at: SourcePosition)
    /// An extension method: the receiver is the first argument.
    case call(ExtensionFunction, [Expr], at: SourcePosition)

    /// Where the step's name starts.
    var position: SourcePosition {
        switch self {
        case .attribute(_, let position), .method(_, _, let position), .isEmpty(let position),
            .call(_, _, let position):
            return position
        }
    }
}

/// A Cedar expression.
///
/// Left-associative chains (`a || b || …`, `a && b && …`, `a + b - …`, `a * b * …`, `e.a.b["c"].m()…`) are
/// flattened into one node holding an array, so neither the tree's depth nor any recursion over it grows with a
/// chain's length: only parenthesised nesting (bounded by `Parser.maximumNesting`) makes the tree deeper.
///
/// Nodes carry their source position (`Expr.position`) for the validator's `file:line:col` messages. A node
/// that starts with an operand (`a || b`, `a + b`, `e.a`, `e has a`, `e like p`) takes its first operand's; the
/// others store theirs in the payload, which the evaluator never reads (the payload is boxed anyway, so the
/// position costs no extra indirection on the authorization path).
indirect enum Expr: Sendable {
    case literal(CedarValue, at: SourcePosition)
    case variable(Variable, at: SourcePosition)
    case ifThenElse(Expr, Expr, Expr, at: SourcePosition)
    /// Two or more operands, evaluated left to right until one is false.
    case and([Expr])
    /// Two or more operands, evaluated left to right until one is true.
    case or([Expr])
    case not(Expr, at: SourcePosition)
    case negate(Expr, at: SourcePosition)
    /// `left op right`; the position is where the expression starts in the text (for `a > b`, stored as
    /// `b < a`, that is `a`'s).
    case binary(BinaryOperator, Expr, Expr, at: SourcePosition)
    /// `first op₁ e₁ op₂ e₂ …` with `+`, `-` or `*`, evaluated left to right.
    case arithmetic(Expr, [(BinaryOperator, Expr)])
    /// `base` followed by one or more accessors, applied left to right.
    case access(Expr, [Accessor])
    /// `e has a.b.c`: `e has a && e.a has b && e.a.b has c`, evaluated in one pass.
    case hasAttribute(Expr, [CedarString])
    case like(Expr, [Unescaper.PatternElement])
    /// `e is T`; the position is the type name's.
    case isType(Expr, CedarString, at: SourcePosition)
    case setLiteral([Expr], at: SourcePosition)
    case recordLiteral([(CedarString, Expr)], at: SourcePosition)
    case call(ExtensionFunction, [Expr], at: SourcePosition)

    /// Where the expression starts in the policy text.
    var position: SourcePosition {
        // Iterative: the leftmost operand of nested chains is reached without recursion.
        var expr = self
        while true {
            switch expr {
            case .literal(_, let position), .variable(_, let position), .ifThenElse(_, _, _, let position),
                .not(_, let position), .negate(_, let position), .binary(_, _, _, let position),
                .setLiteral(_, let position), .recordLiteral(_, let position), .call(_, _, let position):
                return position
            case .isType(let operand, _, _), .arithmetic(let operand, _), .access(let operand, _),
                .hasAttribute(let operand, _), .like(let operand, _):
                expr = operand
            case .and(let operands), .or(let operands):
                // The parser builds these with two or more operands.
                guard let first = operands.first else { return SourcePosition(line: 1, column: 1) }
                expr = first
            }
        }
    }

    /// `self` followed by `accessor`, extending an existing chain rather than nesting one.
    func appending(_ accessor: Accessor) -> Expr {
        if case .access(let base, var accessors) = self {
            accessors.append(accessor)
            return .access(base, accessors)
        }
        return .access(self, [accessor])
    }
}

/// A parsed policy.
public struct Policy: Sendable {
    /// The positional id, `policy0`, `policy1`, … in source order.
    public let id: String
    /// Annotations in source order (`@id("x")` gives `("id", "x")`; `@foo` gives `("foo", "")`).
    public let annotations: [(key: String, value: String)]
    /// Permit or forbid.
    public let effect: Effect
    /// Principal constraint.
    public let principal: EntityScope
    /// Action constraint.
    public let action: ActionScope
    /// Resource constraint.
    public let resource: EntityScope
    /// Where the policy starts in its text.
    public let position: SourcePosition
    /// The file it came from, when loaded from several files.
    public let file: String?
    let conditions: [(isWhen: Bool, body: Expr, position: SourcePosition)]

    /// The `@id` annotation, if any.
    public var annotatedID: String? {
        annotations.first { $0.key == "id" }?.value
    }

    /// The product-facing name: the `@id` annotation when present, otherwise the positional id.
    public var displayID: String { annotatedID ?? id }

    /// True when the policy has no `when`/`unless` conditions (only its scope decides).
    public var hasConditions: Bool { !conditions.isEmpty }
}
