import Foundation
import Ledger
import Purser
import PurserDemo
import Testing

/// The files `purser init` writes must load cleanly and permit exactly the agent they were written for.
@Suite("StarterConfiguration")
struct StarterConfigurationTests {
    private func written(agent: String) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("purser-starter-\(UUID().uuidString)")
            .path
        for file in StarterConfiguration.files(agent: agent, sellerURL: "http://127.0.0.1:9999") {
            let path = (root as NSString).appendingPathComponent(file.path)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try file.content.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test("tools, policies and limits load without a problem, and the tools point at the given seller")
    func loads() throws {
        let root = try written(agent: "claude")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (manifests, diagnostics) = ToolManifestLoader.loadDirectory(root + "/tools")
        #expect(diagnostics.isEmpty)
        #expect(Set(manifests.map(\.name)) == ["weather", "search_papers", "premium_report"])
        #expect(manifests.allSatisfy { $0.upstream.urlTemplate.origin == "http://127.0.0.1:9999" })
        #expect(PolicyStore.lint(directory: root + "/policies").isEmpty)
        let limits = try LimitsConfiguration.load(path: root + "/policies/limits.json")
        #expect(limits.limits(for: "USDC").approvalAbove == 250_000)  // 0.25, between the two prices
        #expect(limits.sessionDefaults?.budget == 5_000_000)
    }

    @Test("the agent may call and pay for every tool; another agent may call none")
    func permits() async throws {
        let root = try written(agent: "claude")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (manifests, _) = ToolManifestLoader.loadDirectory(root + "/tools")
        let limits = try LimitsConfiguration.load(path: root + "/policies/limits.json")
        let store = PolicyStore(directory: root + "/policies")
        let claude = await AgentCapabilities.assess(
            agent: "claude", manifests: manifests, policies: store, policiesDirectory: root + "/policies",
            limits: limits, limitsProblem: nil)
        #expect(claude.callableCount == 3 && claude.warnings.isEmpty)
        let bob = await AgentCapabilities.assess(
            agent: "bob", manifests: manifests, policies: store, policiesDirectory: root + "/policies",
            limits: limits, limitsProblem: nil)
        #expect(bob.callableCount == 0)
    }

    @Test(
        "agent names that could break the Cedar or JSON text are refused",
        arguments: [
            ("claude", true), ("ci-bot_2.v1", true), ("", false), ("a\"b", false), ("a b", false), ("é", false),
        ])
    func agentNames(name: String, valid: Bool) {
        #expect(StarterConfiguration.isValidAgentName(name) == valid)
    }
}
