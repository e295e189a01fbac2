/// A parsed set of policies with a scope index.
///
/// Ids are positional (`policy0`, `policy1`, … across all sources in order); `@id` annotations are kept for
/// product-facing names.
public struct PolicySet: Sendable {
    /// The policies in source order.
    public let policies: [Policy]
    /// The first feature outside the v1 subset that the text uses (e.g. `ext:ip`, `templates`), if any.
    /// A set with an unsupported feature must not be used to authorize: answers could be wrong.
    public let unsupportedFeature: String?
    /// Where `unsupportedFeature` is first used: the source name (when parsed from sources) and position.
    public let unsupportedLocation: (file: String?, position: SourcePosition)?
    let index: ScopeIndex

    /// Parses one policy text.
    public init(parsing text: String) throws(CedarParseError) {
        let parsed = try Parser.parse(text)
        self.init(
            policies: parsed.policies, unsupportedFeature: parsed.unsupported,
            unsupportedLocation: parsed.unsupportedPosition.map { (nil, $0) })
    }

    /// Parses several named texts (e.g. files) into one set; ids continue across them.
    ///
    /// - Throws: the first `PolicySourceError`, naming the source and the line and column.
    public init(sources: [(name: String, text: String)]) throws(PolicySourceError) {
        var policies: [Policy] = []
        var unsupported: String?
        var location: (file: String?, position: SourcePosition)?
        for (name, text) in sources {
            do {
                let parsed = try Parser.parse(text, file: name, firstIndex: policies.count)
                policies += parsed.policies
                if unsupported == nil, let feature = parsed.unsupported {
                    unsupported = feature
                    location = parsed.unsupportedPosition.map { (name, $0) }
                }
            } catch {
                throw PolicySourceError(file: name, error: error)
            }
        }
        self.init(policies: policies, unsupportedFeature: unsupported, unsupportedLocation: location)
    }

    init(
        policies: [Policy], unsupportedFeature: String?,
        unsupportedLocation: (file: String?, position: SourcePosition)? = nil
    ) {
        self.policies = policies
        self.unsupportedFeature = unsupportedFeature
        self.unsupportedLocation = unsupportedLocation
        self.index = ScopeIndex(policies)
    }

    /// An empty set (everything is denied).
    public init() {
        self.init(policies: [], unsupportedFeature: nil)
    }
}

/// A parse error in one named policy source.
public struct PolicySourceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The source (file) name.
    public let file: String
    /// The error.
    public let error: CedarParseError

    public var description: String { "\(file):\(error.position.line):\(error.position.column): \(error.message)" }
}

/// One authorization request.
public struct Request: Sendable {
    /// The principal, e.g. `Agent::"alice"` (need not exist in the store).
    public var principal: EntityUID
    /// The action, e.g. `Action::"call_tool"`.
    public var action: EntityUID
    /// The resource, e.g. `Tool::"weather"`.
    public var resource: EntityUID
    /// The context record.
    public var context: [CedarString: CedarValue]

    /// Creates a request.
    public init(
        principal: EntityUID, action: EntityUID, resource: EntityUID, context: [CedarString: CedarValue] = [:]
    ) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context = context
    }
}

/// Allow or deny.
public enum Decision: String, Sendable, Hashable {
    case allow
    case deny
}

/// A policy that could not be evaluated for a request (it was skipped).
public struct PolicyEvaluationError: Sendable, Hashable {
    /// The positional id.
    public let policyID: String
    /// The error.
    public let error: EvaluationError
}

/// The answer to a request.
public struct Response: Sendable {
    /// Allow or deny.
    public let decision: Decision
    /// The deciding policies' positional ids: the satisfied permits when allowed, the satisfied forbids
    /// when denied (empty for a default deny). In policy order.
    public let reasons: [String]
    /// Every policy whose evaluation failed, in policy order.
    public let errors: [PolicyEvaluationError]
}

/// Indexes each policy under its most selective scope constraint so that a request evaluates only policies
/// whose scope could match.
///
/// Each policy lives in exactly one bucket, the first that applies of: resource `==`, principal `==`, resource
/// `in`, principal `in`, action `==`, action `in` (one entity), resource `is`, principal `is`, else the
/// always-candidate list. A request looks up its own uids, their
/// ancestors and types in every dimension; the full scope is then checked on each candidate.
struct ScopeIndex: Sendable {
    private enum Dimension: Int, CaseIterable {
        case principal = 0
        case action = 1
        case resource = 2
    }

