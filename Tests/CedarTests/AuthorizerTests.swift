import Cedar
import Foundation
import Testing

/// The authorizer: default deny, forbid overrides, erroring policies skipped and reported (cedar.md §2.6), the
/// observed outcomes of cedar.md §5.2, and the difftest fixture whose expectations came from cedarpy.
@Suite("Authorizer")
struct AuthorizerTests {
    static let demoPolicies = """
        @id("research-search-papers")
        permit (principal in Group::"Research", action == Action::"call_tool", resource == Tool::"search_papers")
        when { context.params has max_results && context.params.max_results <= 50 &&
               context.amount.lessThanOrEqual(decimal("0.10")) };

        @id("payto-allowlist")
        forbid (principal, action == Action::"call_tool", resource)
        unless { context has payTo && Config::"payments".allowedPayTo.contains(context.payTo) };

        @id("premium-needs-pro")
        forbid (principal, action, resource is Tool)
        when   { resource.tags.contains("premium") }
        unless { principal has tier && principal.tier == "pro" };

        @id("free-tools")
        permit (principal, action, resource) when { resource.price == decimal("0.0000") };

        @id("fragile")
        permit (principal, action, resource is Tool) when { context.params.max_results < 10 };
        """

    static let demoEntities = """
        [{"uid": {"type": "Agent", "id": "r"}, "attrs": {"tier": "free"}, "parents": [{"type": "Group", "id": "Research"}]},
         {"uid": {"type": "Agent", "id": "pro"}, "attrs": {"tier": "pro"}, "parents": []},
         {"uid": {"type": "Group", "id": "Research"}, "attrs": {}, "parents": []},
         {"uid": {"type": "Tool", "id": "search_papers"}, "attrs": {"tags": ["search"],
           "price": {"__extn": {"fn": "decimal", "arg": "0.05"}}}, "parents": []},
         {"uid": {"type": "Tool", "id": "premium_report"}, "attrs": {"tags": ["premium"],
           "price": {"__extn": {"fn": "decimal", "arg": "0.50"}}}, "parents": []},
         {"uid": {"type": "Config", "id": "payments"}, "attrs": {"allowedPayTo": ["0xok"]}, "parents": []}]
        """

    func decide(agent: String, tool: String, context: String) throws -> (String, [String], [String]) {
        let policies = try PolicySet(parsing: AuthorizerTests.demoPolicies)
        let entities = try Entities(json: AuthorizerTests.demoEntities)
        guard case .record(let fields) = try CedarData.context(try CedarJSON.parse(context)) else {
            return ("", [], [])
        }
        let request = Request(
            principal: EntityUID(type: "Agent", id: agent), action: EntityUID(type: "Action", id: "call_tool"),
            resource: EntityUID(type: "Tool", id: tool), context: fields)
        let response = Authorizer().isAuthorized(request, policies: policies, entities: entities)
        let names = Dictionary(uniqueKeysWithValues: policies.policies.map { ($0.id, $0.displayID) })
        return (
            response.decision.rawValue, response.reasons.map { names[$0]! }, response.errors.map { names[$0.policyID]! }
        )
    }

    static let amount = #"{"__extn": {"fn": "decimal", "arg": "0.05"}}"#

