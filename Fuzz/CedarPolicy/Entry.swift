import Cedar

/// A fixed store and request with every kind of value, so that fuzzed policies reach deep into the evaluator.
private let entities: Entities = {
    let text = """
        [{"uid": {"type": "User", "id": "alice"}, "attrs": {"tier": "pro", "age": 30,
           "tags": ["a", "b"], "address": {"city": "Paris", "zip": 75001},
           "limit": {"__extn": {"fn": "decimal", "arg": "1.50"}}},
          "parents": [{"type": "Group", "id": "staff"}], "tags": {"scope": "read"}},
         {"uid": {"type": "Group", "id": "staff"}, "attrs": {}, "parents": [{"type": "Group", "id": "all"}]},
         {"uid": {"type": "Group", "id": "all"}, "attrs": {}, "parents": []},
         {"uid": {"type": "Tool", "id": "search"}, "attrs": {"price": {"__extn": {"fn": "decimal", "arg": "0.05"}},
           "owner": {"__entity": {"type": "User", "id": "alice"}}}, "parents": []}]
        """
    do { return try Entities(json: text) } catch { fatalError("fuzz fixture entities: \(error)") }
}()

private let request: Request = {
    let context = """
        {"q": "abc", "n": 5, "flag": true, "params": {"max_results": 10, "query": "x"},
         "amount": {"__extn": {"fn": "decimal", "arg": "0.10"}}, "list": [1, 2, 3],
         "who": {"__entity": {"type": "User", "id": "alice"}}}
        """
    do {
        guard case .record(let fields) = try CedarData.context(try CedarJSON.parse(context)) else {
            fatalError("fuzz fixture context is not a record")
        }
        return Request(
            principal: EntityUID(type: "User", id: "alice"), action: EntityUID(type: "Action", id: "call_tool"),
            resource: EntityUID(type: "Tool", id: "search"), context: fields)
    } catch {
        fatalError("fuzz fixture context: \(error)")
    }
}()

/// libFuzzer entry: any bytes as a policy text; what parses is linted and evaluated against a fixed request.
/// Parse errors, evaluation errors and unsupported features are fine; a crash, hang or leak is not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let policies = try? PolicySet(parsing: text) else { return 0 }
    _ = PolicyLint.warnings(policies)
    let response = Authorizer().isAuthorized(request, policies: policies, entities: entities)
    // Every reason and every erroring policy must be a policy of the set.
    let ids = Set(policies.policies.map(\.id))
    guard response.reasons.allSatisfy(ids.contains), response.errors.allSatisfy({ ids.contains($0.policyID) })
    else { fatalError("a response names a policy that is not in the set") }
    // `mayAllow` over-approximates: when it says no call can be allowed, this one is not.
    let may = Authorizer().mayAllow(
        principal: request.principal, action: request.action, resource: request.resource, policies: policies,
        entities: entities)
    if !may, response.decision == .allow { fatalError("mayAllow said no, isAuthorized allowed") }
    return 0
}
