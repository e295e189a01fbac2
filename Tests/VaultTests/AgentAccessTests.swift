import Foundation
import JSONCore
import PurserVault
import Testing

@Suite struct AgentAccessTests {
    @Test func mapsNamesAndUids() throws {
        let access = try AgentAccess.parse(
            Array(#"{"version":1,"users":{"claude":["alice"],"uid:1002":["bob","alice"]}}"#.utf8), file: "agents.json")
        #expect(access.agents(uid: 1002, name: "claude") == ["alice", "bob"])
        #expect(access.agents(uid: 7, name: "claude") == ["alice"])
        #expect(access.agents(uid: 7, name: "mallory").isEmpty)
    }

    @Test("a user name matches byte for byte, never by Unicode canonical equivalence")
    func namesMatchExactly() throws {
        let access = try AgentAccess.parse(
            Array(#"{"version":1,"users":{"Kate":["alice"]}}"#.utf8), file: "agents.json")
        #expect(access.agents(uid: 7, name: "Kate") == ["alice"])
        // U+212A KELVIN SIGN is canonically equivalent to "K": a different OS account, not Kate.
        #expect(access.agents(uid: 8, name: "\u{212A}ate").isEmpty)
    }

    @Test func approvalsAreInBandUnlessTheOwnerSaysOtherwise() throws {
        func parse(_ text: String) throws(VaultError) -> AgentAccess {
            try AgentAccess.parse(Array(text.utf8), file: "agents.json")
        }
        #expect(try parse(#"{"version":1,"users":{}}"#).ownerApprovalsOnly == false)
        #expect(try parse(#"{"version":1,"users":{},"approvals":"in-band"}"#).ownerApprovalsOnly == false)
        #expect(try parse(#"{"version":1,"users":{},"approvals":"owner"}"#).ownerApprovalsOnly == true)
        do {
            _ = try parse(#"{"version":1,"users":{},"approvals":"agent"}"#)
            Issue.record("an unknown approvals mode was accepted")
        } catch {
            #expect(error.message.hasPrefix("agents.json:1:37"))
        }
    }

    @Test func agentsFileErrorsNameTheLocation() {
        let cases: [(String, String)] = [
            // Locations point at the offending value: `true` is line 3 column 10, `[` of the empty list column 32.
            ("{\"version\":1,\n \"users\":{},\n \"admin\":true}", "agents.json:3:10"),
            ("{\"version\":1,\"users\":{\"claude\":[]}}", "agents.json:1:32"),
            ("{\"version\":1,\"users\":{\"claude\":[\"a b\"]}}", "agents.json:1:33"),
            ("{\"version\":2,\"users\":{}}", "agents.json:1:12"),
            ("{\"version\":1,\"users\":{\"root;x\":[\"a\"]}}", "agents.json:1:32"),
            ("{\"version\":1,", "agents.json:1:"),
            // A uid key is matched as "uid:\(uid)": a sign or a leading zero could never match anyone.
            ("{\"version\":1,\"users\":{\"uid:+1000\":[\"a\"]}}", "agents.json:1:35"),
            ("{\"version\":1,\"users\":{\"uid:01000\":[\"a\"]}}", "agents.json:1:35"),
        ]
        for (text, location) in cases {
            do {
                _ = try AgentAccess.parse(Array(text.utf8), file: "agents.json")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.code == .home)
                #expect(error.message.hasPrefix(location), "\(error.message) for \(text)")
            }
        }
    }
}
