import FoundationEssentials

/// The files `purser init` writes: three sample tools pointed at a seller (by default `purser seller`),
/// commented Cedar policies that permit one agent, its entities, and limits. Every file is meant to be read
/// and tightened; nothing in it is specific to the demo except the seller's URL and payee.
public enum StarterConfiguration {
    /// One file to write, relative to the chosen directory.
    public struct File: Sendable, Hashable {
        /// E.g. `tools/weather.json`.
        public var path: String
        /// The text.
        public var content: String
        /// One line for "what was created".
        public var summary: String
    }

    /// The seller `purser seller` runs by default.
    public static var defaultSellerURL: String { "http://127.0.0.1:\(DemoSeller.defaultPort)" }

    /// The per-call amount above which a payment is held for the user's approval.
    public static let approvalThreshold = "0.25"

    /// True when `agent` is a name `init` can write into Cedar and JSON without escaping: 1–64 of
    /// `A–Z a–z 0–9 _ . -`.
    public static func isValidAgentName(_ agent: String) -> Bool {
        (1...64).contains(agent.count)
            && agent.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0))
            }
    }

    /// The files, for `agent` and a seller at `sellerURL` (no trailing slash).
    public static func files(agent: String, sellerURL: String) -> [File] {
        let base = sellerURL.hasSuffix("/") ? String(sellerURL.dropLast()) : sellerURL
        return [
            File(
                path: "tools/weather.json", content: weatherTool(base),
                summary: "paid tool, 0.01 USDC a call, at \(base)/weather/{city}"),
            File(
                path: "tools/search_papers.json", content: searchTool(base),
                summary: "free tool, at \(base)/papers"),
            File(
                path: "tools/premium_report.json", content: reportTool(base),
                summary: "paid tool, 0.50 USDC a call (above the \(approvalThreshold) approval threshold)"),
            File(
                path: "policies/tools.cedar", content: toolsPolicy(agent),
                summary: "agent \(agent) may call every tool (commented, ready to tighten)"),
            File(
                path: "policies/payments.cedar", content: paymentsPolicy(agent),
                summary: "agent \(agent) may pay the allowlisted payee, at most 0.50 a payment"),
            File(
                path: "policies/entities.json", content: entities(agent),
                summary: "Agent::\"\(agent)\" and the payee allowlist"),
            File(
                path: "policies/limits.json", content: limits,
                summary:
                    "USDC on Base Sepolia; sessions of 5.00 for 24h; approval above \(approvalThreshold); the seller's payee"
            ),
        ]
    }

    private static func weatherTool(_ base: String) -> String {
        """
        {
          "name": "weather",
          "title": "Weather report",
          "description": "Current weather for a city, from a paid weather API.",
          "inputSchema": {
            "type": "object",
            "properties": {
              "city": { "type": "string", "minLength": 1, "maxLength": 80, "pattern": "^[A-Za-z .'-]+$" }
            },
            "required": ["city"],
            "additionalProperties": false
          },
          "outputSchema": {
            "type": "object",
            "properties": {
              "city": { "type": "string" },
              "temperature": { "type": "integer" },
              "weather": { "type": "string" }
            },
            "required": ["city", "temperature", "weather"]
          },
          "annotations": { "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true },
          "upstream": { "method": "GET", "url": "\(base)/weather/{city}", "timeoutSeconds": 10 },
          "price": { "amount": "0.01", "asset": "USDC", "network": "\(DemoSeller.network)", "payTo": "\(DemoSeller.payTo)" },
          "tags": ["paid"],
          "groups": ["data"],
          "purpose": "data.weather"
        }

        """
    }

    private static func searchTool(_ base: String) -> String {
        """
        {
          "name": "search_papers",
          "title": "Search papers",
          "description": "Searches the paper index and returns matching titles (free).",
          "inputSchema": {
            "type": "object",
            "properties": {
              "query": { "type": "string", "minLength": 1, "maxLength": 200, "description": "What to search for" },
              "max_results": { "type": "integer", "minimum": 1, "maximum": 10, "description": "How many results" }
            },
            "required": ["query"],
            "additionalProperties": false
          },
          "annotations": { "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true },
          "upstream": { "method": "GET", "url": "\(base)/papers", "query": { "q": "query", "limit": "max_results" }, "timeoutSeconds": 10 },
          "tags": ["search"],
          "groups": ["research"],
          "purpose": "research.search"
        }

        """
    }

    private static func reportTool(_ base: String) -> String {
        """
        {
          "name": "premium_report",
          "title": "Premium company report",
          "description": "A research report on a company, from a paid API.",
          "inputSchema": {
            "type": "object",
            "properties": { "company": { "type": "string", "minLength": 1, "maxLength": 64 } },
            "required": ["company"],
            "additionalProperties": false
          },
          "annotations": { "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true },
          "upstream": { "method": "POST", "url": "\(base)/reports", "body": ["company"], "timeoutSeconds": 20 },
          "price": { "amount": "0.50", "asset": "USDC", "network": "\(DemoSeller.network)", "payTo": "\(DemoSeller.payTo)" },
          "tags": ["paid", "premium"],
          "groups": ["research"],
          "purpose": "research.report"
        }

        """
    }

    private static func toolsPolicy(_ agent: String) -> String {
        """
        // Which agent may call which tool, with which arguments. Written by `purser init`.
        //
        // Requests: principal Agent::"<id>", action Action::"call_tool", resource Tool::"<name>",
        // context { params: <the tool arguments>, tool: "<name>", client: { name, version } }.
        // Tool entities come from tools/*.json: resource.tags, resource.price (decimal), parents ToolGroup::"<group>".
        // Nothing is permitted unless a permit says so; a forbid always wins. Check with `purser check --agent \(agent)`.

        // \(agent) may call every tool. To tighten, name the tools:
        //   permit (principal == Agent::"\(agent)", action == Action::"call_tool", resource in [Tool::"weather", Tool::"search_papers"]);
        // or a group from the manifests' "groups":
        //   permit (principal == Agent::"\(agent)", action == Action::"call_tool", resource in ToolGroup::"data");
        @id("\(agent)-may-call-tools")
        permit (principal == Agent::"\(agent)", action == Action::"call_tool", resource);

        // An example of a condition on the arguments (uncomment to use): at most 5 search results per call.
        // `has` first: an optional argument may be absent, and an erroring forbid is skipped.
        // @id("small-searches")
        // forbid (principal, action == Action::"call_tool", resource == Tool::"search_papers")
        // when { context.params has max_results && context.params.max_results > 5 };

        """
    }

    private static func paymentsPolicy(_ agent: String) -> String {
        """
        // What may be paid, to whom, and how much. Written by `purser init`.
        //
        // Requests: principal Agent::"<id>", action Action::"pay", resource Tool::"<name>",
        // context { amount: decimal (whole units), amountAtomic: Long, asset, network, payTo, tool, params }.
        // A payment is only considered after the call itself was permitted; the budget, the per-call cap and the
        // approval threshold are in limits.json and the session (`purser session list`).

        // \(agent) may pay for the tools it may call.
        @id("\(agent)-may-pay")
        permit (principal == Agent::"\(agent)", action == Action::"pay", resource);

        // Only payees on the allowlist in entities.json (Config::"payments".allowedPayTo). Add a seller's payee
        // there (and to limits.json "allow"."payees") before its tools can be paid. Guarded with `has` so a
        // missing Config entity denies.
        @id("payee-allowlist")
        forbid (principal, action == Action::"pay", resource)
        unless { Config::"payments" has allowedPayTo && context has payTo &&
                 Config::"payments".allowedPayTo.contains(context.payTo) };

        // No single payment above 0.50. Decimals have no `<=`: use .lessThanOrEqual().
        @id("per-call-ceiling")
        forbid (principal, action == Action::"pay", resource)
        unless { context has amount && context.amount.lessThanOrEqual(decimal("0.50")) };

        """
    }

    private static func entities(_ agent: String) -> String {
        """
        [
          {"uid": {"type": "Agent", "id": "\(agent)"}, "attrs": {}, "parents": []},
          {"uid": {"type": "ToolGroup", "id": "data"}, "attrs": {}, "parents": []},
          {"uid": {"type": "ToolGroup", "id": "research"}, "attrs": {}, "parents": []},
          {"uid": {"type": "Config", "id": "payments"},
           "attrs": {"allowedPayTo": ["\(DemoSeller.payTo)"]}, "parents": []}
        ]

        """
    }

    private static let limits = """
        {
          "assets": {
            "USDC": {
              "decimals": 6,
              "networks": { "\(DemoSeller.network)": "\(DemoSeller.asset)" }
            }
          },
          "sessionDefaults": { "asset": "USDC", "budget": "5.00", "ttl": "24h", "perCall": "0.50" },
          "limits": {
            "USDC": {
              "perCall": "1.00",
              "perTool": {},
              "velocity": { "window": "1h", "maxPayments": 120, "maxAmount": "10.00" },
              "approvalAbove": "\(approvalThreshold)"
            }
          },
          "allow": {
            "networks": ["\(DemoSeller.network)"],
            "assets": ["USDC"],
            "payees": ["\(DemoSeller.payTo)"]
          }
        }

        """
}
