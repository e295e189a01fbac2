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

enum ExtensionFunction: String, Sendable {
    case decimal
    case lessThan
    case lessThanOrEqual
    case greaterThan
    case greaterThanOrEqual
}

/// A Cedar expression (the v1 subset).
indirect enum Expr: Sendable {
    case literal(CedarValue)
    case variable(Variable)
    case ifThenElse(Expr, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case not(Expr)
    case negate(Expr)
    case binary(BinaryOperator, Expr, Expr)
    case getAttribute(Expr, CedarString)
    case hasAttribute(Expr, CedarString)
    case like(Expr, [Unescaper.PatternElement])
    case isType(Expr, CedarString)
    case isEmpty(Expr)
    case setLiteral([Expr])
    case recordLiteral([(CedarString, Expr)])
    case call(ExtensionFunction, [Expr])
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
