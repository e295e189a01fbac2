/// The differential-testing JSONL protocol (one case in, one line out), as a pure function.
///
/// A case is `{"name", "policies", "entities", "requests": [{principal, action, resource, context}]}`;
/// the answer is `{"name", "results": [{"decision", "reasons", "errors"}]}` with sorted positional ids, or
/// `{"name", "parse_error"}`, `{"name", "unsupported": "<feature>"}`, or for a case without `requests`
/// `{"name", "parses": true|false, "error"}`. Answers never depend on anything but the case.
public enum Difftest {
    /// Answers one case line with one output line (no newline).
    public static func answer(_ line: String) -> String {
        let json: CedarJSON
        do {
            json = try CedarJSON.parse(line)
        } catch {
            return object([("name", .string("")), ("error", .string("invalid case: \(error.message)"))])
        }
        let name = json["name"] ?? .string("")
        guard case .string(let policiesText)? = json["policies"] else {
            return object([("name", name), ("error", .string("case has no `policies` string"))])
        }
        let requests = json["requests"]
        let policies: PolicySet
        do {
            policies = try PolicySet(parsing: policiesText)
        } catch {
            if requests == nil {
                return object([("name", name), ("parses", .bool(false)), ("error", .string(error.description))])
            }
            return object([("name", name), ("parse_error", .string(error.description))])
        }
        guard case .array(let requestItems)? = requests else {
            return object([("name", name), ("parses", .bool(true)), ("error", .string(""))])
        }
        if let feature = policies.unsupportedFeature {
            return object([("name", name), ("unsupported", .string(feature))])
        }
        do {
            let entities = try Entities(json: json["entities"] ?? .array([]))
            var results: [CedarJSON] = []
            for item in requestItems {
                let request = try request(item)
                let response = Authorizer().isAuthorized(request, policies: policies, entities: entities)
                results.append(
                    .object([
                        ("decision", .string(response.decision.rawValue)),
                        ("reasons", .array(response.reasons.sorted().map { .string($0) })),
                        ("errors", .array(Set(response.errors.map { $0.policyID }).sorted().map { .string($0) })),
                    ]))
            }
            return object([("name", name), ("results", .array(results))])
        } catch {
            if error.code == .unsupported {
                return object([("name", name), ("unsupported", .string(error.feature ?? "data"))])
            }
            return object([("name", name), ("error", .string("invalid data: \(error.message)"))])
        }
    }

    /// Builds a request from `{"principal", "action", "resource", "context"}` (uids as `{"type","id"}`).
    public static func request(_ json: CedarJSON) throws(CedarDataError) -> Request {
        guard let principal = json["principal"], let action = json["action"], let resource = json["resource"] else {
            throw CedarDataError(.invalid, "a request needs principal, action and resource")
        }
        var context: [CedarString: CedarValue] = [:]
        if let contextJSON = json["context"] {
            guard case .record(let fields) = try CedarData.context(contextJSON) else {
                throw CedarDataError(.invalid, "context must be a record")
            }
            context = fields
        }
        return Request(
            principal: try CedarData.entityUID(principal), action: try CedarData.entityUID(action),
            resource: try CedarData.entityUID(resource), context: context)
    }

    private static func object(_ members: [(String, CedarJSON)]) -> String {
        CedarJSON.object(members).serialized
    }
}
