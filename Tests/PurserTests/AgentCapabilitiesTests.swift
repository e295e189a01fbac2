import Foundation
import Ledger
import Testing

@testable import Purser

/// What `purser check --agent` and `serve` say an agent can do.
@Suite("AgentCapabilities")
struct AgentCapabilitiesTests {
    static let payee = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"

    /// A policies folder with `cedar` and entities for `agents`.
    private func policies(_ cedar: String, agents: [String] = ["claude"]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "purser-caps-\(UUID().uuidString)"
        )
        .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try cedar.write(toFile: directory + "/p.cedar", atomically: true, encoding: .utf8)
        let entities = agents.map { #"{"uid": {"type": "Agent", "id": "\#($0)"}, "attrs": {}, "parents": []}"# }
        try "[\(entities.joined(separator: ","))]".write(
            toFile: directory + "/entities.json", atomically: true, encoding: .utf8)
        return directory
    }

    private func manifest(_ name: String, price: String?, network: String? = nil, payTo: String? = nil) throws
        -> ToolManifest
    {
        var priceText = ""
        if let price {
            var fields = [#""amount": "\#(price)""#, #""asset": "USDC""#]
            if let network { fields.append(#""network": "\#(network)""#) }
            if let payTo { fields.append(#""payTo": "\#(payTo)""#) }
            priceText = #", "price": {\#(fields.joined(separator: ", "))}"#
        }
        let text = """
            {"name": "\(name)", "description": "d", "inputSchema": {"type": "object"},
             "upstream": {"url": "http://127.0.0.1:1/x"}\(priceText)}
            """
        let (loaded, problems) = ToolManifestLoader.load(bytes: Array(text.utf8), file: "\(name).json")
        return try #require(loaded, "\(problems)")
    }

    private func limits(payees: [String] = [payee], perCall: String = "1.00") throws -> LimitsConfiguration {
        let text = """
            {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}}},
             "limits": {"USDC": {"perCall": "\(perCall)"}},
             "allow": {"networks": ["eip155:84532"], "assets": ["USDC"], "payees": [\(payees.map { "\"\($0)\"" }.joined(separator: ", "))]}}
            """
        return try LimitsConfiguration.parse(Array(text.utf8), file: "limits.json")
    }

    @Test("an agent no policy names may call nothing, and the summary says why and how to fix it")
    func noPermit() async throws {
        let directory = try policies(#"permit (principal == Agent::"alice", action, resource);"#, agents: ["alice"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tools = [try manifest("weather", price: "0.01"), try manifest("search", price: nil)]
        let caps = await AgentCapabilities.assess(
            agent: "claude", manifests: tools, policies: PolicyStore(directory: directory),
            policiesDirectory: directory, limits: try limits(), limitsProblem: nil)
        #expect(caps.callableCount == 0)
        #expect(caps.summary.hasPrefix(#"agent claude may call 0 of 2 tools: no policy permits Agent::"claude""#))
        #expect(caps.summary.contains("the agents there are alice"))
        #expect(caps.summary.contains(#"permit (principal == Agent::"claude""#))
        #expect(caps.warnings == [caps.summary])
    }

    @Test("a permitted agent sees its tools; a paid tool whose payee, network or price the limits refuse is named")
    func unpayable() async throws {
        let directory = try policies(#"permit (principal == Agent::"claude", action, resource);"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tools = [
            try manifest("fine", price: "0.01", network: "eip155:84532", payTo: Self.payee),
            try manifest(
                "stranger", price: "0.01", network: "eip155:84532", payTo: "0x1111111111111111111111111111111111111111"),
            try manifest("mainnet", price: "0.01", network: "eip155:8453", payTo: Self.payee),
            try manifest("pricey", price: "2.00"),
            try manifest("free", price: nil),
        ]
        let caps = await AgentCapabilities.assess(
            agent: "claude", manifests: tools, policies: PolicyStore(directory: directory),
            policiesDirectory: directory, limits: try limits(), limitsProblem: nil)
        #expect(caps.summary == "agent claude may call 5 of 5 tools")
        let byName = Dictionary(uniqueKeysWithValues: caps.tools.map { ($0.name, $0.unpayable) })
        #expect(byName["fine"] == [])
        #expect(byName["free"] == [])
        #expect(
            byName["stranger"]?.first?.contains(
                #"payee 0x1111111111111111111111111111111111111111 is not in limits.json "allow"."payees""#) == true)
        #expect(
            byName["mainnet"]?.contains {
                $0.contains(#"network eip155:8453 is not in limits.json "allow"."networks""#)
            } == true)
        #expect(byName["pricey"]?.first?.contains("above the per-call limit 1.00") == true)
        #expect(caps.warnings.count == 4)
    }

    @Test("without limits every paid tool is unpayable, with the reason given")
    func noLimits() async throws {
        let directory = try policies(#"permit (principal == Agent::"claude", action, resource);"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let caps = await AgentCapabilities.assess(
            agent: "claude", manifests: [try manifest("weather", price: "0.01")],
            policies: PolicyStore(directory: directory), policiesDirectory: directory, limits: nil,
            limitsProblem: "cannot read /x/limits.json")
        #expect(caps.warnings == ["weather can never be paid: cannot read /x/limits.json"])
    }

    @Test("a pay policy that forbids the offered payee makes the tool unpayable")
    func payPolicy() async throws {
        let directory = try policies(
            """
            permit (principal == Agent::"claude", action == Action::"call_tool", resource);
            @id("no-pay") forbid (principal, action == Action::"pay", resource);
            permit (principal == Agent::"claude", action == Action::"pay", resource);
            """)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let caps = await AgentCapabilities.assess(
            agent: "claude", manifests: [try manifest("w", price: "0.01", network: "eip155:84532", payTo: Self.payee)],
            policies: PolicyStore(directory: directory), policiesDirectory: directory, limits: try limits(),
            limitsProblem: nil)
        #expect(caps.tools.first?.unpayable.first?.contains("no-pay") == true)
    }
}
