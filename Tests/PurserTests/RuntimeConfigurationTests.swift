import Foundation
import Ledger
import Testing

@testable import Purser

/// One way to find configuration: flag, then PURSER_*, then the home's config.json, then the current directory.
@Suite("RuntimeConfiguration")
struct RuntimeConfigurationTests {
    private func temporaryHome(config: String?) throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("purser-config-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        if let config {
            try config.write(
                toFile: (home as NSString).appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        }
        return home
    }

    @Test("with nothing set, everything is relative to the current directory")
    func defaults() throws {
        let resolved = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: nil, environment: [:])
        #expect(resolved.toolsDirectory == "tools")
        #expect(resolved.policiesDirectory == "policies")
        #expect(resolved.homeDirectory == ".purser")
        #expect(resolved.agent == "default")
        #expect(resolved.sources[.tools] == .currentDirectory)
    }

    @Test("the home's config.json is used below the environment and above the current directory")
    func homeConfig() throws {
        let home = try temporaryHome(config: #"{"tools": "/srv/t", "policies": "/srv/p"}"#)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let fromFile = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: nil, environment: ["PURSER_HOME": home])
        #expect(fromFile.homeDirectory == home)
        #expect(fromFile.sources[.home] == .environment("PURSER_HOME"))
        #expect(fromFile.toolsDirectory == "/srv/t" && fromFile.policiesDirectory == "/srv/p")
        #expect(fromFile.sources[.tools] == .homeConfig(home + "/config.json"))

        let environment = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: home,
            environment: ["PURSER_TOOLS": "/env/t", "PURSER_AGENT": "claude"])
        #expect(environment.toolsDirectory == "/env/t" && environment.sources[.tools] == .environment("PURSER_TOOLS"))
        #expect(environment.policiesDirectory == "/srv/p")
        #expect(environment.agent == "claude")
        #expect(environment.sources[.home] == .flag("--home"))

        let flags = try RuntimeConfiguration.resolve(
            agent: "bob", tools: "/flag/t", policies: "/flag/p", home: home,
            environment: ["PURSER_TOOLS": "/env/t", "PURSER_POLICIES": "/env/p", "PURSER_AGENT": "claude"])
        #expect(flags.toolsDirectory == "/flag/t" && flags.policiesDirectory == "/flag/p" && flags.agent == "bob")
        #expect(flags.sources[.policies] == .flag("--policies"))
    }

    @Test("the ledger: --ledger, then PURSER_LEDGER, then the home's config.json, then <home>/ledger.sqlite")
    func ledgerLocation() throws {
        let home = try temporaryHome(config: #"{"ledger": "postgres://db.internal/purser"}"#)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let bare = try temporaryHome(config: nil)
        defer { try? FileManager.default.removeItem(atPath: bare) }
        let fallback = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: bare, environment: [:])
        #expect(fallback.ledger == bare + "/ledger.sqlite")
        #expect(try fallback.ledgerLocation() == .sqlite(path: bare + "/ledger.sqlite"))
        let file = try RuntimeConfiguration.resolve(agent: nil, tools: nil, policies: nil, home: home, environment: [:])
        #expect(try file.ledgerLocation() == .postgres(url: "postgres://db.internal/purser"))
        #expect(file.ledgerSource == .homeConfig(home + "/config.json"))
        let environment = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: home, environment: ["PURSER_LEDGER": "postgresql://a@h/l"])
        #expect(environment.ledger == "postgresql://a@h/l" && environment.ledgerSource == .environment("PURSER_LEDGER"))
        let flag = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: home, ledger: "/var/lib/purser/ledger.sqlite",
            environment: ["PURSER_LEDGER": "postgresql://a@h/l"])
        #expect(flag.ledger == "/var/lib/purser/ledger.sqlite" && flag.ledgerSource == .flag("--ledger"))
    }

    @Test(
        "a ledger URL with a password is refused from every source, without repeating the password",
        arguments: [
            "postgres://purser:s3cret-pw@db/purser", "postgresql://u:s3cret-pw@h:5432/l?sslmode=require",
            "postgres://h/l?sslmode=require&password=s3cret-pw", "postgres://h/l?pass%77ord=s3cret-pw",
        ])
    func ledgerPasswordRefused(url: String) throws {
        let home = try temporaryHome(config: nil)
        defer { try? FileManager.default.removeItem(atPath: home) }
        for (flag, environment) in [(url, [String: String]()), (nil, ["PURSER_LEDGER": url])] {
            #expect {
                _ = try RuntimeConfiguration.resolve(
                    agent: nil, tools: nil, policies: nil, home: home, ledger: flag, environment: environment)
            } throws: { error in
                let message = (error as? ConfigurationError)?.message ?? ""
                return message.contains("PGPASSWORD") && !message.contains("s3cret")
            }
        }
    }

    @Test(
        "a config.json that is not exactly {tools, policies} as non-empty strings is refused",
        arguments: [
            #"{"tools": "/t", "polices": "/p"}"#, #"{"tools": 3}"#, #"{"tools": ""}"#, #"["tools"]"#, "{", "",
        ])
    func badConfigFile(text: String) throws {
        let home = try temporaryHome(config: text)
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(throws: ConfigurationError.self) {
            try RuntimeConfiguration.resolve(agent: nil, tools: nil, policies: nil, home: home, environment: [:])
        }
        do {
            _ = try RuntimeConfiguration.resolve(agent: nil, tools: nil, policies: nil, home: home, environment: [:])
        } catch {
            #expect(error.message.contains(home + "/config.json"))
        }
    }

    @Test("a cannot-read message names the absolute path tried, where the folder came from, and the fix")
    func cannotRead() throws {
        let defaults = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: nil, environment: [:])
        let message = defaults.cannotRead(defaults.limitsPath, in: .policies)
        let cwd = FileManager.default.currentDirectoryPath
        #expect(message.hasPrefix("cannot read \(cwd)/policies/limits.json: no such file."))
        #expect(message.contains("the default in the current directory"))
        #expect(message.contains("--policies DIR") && message.contains("PURSER_POLICIES"))
        #expect(message.contains("purser init"))

        let flagged = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: "/nowhere/home", environment: [:])
        let home = flagged.cannotRead("/nowhere/home/ledger.sqlite", in: .home)
        #expect(home.contains("/nowhere/home, from --home") && home.contains("PURSER_HOME"))
    }
}
