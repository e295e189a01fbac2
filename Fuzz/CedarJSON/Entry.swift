import Cedar

/// Policies that read attributes, tags and context of every kind, to evaluate over fuzzed data. Parsed per input:
/// held in a global, the AST's enum payloads (pointers with tag bits) read as leaks to LeakSanitizer.
private func fixturePolicies() -> PolicySet {
    let text = """
        permit(principal, action, resource) when { principal has tier && principal.tier == "pro" };
        permit(principal in Group::"staff", action, resource) when { context.n > 3 && context.list.contains(1) };
        forbid(principal, action, resource) when { context.amount.greaterThan(decimal("1.0")) };
        forbid(principal, action, resource) unless { resource.hasTag("ok") && resource.getTag("ok") == true };
        permit(principal, action, resource) when { context has a.b.c && context.a.b.c like "*x*" };
        permit(principal, action, resource is Tool in Group::"all") when { resource.owner == principal };
        """
    do { return try PolicySet(parsing: text) } catch { fatalError("fuzz fixture policies: \(error)") }
}

/// libFuzzer entry: any bytes as entity JSON, as context JSON, and as one differential-testing case line.
/// What loads is authorized against fixed policies; errors are fine, a crash, hang or leak is not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = Difftest.answer(text)
    guard let json = try? CedarJSON.parse(text) else { return 0 }
    let store = try? Entities(json: json)
    var context: [CedarString: CedarValue] = [:]
    if let value = try? CedarData.context(json), case .record(let fields) = value { context = fields }
    let entities = store ?? Entities()
    let policies = fixturePolicies()
    for entity in (store?.all ?? []).prefix(8) {
        let request = Request(
            principal: entity.uid, action: EntityUID(type: "Action", id: "call_tool"),
            resource: entity.uid, context: context)
        _ = Authorizer().isAuthorized(request, policies: policies, entities: entities)
    }
    let request = Request(
        principal: EntityUID(type: "User", id: "alice"), action: EntityUID(type: "Action", id: "call_tool"),
        resource: EntityUID(type: "Tool", id: "t"), context: context)
    _ = Authorizer().isAuthorized(request, policies: policies, entities: entities)
    return 0
}