    @Test("the observed outcomes of reference/cedar.md §5.2")
    func demo() throws {
        let amount = AuthorizerTests.amount
        var result = try decide(
            agent: "r", tool: "search_papers",
            context: #"{"params": {"max_results": 20}, "amount": \#(amount), "payTo": "0xok"}"#)
        #expect(result.0 == "allow" && result.1 == ["research-search-papers"])
        result = try decide(
            agent: "r", tool: "search_papers",
            context: #"{"params": {"max_results": 500}, "amount": \#(amount), "payTo": "0xok"}"#)
        #expect(result.0 == "deny" && result.1.isEmpty)
        result = try decide(
            agent: "r", tool: "search_papers",
            context: #"{"params": {"max_results": 20}, "amount": \#(amount), "payTo": "0xevil"}"#)
        #expect(result.0 == "deny" && result.1 == ["payto-allowlist"])
        result = try decide(
            agent: "r", tool: "search_papers", context: #"{"params": {}, "amount": \#(amount), "payTo": "0xok"}"#)
        #expect(result.0 == "deny" && result.1.isEmpty)
        result = try decide(
            agent: "r", tool: "search_papers",
            context: #"{"params": {"max_results": 20}, "amount": "0.05", "payTo": "0xok"}"#)
        #expect(result.0 == "deny" && result.2 == ["research-search-papers"])
        result = try decide(
            agent: "r", tool: "premium_report",
            context: #"{"params": {"max_results": 5}, "amount": \#(amount), "payTo": "0xok"}"#)
        #expect(result.0 == "deny" && result.1 == ["premium-needs-pro"])
        result = try decide(
            agent: "pro", tool: "premium_report", context: #"{"params": {}, "amount": \#(amount), "payTo": "0xok"}"#)
        #expect(result.0 == "deny" && result.2 == ["fragile"])
    }

    @Test("an erroring forbid fails open; an empty set denies")
    func failOpenAndDefaultDeny() throws {
        let policies = try PolicySet(
            parsing: """
                permit(principal, action, resource);
                forbid(principal, action, resource) when { principal.missing == 1 };
                """)
        let request = Request(
            principal: EntityUID(type: "U", id: "u"), action: EntityUID(type: "Action", id: "a"),
            resource: EntityUID(type: "R", id: "r"))
        let response = Authorizer().isAuthorized(request, policies: policies, entities: Entities())
        #expect(response.decision == .allow)
        #expect(response.reasons == ["policy0"])
        #expect(response.errors.map { $0.policyID } == ["policy1"])
        #expect(response.errors[0].error.code == .entityDoesNotExist)
        let empty = Authorizer().isAuthorized(request, policies: PolicySet(), entities: Entities())
        #expect(empty.decision == .deny && empty.reasons.isEmpty && empty.errors.isEmpty)
    }

    /// Cases generated by Tests/Interop/cedar/generate.py (seed 11) with cedarpy's answers; regenerate with
    /// `python Tests/Interop/cedar/difftest.py generated --seed 11 --cases 150 --write …` (see the file's header).
    static func fixture() throws -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/difftest-cedarpy.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    @Test("cedarpy's answers on the generated fixture, with and without the scope index")
    func fixtureMatches() throws {
        let lines = try AuthorizerTests.fixture()
        #expect(lines.count >= 400)
        var compared = 0
        for line in lines {
            let testCase = try CedarJSON.parse(line)
            let answer = try CedarJSON.parse(Difftest.answer(line))
            guard case .array(let requests)? = testCase["requests"] else {
                #expect(answer["parses"] == testCase["expected"]?["parses"], "\(line)")
                continue
            }
            guard case .array(let results)? = answer["results"] else {
                Issue.record("no results for \(line)")
                continue
            }
            let policies = try PolicySet(
                parsing: testCase["policies"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "")
            let entities = try Entities(json: testCase["entities"] ?? .array([]))
            for (request, result) in zip(requests, results) {
                let expected = try #require(request["expected"])
                #expect(result["decision"] == expected["decision"], "\(line)")
                #expect(result["reasons"] == expected["reasons"], "\(line)")
                #expect(result["errors"] == expected["errors"], "\(line)")
                // The index must never change an answer.
                let parsed = try Difftest.request(request)
                let indexed = Authorizer().isAuthorized(parsed, policies: policies, entities: entities)
                let full = Authorizer().isAuthorized(parsed, policies: policies, entities: entities, useIndex: false)
                #expect(indexed.decision == full.decision && indexed.reasons == full.reasons)
                #expect(indexed.errors.map { $0.policyID } == full.errors.map { $0.policyID })
                compared += 1
            }
        }
        #expect(compared >= 1000)
    }
}
