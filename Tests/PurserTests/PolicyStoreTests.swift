import Cedar
import Foundation
import JSONCore
import Testing

@testable import Purser

/// The policy seam: the example `policies/`, call and payment decisions, listing, reload and lint.
@Suite("PolicyStore")
struct PolicyStoreTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies").path

    static let searchPapers = ToolFacts(name: "search_papers", tags: ["search"], groups: ["research"])
    static let weather = ToolFacts(
        name: "weather", tags: ["paid"], groups: ["data"], priceHint: "0.01", priceAsset: "USDC")
    static let premium = ToolFacts(
        name: "premium_report", tags: ["paid", "premium"], groups: ["research"], priceHint: "0.50",
        priceAsset: "USDC")
    static let payee = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"

    func payment(_ atomic: String, to payee: String = PolicyStoreTests.payee) -> PaymentFacts {
        PaymentFacts(amountAtomic: atomic, decimals: 6, asset: "USDC", network: "base-sepolia", payTo: payee)
    }

    @Test("the example policies lint clean")
    func examplesLintClean() {
        // As `purser check` lints them: with the schema of the example tools.
        let tools = URL(fileURLWithPath: PolicyStoreTests.examples).deletingLastPathComponent()
            .appendingPathComponent("tools").path
        let manifests = ToolManifestLoader.loadDirectory(tools).0
        #expect(PolicyStore.lint(directory: PolicyStoreTests.examples, tools: manifests).isEmpty)
    }

    @Test("call decisions on the examples name the deciding policies by @id")
    func calls() async {
        let store = PolicyStore(directory: PolicyStoreTests.examples)
        let ok = await store.authorizeToolCall(
            agent: "alice", tool: PolicyStoreTests.searchPapers, arguments: ["query": "cedar", "max_results": 20])
        #expect(ok.allowed && ok.deciding == ["research-search-papers"])
        let noLimit = await store.authorizeToolCall(
            agent: "alice", tool: PolicyStoreTests.searchPapers, arguments: ["query": "cedar"])
        #expect(noLimit.allowed)
        let tooMany = await store.authorizeToolCall(
            agent: "alice", tool: PolicyStoreTests.searchPapers, arguments: ["query": "cedar", "max_results": 500])
        #expect(!tooMany.allowed && tooMany.deciding.isEmpty && tooMany.errors.isEmpty)
        let intern = await store.authorizeToolCall(
            agent: "bob", tool: PolicyStoreTests.searchPapers, arguments: ["query": "cedar"])
        #expect(!intern.allowed)
        let premium = await store.authorizeToolCall(agent: "bob", tool: PolicyStoreTests.premium, arguments: [:])
        #expect(!premium.allowed && premium.deciding == ["premium-needs-pro"])
        let stranger = await store.authorizeToolCall(agent: "mallory", tool: PolicyStoreTests.weather, arguments: [:])
        #expect(!stranger.allowed)
        let weather = await store.authorizeToolCall(agent: "bob", tool: PolicyStoreTests.weather, arguments: [:])
        #expect(weather.allowed && weather.deciding == ["staff-data-tools"])
    }

    @Test("payment decisions: payee allowlist, per-call ceiling, tier ceiling")
    func payments() async {
        let store = PolicyStore(directory: PolicyStoreTests.examples)
        let ok = await store.authorizePayment(agent: "alice", tool: PolicyStoreTests.weather, payment: payment("10000"))
        #expect(ok.allowed && ok.deciding == ["staff-may-pay"])
        let payee = await store.authorizePayment(
            agent: "alice", tool: PolicyStoreTests.weather, payment: payment("10000", to: "0xevil"))
        #expect(!payee.allowed && payee.deciding == ["payee-allowlist"])
        let ceiling = await store.authorizePayment(
            agent: "alice", tool: PolicyStoreTests.premium, payment: payment("500001"))
        // 0.500001 rounds up to 0.5001, above the 0.50 ceiling.
        #expect(!ceiling.allowed && ceiling.deciding == ["per-call-ceiling"])
        let atCeiling = await store.authorizePayment(
            agent: "alice", tool: PolicyStoreTests.premium, payment: payment("500000"))
        #expect(atCeiling.allowed)
        let free = await store.authorizePayment(agent: "bob", tool: PolicyStoreTests.weather, payment: payment("60000"))
        #expect(!free.allowed && free.deciding == ["free-tier-ceiling"])
        let bad = await store.authorizePayment(agent: "alice", tool: PolicyStoreTests.weather, payment: payment("1e3"))
        #expect(!bad.allowed && bad.refusal != nil)
    }

    @Test("tools/list filtering hides only tools that every call would be denied")
    func listing() async {
        let store = PolicyStore(directory: PolicyStoreTests.examples)
        #expect(await store.mayEverCall(agent: "alice", tool: PolicyStoreTests.premium))
        #expect(!(await store.mayEverCall(agent: "bob", tool: PolicyStoreTests.premium)))
        // bob's permit depends on the arguments, so the tool stays listed.
        #expect(await store.mayEverCall(agent: "bob", tool: PolicyStoreTests.searchPapers))
        #expect(!(await store.mayEverCall(agent: "mallory", tool: PolicyStoreTests.weather)))
    }

    @Test("arguments map to Cedar exactly or the call is refused")
    func argumentMapping() throws {
        let mapped = try PolicyContext.value(
            try JSONParser.parse(#"{"n": 3, "d": 1.5, "x": null, "a": [1, 1, 2], "o": {"k": "v"}}"#)
        ).get()
        #expect(
            mapped
                == .record([
                    "n": .long(3), "d": .decimal(CedarDecimal(scaled: 15_000)), "a": .set([.long(1), .long(2)]),
                    "o": .record(["k": .string("v")]),
                ]))
        #expect((try? PolicyContext.value(try JSONParser.parse(#"{"d": 1.23456}"#)).get()) == nil)
        #expect((try? PolicyContext.value(try JSONParser.parse(#"{"n": 9223372036854775808}"#)).get()) == nil)
        let tiny = try PolicyContext.amounts(payment("1")).get()
        #expect(tiny.amount == .decimal(CedarDecimal(scaled: 1)))
        #expect(tiny.atomic == .long(1))
        let huge = try PolicyContext.amounts(
            PaymentFacts(amountAtomic: "100000000000000000000", decimals: 18, asset: "X", network: "n", payTo: "p")
        ).get()
        #expect(huge.amount == .decimal(CedarDecimal(scaled: 1_000_000)))
        #expect(huge.atomic == .string("100000000000000000000"))
    }

    @Test("a broken edit keeps the last good set and reports file:line:col; a fix reloads")
    func reload() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-policy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a.cedar")
        try "permit(principal, action, resource);".write(to: file, atomically: true, encoding: .utf8)
        let store = PolicyStore(configuration: .init(directory: directory.path, reloadInterval: .zero))
        let tool = ToolFacts(name: "t")
        #expect(await store.authorizeToolCall(agent: "a", tool: tool, arguments: [:]).allowed)

        try "permit(principal, action, resource);\nforbid(principal, action resource);".write(
            to: file, atomically: true, encoding: .utf8)
        #expect(await store.authorizeToolCall(agent: "a", tool: tool, arguments: [:]).allowed)
        let problem = try #require(await store.status().problem)
        #expect(problem.file == file.path)
        #expect(problem.location.line == 2 && problem.location.column == 26)

        try "forbid(principal, action, resource);".write(to: file, atomically: true, encoding: .utf8)
        let denied = await store.authorizeToolCall(agent: "a", tool: tool, arguments: [:])
        #expect(!denied.allowed && denied.deciding == ["policy0"])
        #expect(await store.status().problem == nil)
    }

    @Test("lint warns about unguarded reads in a forbid and decimal comparisons")
    func lintWarnings() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-lint-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
        permit(principal, action, resource);
        forbid(principal, action, resource) unless { principal.tier == "pro" };
        forbid(principal, action, resource) when { principal has tier && principal.tier == "free" };
        permit(principal, action, resource) when { context.amount <= decimal("0.10") };
        """.write(to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        let diagnostics = PolicyStore.lint(directory: directory.path)
        #expect(diagnostics.count == 2)
        #expect(diagnostics.allSatisfy { $0.severity == .warning })
        #expect(diagnostics[0].location.line == 2 && diagnostics[0].message.contains("`principal.tier`"))
        #expect(diagnostics[1].location.line == 4 && diagnostics[1].message.contains("lessThanOrEqual"))

        try "permit(principal, action, resource) when { 1 < };".write(
            to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        let broken = PolicyStore.lint(directory: directory.path)
        #expect(broken.count == 1 && broken[0].severity == .error && broken[0].location.column == 48)
    }

    /// A directory whose forbid relies on group membership, and whose entities.json makes `web_search`'s
    /// group `search` a child of the tool itself: a tool manifest putting `web_search` in `search` closes a cycle.
    static func blockedDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-cycle-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try """
        permit(principal, action, resource);
        forbid(principal in Group::"blocked", action, resource);
        """.write(to: directory.appendingPathComponent("p.cedar"), atomically: true, encoding: .utf8)
        try """
        [
          {"uid": {"type": "Agent", "id": "mallory"}, "attrs": {}, "parents": [{"type": "Group", "id": "blocked"}]},
          {"uid": {"type": "Group", "id": "blocked"}, "attrs": {}, "parents": []},
          {"uid": {"type": "ToolGroup", "id": "search"}, "attrs": {},
           "parents": [{"type": "ToolGroup", "id": "all"}, {"type": "Tool", "id": "web_search"}]}
        ]
        """.write(to: directory.appendingPathComponent("entities.json"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test("entities that cannot take the tool refuse the call: never evaluated against fewer entities")
    func entityCycleFailsClosed() async throws {
        let directory = try PolicyStoreTests.blockedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = PolicyStore(directory: directory.path)
        let plain = ToolFacts(name: "weather")
        // The forbid applies through the membership in entities.json.
        #expect(!(await store.authorizeToolCall(agent: "mallory", tool: plain, arguments: [:]).allowed))
        #expect(await store.authorizeToolCall(agent: "alice", tool: plain, arguments: [:]).allowed)

        let looped = ToolFacts(name: "web_search", groups: ["search"])
        for agent in ["mallory", "alice"] {
            let call = await store.authorizeToolCall(agent: agent, tool: looped, arguments: [:])
            #expect(!call.allowed)
            let why = try #require(call.refusal)
            #expect(why.contains("web_search") && why.contains("cycle"))
            let pay = await store.authorizePayment(
                agent: agent, tool: looped,
                payment: PaymentFacts(
                    amountAtomic: "10000", decimals: 6, asset: "USDC", network: "base", payTo: PolicyStoreTests.payee))
            #expect(!pay.allowed && pay.refusal != nil)
            #expect(!(await store.mayEverCall(agent: agent, tool: looped)))
        }
        #expect(throws: CedarDataError.self) {
            _ = try PolicyStore.entities(try PolicyFiles.load(directory: directory.path).entities, adding: looped)
        }
    }

    @Test("purser check names the entities.json parent entry that closes a tool's group cycle")
    func entityCycleLint() throws {
        let directory = try PolicyStoreTests.blockedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = """
            {"name": "web_search", "description": "d", "inputSchema": {"type": "object"},
             "upstream": {"method": "GET", "url": "http://127.0.0.1:9/s"}, "groups": ["search"]}
            """
        let (loaded, problems) = ToolManifestLoader.load(bytes: Array(manifest.utf8), file: "tools/web_search.json")
        #expect(problems.isEmpty)
        let tool = try #require(loaded)
        let diagnostics = PolicyStore.lint(directory: directory.path, tools: [tool])
        let cycle = try #require(diagnostics.first { $0.message.contains("cycle") })
        #expect(cycle.severity == .error)
        #expect(cycle.file == directory.appendingPathComponent("entities.json").path)
        // Line 5 of entities.json, at `{"type": "Tool", "id": "web_search"}` (the second parent).
        #expect(cycle.location == SourceLocation(line: 5, column: 52))
        #expect(cycle.message.contains("tools/web_search.json") && cycle.message.contains("`search`"))
        // Another tool in the same group is fine.
        var other = tool
        other.name = "news"
        #expect(!PolicyStore.lint(directory: directory.path, tools: [other]).contains { $0.severity == .error })
    }

    @Test("an entities.json or policy.json that exists but cannot be read refuses the load, never means none")
    func unreadableFilesFailClosed() async throws {
        let directory = try PolicyStoreTests.blockedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let entities = directory.appendingPathComponent("entities.json")
        try FileManager.default.removeItem(at: entities)
        // A directory in its place: present, but no contents to read (as a file without read permission).
        try FileManager.default.createDirectory(at: entities, withIntermediateDirectories: false)
        let store = PolicyStore(directory: directory.path)
        let call = await store.authorizeToolCall(agent: "mallory", tool: ToolFacts(name: "weather"), arguments: [:])
        #expect(!call.allowed)
        let problem = try #require(await store.status().problem)
        #expect(problem.file == entities.path && problem.message.contains("cannot read"))

        try FileManager.default.removeItem(at: entities)
        let settings = directory.appendingPathComponent(PolicyFiles.settingsFileName)
        try FileManager.default.createDirectory(at: settings, withIntermediateDirectories: false)
        do {
            _ = try PolicyFiles.load(directory: directory.path)
            Issue.record("an unreadable policy.json loaded as the default shape")
        } catch {
            #expect(error.diagnostic.file == settings.path && error.diagnostic.message.contains("cannot read"))
        }
    }
}
