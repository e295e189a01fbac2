import Cedar

/// What one condition evaluates to when wrapped in a permit policy.
enum Outcome: Equatable, CustomStringConvertible {
    case `true`
    case `false`
    case error

    var description: String {
        switch self {
        case .true: return "true"
        case .false: return "false"
        case .error: return "error"
        }
    }
}

/// Evaluates `expression` as the only `when` condition of a permit, with an optional store and context.
func outcome(
    _ expression: String, entities: String = "[]", context: String = "{}",
    principal: EntityUID = EntityUID(type: "User", id: "alice"),
    resource: EntityUID = EntityUID(type: "Photo", id: "p")
) throws -> Outcome {
    let policies = try PolicySet(parsing: "permit(principal, action, resource) when { \(expression) };")
    let store = try Entities(json: entities)
    guard case .record(let fields) = try CedarData.context(try CedarJSON.parse(context)) else { return .error }
    let request = Request(
        principal: principal, action: EntityUID(type: "Action", id: "view"), resource: resource, context: fields)
    let response = Authorizer().isAuthorized(request, policies: policies, entities: store)
    if !response.errors.isEmpty { return .error }
    return response.decision == .allow ? .true : .false
}

/// True when Cedar accepts the policy text.
func parses(_ text: String) -> Bool {
    (try? PolicySet(parsing: text)) != nil
}
