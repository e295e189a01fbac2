import Dispatch
import FoundationEssentials
import JSONCore
import Ledger
import MCP
import Purser
import X402

/// `purser demo`: the whole product on loopback, with no accounts and no network.
///
/// It starts the local paid upstream (`DemoSeller`), writes an embedded configuration (three tools,
/// Cedar policies, limits) into a temporary folder, creates a throwaway wallet and a spending session,
/// and runs six calls through the same pipeline `purser serve` uses: a free call, a paid call with its
/// receipt, one refused by policy, one held for approval (then approved by the "user"), one refused
/// by the budget, and one paused by change detection after the seller changed its payee. It ends with the trace of why each was decided and a check of the hash chain.
public enum DemoScenario {
    /// Runs the demo, writing the story through `say`. Returns true when every step behaved as expected.
    public static func run(say: @escaping @Sendable (String) -> Void) async throws -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        let seller = try DemoSeller.start()
        defer { seller.stop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("purser-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = try writeConfiguration(root: root, baseURL: seller.baseURL)
        let home = configuration.homeDirectory
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let payer = try KeyFile.create(at: PathText.join(home, "wallet.key"))
        let ledger = try Ledger.open(path: Ledger.path(inHome: home))
        let session = try await ledger.grantSession(
            agent: "alice", asset: "USDC", decimals: 6, cap: 600_000, ttlMilliseconds: 3_600_000)
        let runtime = await Runtime.load(configuration, secrets: DemoSecrets())

        say("Purser demo: governed paid tool calls, on loopback, with a throwaway wallet.")
        say("")
        say("  paid upstream   \(seller.baseURL)  (x402 v2 seller; verifies every signature itself)")
        say("  wallet          \(payer.text)  (throwaway key, never shown to the agent)")
        say("  session         alice may spend 0.60 USDC for 1 hour (\(session.id))")
        say("  rules           Cedar policies + limits: per-call cap 0.50, approval above 0.25 USDC")
        say("")
        var expectations: [Bool] = []

        func call(
            _ number: Int, _ title: String, agent: String, tool: String, arguments: JSONObject, meta: JSONObject = [:]
        )
            async throws -> ToolResult
        {
            say("\(number). \(title)")
            say("   \(agent) → \(tool) \(JSONValue.object(arguments).serialized())")
            let outcome = try await runtime.pipeline.call(
                name: tool, arguments: arguments, caller: CallerContext(agent: agent, meta: meta))
            guard case .complete(let result) = outcome else { throw DemoError("unexpected interactive outcome") }
            let text = result.content.first?["text"]?.stringValue ?? ""
            if result.isError {
                say("   REFUSED (\(result.structuredContent?["error"]?.stringValue ?? "error")): \(text)")
            } else {
                say("   OK: \(text.count > 120 ? String(text.prefix(117)) + "…" : text)")
            }
            if let receipt = result.meta?["com.purser/receipt"]?.objectValue {
                say(
                    "   receipt \(receipt["receiptId"]?.stringValue ?? "?"): paid \(receipt["amount"]?.stringValue ?? "?") \(receipt["asset"]?.stringValue ?? "") to \(receipt["payee"]?.stringValue ?? "?") on \(receipt["network"]?.stringValue ?? "?")"
                )
                say(
                    "           tx \(receipt["transaction"]?.stringValue ?? "?"), session remaining \(receipt["sessionRemaining"]?.stringValue ?? "?") USDC, trace \(receipt["traceId"]?.stringValue ?? "?")"
                )
            }
            say("")
            return result
        }

        let free = try await call(
            1, "A free call: no payment involved.", agent: "alice", tool: "search_papers",
            arguments: ["query": "x402 payments", "max_results": 2])
        expectations.append(!free.isError)

        let paid = try await call(
            2, "A paid call: the upstream answers 402; Purser checks policy and budget, signs, and retries.",
            agent: "alice", tool: "weather", arguments: ["city": "Lisbon"])
        expectations.append(!paid.isError && paid.meta?["com.purser/receipt"] != nil)

        let denied = try await call(
            3, "Refused by policy: premium tools are for the pro tier (bob is free tier). Nothing is sent upstream.",
            agent: "bob", tool: "premium_report", arguments: ["company": "ACME"])
        expectations.append(denied.structuredContent?["error"] == "policy_denied")

        let held = try await call(
            4, "Held for approval: 0.50 USDC is above the 0.25 approval threshold.",
            agent: "alice", tool: "premium_report", arguments: ["company": "ACME"])
        expectations.append(held.structuredContent?["error"] == "approval_required")
        if let approvalID = held.structuredContent?["approvalId"]?.stringValue {
            say("   The user (not the agent) approves it: purser approve \(approvalID)")
            expectations.append(try await ledger.approve(approvalID))
            say("")
            let approved = try await call(
                5, "The agent retries with the approval id: it is used once, and the payment goes through.",
                agent: "alice", tool: "premium_report", arguments: ["company": "ACME"],
                meta: ["com.purser/approval": .string(approvalID)])
            expectations.append(!approved.isError)
        }

        let overBudget = try await call(
            6, "Refused by the budget: another 0.50 USDC report, but only 0.09 USDC of the session is left.",
            agent: "alice", tool: "premium_report", arguments: ["company": "Globex"])
        expectations.append(overBudget.structuredContent?["error"] == "budget_exceeded")

        let newPayee = "0xf5e3a1c0c4b5d6e7f8091a2b3c4d5e6f708192a3"
        seller.changePayee(to: newPayee)
        say("The weather seller now asks to be paid at another address (\(newPayee)); the rules allow both payees.")
        let swapped = try await call(
            7, "Paused by change detection: weather paid 0x2096… before; the new payee needs the user.",
            agent: "alice", tool: "weather", arguments: ["city": "Lisbon"])
        expectations.append(
            swapped.structuredContent?["error"] == "approval_required" && swapped.structuredContent?["change"] != nil)

        say("Why each call was decided (the ledger's hash-chained audit trail, no raw arguments):")
        for record in try await ledger.auditRecords() {
            let payload = (try? JSONParser.parse(record.payload))?.objectValue ?? JSONObject()
            say(
                "  #\(record.sequence) \(TextFormat.padded(record.kind, to: 18)) \(summary(payload))"
            )
        }
        let verification = try await ledger.verify()
        say("")
        say(
            "Ledger: \(verification.isValid ? "hash chain verified" : "HASH CHAIN BROKEN"); the seller settled \(seller.settled.count) payment(s) totalling \(AssetAmount.format(Int64(seller.settled.reduce(0) { $0 + $1.amountAtomic }), decimals: 6)) USDC."
        )
        expectations.append(verification.isValid && seller.settled.count == 2)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000_000
        say(
            "Done in \(TextFormat.fixed(elapsed, digits: 2)) s. Run `purser serve` to give these powers to an MCP client."
        )
        return expectations.allSatisfy { $0 }
    }

    private static func summary(_ payload: JSONObject) -> String {
        let keys = [
            "tool", "agent", "outcome", "reason", "call_policy", "pay_policy", "gate", "decision", "amount", "state",
            "approval", "changes", "change_action", "latency_us",
        ]
        var parts: [String] = []
        for key in keys {
            guard let value = payload[key] else { continue }
            parts.append("\(key)=\(value.stringValue ?? value.serialized())")
        }
        if parts.isEmpty {
            parts = payload.members.prefix(6).map { "\($0.key)=\($0.value.stringValue ?? $0.value.serialized())" }
        }
        return parts.joined(separator: " ")
    }

    private static func writeConfiguration(root: URL, baseURL: String) throws -> RuntimeConfiguration {
        let tools = root.appendingPathComponent("tools")
        let policies = root.appendingPathComponent("policies")
        for directory in [tools, policies] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let files: [(URL, String)] = [
            (tools.appendingPathComponent("search_papers.json"), searchTool(baseURL)),
            (tools.appendingPathComponent("weather.json"), weatherTool(baseURL)),
            (tools.appendingPathComponent("premium_report.json"), reportTool(baseURL)),
            (policies.appendingPathComponent("demo.cedar"), policyText),
            (policies.appendingPathComponent("entities.json"), entitiesText),
            (policies.appendingPathComponent("limits.json"), limitsText),
        ]
        for (url, text) in files { try text.write(to: url, atomically: true, encoding: .utf8) }
        return RuntimeConfiguration(
            agent: "alice", tools: tools.path, policies: policies.path, home: root.appendingPathComponent("home").path)
    }

    private static func searchTool(_ base: String) -> String {
        """
        {"name": "search_papers", "description": "Searches papers (free).", "purpose": "research.search",
         "inputSchema": {"type": "object", "properties": {"query": {"type": "string", "minLength": 1},
           "max_results": {"type": "integer", "minimum": 1, "maximum": 50}}, "required": ["query"], "additionalProperties": false},
         "upstream": {"url": "\(base)/papers", "query": {"q": "query", "limit": "max_results"}}, "groups": ["research"]}
        """
    }

    private static func weatherTool(_ base: String) -> String {
        """
        {"name": "weather", "title": "Weather report", "description": "Current weather for a city.", "purpose": "data.weather",
         "inputSchema": {"type": "object", "properties": {"city": {"type": "string", "minLength": 1}}, "required": ["city"],
           "additionalProperties": false},
         "outputSchema": {"type": "object", "properties": {"city": {"type": "string"}, "temperature": {"type": "integer"},
           "weather": {"type": "string"}}, "required": ["city", "temperature", "weather"]},
         "upstream": {"url": "\(base)/weather/{city}"}, "price": {"amount": "0.01", "asset": "USDC"},
         "tags": ["paid"], "groups": ["data"]}
        """
    }

    private static func reportTool(_ base: String) -> String {
        """
        {"name": "premium_report", "title": "Premium report", "description": "A research report on a company.",
         "purpose": "research.report",
         "inputSchema": {"type": "object", "properties": {"company": {"type": "string", "minLength": 1}}, "required": ["company"],
           "additionalProperties": false},
         "upstream": {"method": "POST", "url": "\(base)/reports", "body": ["company"]},
         "price": {"amount": "0.50", "asset": "USDC"}, "tags": ["paid", "premium"], "groups": ["research"]}
        """
    }

    private static let policyText = """
        @id("staff-may-call-tools")
        permit (principal in Group::"Staff", action == Action::"call_tool", resource);

        @id("premium-needs-pro")
        forbid (principal, action == Action::"call_tool", resource)
        when { resource has tags && resource.tags.contains("premium") }
        unless { principal has tier && principal.tier == "pro" };

        @id("staff-may-pay")
        permit (principal in Group::"Staff", action == Action::"pay", resource);

        @id("payee-allowlist")
        forbid (principal, action == Action::"pay", resource)
        unless {
          context has payTo &&
          ["0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "0xf5e3a1c0c4b5d6e7f8091a2b3c4d5e6f708192a3"].contains(context.payTo)
        };

        @id("per-call-ceiling")
        forbid (principal, action == Action::"pay", resource)
        unless { context has amount && context.amount.lessThanOrEqual(decimal("0.50")) };
        """

    private static let entitiesText = """
        [{"uid": {"type": "Agent", "id": "alice"}, "attrs": {"tier": "pro"}, "parents": [{"type": "Group", "id": "Staff"}]},
         {"uid": {"type": "Agent", "id": "bob"}, "attrs": {"tier": "free"}, "parents": [{"type": "Group", "id": "Staff"}]},
         {"uid": {"type": "Group", "id": "Staff"}, "attrs": {}, "parents": []}]
        """

    private static let limitsText = """
        {"assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}}},
         "limits": {"USDC": {"perCall": "0.50", "approvalAbove": "0.25",
                             "velocity": {"window": "1h", "maxPayments": 20, "maxAmount": "5.00"}}},
         "allow": {"networks": ["eip155:84532"], "assets": ["USDC"],
                   "payees": ["0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "0xf5e3a1c0c4b5d6e7f8091a2b3c4d5e6f708192a3"]},
         "changes": {"newPayee": "approve", "changedNetwork": "approve"}}
        """
}

/// The demo needs no secrets.
private struct DemoSecrets: SecretSource {
    func secret(named name: String) -> String? { nil }
}

/// A demo step that could not run.
struct DemoError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
