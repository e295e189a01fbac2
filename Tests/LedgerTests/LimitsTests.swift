import Foundation
import JSONCore
import Ledger
import Testing

@Suite("limits.json: exact amounts, fail-closed parsing, file:line:col diagnostics")
struct LimitsTests {
    /// Line and column (1-based, in characters) where `needle` first occurs; found independently of the parser.
    func position(of needle: String, in text: String) -> String {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let range = line.range(of: needle) {
                return "\(index + 1):\(line.distance(from: line.startIndex, to: range.lowerBound) + 1)"
            }
        }
        return "not found"
    }

    func problems(_ text: String) -> [String] {
        do {
            _ = try LimitsConfiguration.parse(Array(text.utf8), file: "policies/limits.json")
            return []
        } catch {
            return error.problems.map { $0.description }
        }
    }

    static let valid = """
        {
          "assets": {
            "USDC": { "decimals": 6, "networks": { "eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e" } }
          },
          "sessionDefaults": { "asset": "USDC", "budget": "5.00", "ttl": "24h", "perCall": "0.50" },
          "limits": {
            "USDC": {
              "perCall": "1.00", "perTool": { "weather": "2.5" },
              "velocity": { "window": "90m", "maxPayments": 60, "maxAmount": "10" },
              "approvalAbove": "0.25"
            }
          },
          "allow": { "networks": ["eip155:84532"], "assets": ["USDC"], "payees": ["0x209693Bc6afc0C5328bA36FaF03C514EF312287C"] }
        }
        """

    @Test("a valid file converts every amount to atomic units exactly")
    func valid() throws {
        let limits = try LimitsConfiguration.parse(Array(Self.valid.utf8), file: "limits.json")
        #expect(limits.assets["USDC"]?.decimals == 6)
        #expect(limits.sessionDefaults?.budget == 5_000_000)
        #expect(limits.sessionDefaults?.perCall == 500_000)
        #expect(limits.sessionDefaults?.ttlMilliseconds == Int64(86_400_000))
        let usdc = limits.limits(for: "USDC")
        #expect(usdc.perCall == 1_000_000)
        #expect(usdc.perTool["weather"] == 2_500_000)
        #expect(usdc.velocity == .init(windowMilliseconds: 90 * 60_000, maxPayments: 60, maxAmount: 10_000_000))
        #expect(usdc.approvalAbove == 250_000)
        #expect(limits.allowedPayees.allows("0x209693bc6afc0c5328ba36faf03c514ef312287c"))
        #expect(!limits.allowedPayees.allows("0x0000000000000000000000000000000000000001"))
        #expect(
            limits.asset(contract: "0x036cbd53842c5426634e7929541ec2318f3dcf7e", network: "eip155:84532")?.symbol
                == "USDC")
    }

    @Test("the shipped example policies/limits.json loads")
    func shippedExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let limits = try LimitsConfiguration.load(path: root.appendingPathComponent("policies/limits.json").path)
        #expect(limits.assets["USDC"]?.contracts["eip155:84532"] == "0x036CbD53842c5426634e7929541eC2318f3dCF7e")
        #expect(limits.allowedPayees.allows("0x209693Bc6afc0C5328bA36FaF03C514EF312287C"))
    }

    @Test("an unknown key is an error at the key's value, not ignored")
    func unknownKey() {
        let text = Self.valid.replacingOccurrences(of: "\"approvalAbove\"", with: "\"approvalAbov\"")
        let found = problems(text)
        #expect(found.count == 1)
        #expect(
            found.first?.hasPrefix(
                "policies/limits.json:\(position(of: "\"0.25\"", in: text)): unknown key \"approvalAbov\"") == true)
    }

    @Test("more fractional digits than the asset has is refused with the place")
    func tooPrecise() {
        let text = Self.valid.replacingOccurrences(of: "\"perCall\": \"1.00\"", with: "\"perCall\": \"0.1234567\"")
        let found = problems(text)
        #expect(
            found == [
                "policies/limits.json:\(position(of: "\"0.1234567\"", in: text)): '0.1234567' has 7 fractional digits; the asset has only 6"
            ])
    }

    @Test("numbers for amounts are refused (no floating point anywhere)")
    func numericAmount() {
        let text = Self.valid.replacingOccurrences(of: "\"budget\": \"5.00\"", with: "\"budget\": 5.00")
        let found = problems(text)
        #expect(found.count == 1)
        #expect(
            found.first?.hasPrefix("policies/limits.json:\(position(of: "5.00", in: text)): expected an amount") == true
        )
    }

    @Test("every problem is reported, each with its own line and column")
    func severalProblems() {
        let text = Self.valid
            .replacingOccurrences(of: "\"ttl\": \"24h\"", with: "\"ttl\": \"soon\"")
            .replacingOccurrences(of: "[\"eip155:84532\"]", with: "[\"base\"]")
            .replacingOccurrences(of: "\"assets\": [\"USDC\"]", with: "\"assets\": [\"USDT\"]")
        let found = problems(text)
        #expect(
            found.contains(
                "policies/limits.json:\(position(of: "\"soon\"", in: text)): expected a duration like \"24h\", \"90m\" or \"3600s\""
            ))
        #expect(
            found.contains(
                "policies/limits.json:\(position(of: "\"base\"", in: text)): \"base\" is not a CAIP-2 network id"))
        #expect(
            found.contains(
                "policies/limits.json:\(position(of: "\"USDT\"", in: text)): unknown asset \"USDT\"; declare it under \"assets\""
            ))
        #expect(found.count == 3)
    }

    @Test("missing required sections and malformed addresses are errors")
    func missingAndMalformed() {
        #expect(problems("{\"assets\": {}}") == ["policies/limits.json:1:1: missing required key \"allow\""])
        let text = Self.valid.replacingOccurrences(of: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", with: "0x2096")
        #expect(
            problems(text) == [
                "policies/limits.json:\(position(of: "\"0x2096\"", in: text)): expected a 0x-prefixed 20-byte hex address"
            ])
    }

    @Test("a JSON syntax error keeps the parser's line and column")
    func syntaxError() {
        let text = "{\n  \"assets\": {,\n}"
        let found = problems(text)
        #expect(found.count == 1)
        #expect(
            found.first?.hasPrefix("policies/limits.json:2:\(position(of: ",", in: text).split(separator: ":")[1]):")
                == true)
    }

    @Test(
        "durations",
        arguments: [("24h", Int64(86_400_000)), ("90m", 5_400_000), ("3600s", 3_600_000), ("7d", 604_800_000)])
    func durations(text: String, milliseconds: Int64) {
        #expect(parseDurationMilliseconds(text) == milliseconds)
    }

    @Test("bad durations", arguments: ["", "h", "0h", "-1h", "1.5h", "10", "1w", "99999999999999999d"])
    func badDurations(text: String) {
        #expect(parseDurationMilliseconds(text) == nil)
    }
}