    private struct Buckets: Sendable {
        var equals: [EntityUID: [Int]] = [:]
        var within: [EntityUID: [Int]] = [:]
        var types: [CedarString: [Int]] = [:]
    }

    private var buckets = [Buckets(), Buckets(), Buckets()]
    private var always: [Int] = []
    private var hasWithin = [false, false, false]
    private var hasTypes = [false, false, false]

    init(_ policies: [Policy]) {
        for (position, policy) in policies.enumerated() {
            if case .equals(let uid) = policy.resource {
                buckets[2].equals[uid, default: []].append(position)
            } else if case .equals(let uid) = policy.principal {
                buckets[0].equals[uid, default: []].append(position)
            } else if let uid = ScopeIndex.within(policy.resource) {
                buckets[2].within[uid, default: []].append(position)
                hasWithin[2] = true
            } else if let uid = ScopeIndex.within(policy.principal) {
                buckets[0].within[uid, default: []].append(position)
                hasWithin[0] = true
            } else if case .equals(let uid) = policy.action {
                // Actions are few, so an action constraint is the least selective key.
                buckets[1].equals[uid, default: []].append(position)
            } else if case .isIn(let uids) = policy.action, uids.count == 1 {
                buckets[1].within[uids[0], default: []].append(position)
                hasWithin[1] = true
            } else if let type = ScopeIndex.type(policy.resource) {
                buckets[2].types[type, default: []].append(position)
                hasTypes[2] = true
            } else if let type = ScopeIndex.type(policy.principal) {
                buckets[0].types[type, default: []].append(position)
                hasTypes[0] = true
            } else {
                always.append(position)
            }
        }
    }

    private static func within(_ scope: EntityScope) -> EntityUID? {
        switch scope {
        case .isIn(let uid), .isTypeIn(_, let uid): return uid
        default: return nil
        }
    }

    private static func type(_ scope: EntityScope) -> CedarString? {
        if case .isType(let type) = scope { return type }
        return nil
    }

    /// Positions of the policies that could match, ascending.
    func candidates(_ request: Request, _ entities: Entities) -> [Int] {
        var result = always
        let uids = [request.principal, request.action, request.resource]
        for dimension in 0..<3 {
            let uid = uids[dimension]
            let bucket = buckets[dimension]
            if let found = bucket.equals[uid] { result += found }
            if hasWithin[dimension] {
                if let found = bucket.within[uid] { result += found }
                if let entity = entities[uid] {
                    for ancestor in entity.ancestors {
                        if let found = bucket.within[ancestor] { result += found }
                    }
                }
            }
            if hasTypes[dimension], let found = bucket.types[uid.type] { result += found }
        }
        result.sort()
        return result
    }
}

/// Evaluates requests against a policy set and an entity store with Cedar's rules: default deny, a satisfied
/// forbid overrides any permit, and a policy whose evaluation errors is skipped and reported.
public struct Authorizer: Sendable {
    /// Creates an authorizer.
    public init() {}

    /// Answers one request.
    ///
    /// - Parameter useIndex: false evaluates every policy (used to check the index gives the same answers).
    public func isAuthorized(
        _ request: Request, policies: PolicySet, entities: Entities, useIndex: Bool = true
    ) -> Response {
        let environment = Environment(
            principal: .entity(request.principal), action: .entity(request.action),
            resource: .entity(request.resource), context: .record(request.context), entities: entities)
        let evaluator = Evaluator(environment: environment)
        let positions = useIndex ? policies.index.candidates(request, entities) : Array(policies.policies.indices)
        var permits: [String] = []
        var forbids: [String] = []
        var errors: [PolicyEvaluationError] = []
        for position in positions {
            let policy = policies.policies[position]
            guard scopeMatches(policy, request, entities) else { continue }
            do {
                if try conditionsHold(policy, evaluator) {
                    if policy.effect == .permit {
                        permits.append(policy.id)
                    } else {
                        forbids.append(policy.id)
                    }
                }
            } catch {
                errors.append(PolicyEvaluationError(policyID: policy.id, error: error))
            }
        }
        if forbids.isEmpty && !permits.isEmpty {
            return Response(decision: .allow, reasons: permits, errors: errors)
        }
        return Response(decision: .deny, reasons: forbids, errors: errors)
    }

    func conditionsHold(_ policy: Policy, _ evaluator: Evaluator) throws(EvaluationError) -> Bool {
        for condition in policy.conditions {
            let value = try evaluator.evaluateBool(condition.body)
            if value != condition.isWhen { return false }
        }
        return true
    }

    private func isDescendant(_ child: EntityUID, of parent: EntityUID, _ entities: Entities) -> Bool {
        child == parent || (entities[child]?.ancestors.contains(parent) ?? false)
    }

    private func matches(_ scope: EntityScope, _ uid: EntityUID, _ entities: Entities) -> Bool {
        switch scope {
        case .any: return true
        case .equals(let target): return uid == target
        case .isIn(let target): return isDescendant(uid, of: target, entities)
        case .isType(let type): return uid.type == type
        case .isTypeIn(let type, let target): return uid.type == type && isDescendant(uid, of: target, entities)
        }
    }

    func scopeMatches(_ policy: Policy, _ request: Request, _ entities: Entities) -> Bool {
        guard matches(policy.principal, request.principal, entities) else { return false }
        switch policy.action {
        case .any: break
        case .equals(let target): if request.action != target { return false }
        case .isIn(let targets):
            if !targets.contains(where: { isDescendant(request.action, of: $0, entities) }) { return false }
        }
        return matches(policy.resource, request.resource, entities)
    }
}

extension Authorizer {
    /// Whether some context could make this request allowed: a conservative answer for listing tools.
    ///
    /// Conditions that never read `context` are evaluated exactly. A context-dependent permit is assumed able
    /// to hold, and a context-dependent forbid able not to hold (an erroring forbid is skipped, so it cannot
    /// be relied on to deny). The answer is therefore false only when every possible call is denied.
    public func mayAllow(
        principal: EntityUID, action: EntityUID, resource: EntityUID, policies: PolicySet, entities: Entities
    ) -> Bool {
        let request = Request(principal: principal, action: action, resource: resource)
        let environment = Environment(
            principal: .entity(principal), action: .entity(action), resource: .entity(resource),
            context: .record([:]), entities: entities)
        let evaluator = Evaluator(environment: environment)
        var somePermit = false
        for position in policies.index.candidates(request, entities) {
            let policy = policies.policies[position]
            guard scopeMatches(policy, request, entities) else { continue }
            let contextFree = policy.conditions.allSatisfy { !$0.body.readsContext }
            let holds: Bool?
            if contextFree {
                holds = (try? conditionsHold(policy, evaluator)) ?? false
            } else {
                holds = nil
            }
            switch policy.effect {
            case .forbid:
                // A forbid that certainly holds denies every call.
                if holds == true { return false }
            case .permit:
                if holds != false { somePermit = true }
            }
        }
        return somePermit
    }
}

extension Expr {
    /// True when evaluating the expression may read `context`.
    var readsContext: Bool {
        switch self {
        case .literal: return false
        case .variable(let variable, _): return variable == .context
        case .ifThenElse(let a, let b, let c, _): return a.readsContext || b.readsContext || c.readsContext
        case .and(let operands), .or(let operands), .setLiteral(let operands, _), .call(_, let operands, _):
            return operands.contains { $0.readsContext }
        case .binary(_, let a, let b, _): return a.readsContext || b.readsContext
        case .arithmetic(let first, let steps): return first.readsContext || steps.contains { $0.1.readsContext }
        case .access(let base, let accessors): return base.readsContext || accessors.contains { $0.readsContext }
        case .not(let a, _), .negate(let a, _), .hasAttribute(let a, _), .like(let a, _), .isType(let a, _, _):
            return a.readsContext
        case .recordLiteral(let fields, _): return fields.contains { $0.1.readsContext }
        }
    }
}

extension Accessor {
    var readsContext: Bool {
        switch self {
        case .attribute, .isEmpty: return false
        case .method(_, let argument, _): return argument.readsContext
        case .call(_, let arguments, _): return arguments.contains { $0.readsContext }
        }
    }
}

extension PolicySet {
    /// How many policies the scope index selects for `request` (for benchmarks and diagnostics).
    public func candidateCount(_ request: Request, _ entities: Entities) -> Int {
        index.candidates(request, entities).count
    }
}
