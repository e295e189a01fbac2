public import FoundationEssentials
import JSONCore
public import Ledger

/// Where Purser finds its configuration and state, resolved the same way by every command.
///
/// Each setting comes from the first of: its flag (`--tools`, `--policies`, `--home`, `--agent`), its
/// environment variable (`PURSER_TOOLS`, `PURSER_POLICIES`, `PURSER_HOME`, `PURSER_AGENT`), the
/// `config.json` that `purser init` writes into the home, and finally the current directory (`./tools`,
/// `./policies`, `./.purser`). Where each one came from is kept, so an error can name the path it tried
/// and the flag or variable that changes it.
public struct RuntimeConfiguration: Sendable {
    /// One configurable location.
    public enum Setting: String, Sendable, Hashable, CaseIterable {
        /// The tool manifests folder.
        case tools
        /// The Cedar policies and `limits.json` folder.
        case policies
        /// The state home (ledger, wallet).
        case home

        /// The flag that sets it, e.g. `--tools`.
        public var flag: String { "--\(rawValue)" }
        /// The environment variable that sets it, e.g. `PURSER_TOOLS`.
        public var variable: String { "PURSER_\(rawValue.uppercased())" }
        /// What it is, for messages.
        var noun: String {
            switch self {
            case .tools: return "tools folder"
            case .policies: return "policies folder"
            case .home: return "state home"
            }
        }
    }

    /// Where one setting's value came from.
    public enum Source: Sendable, Hashable, CustomStringConvertible {
        /// A command-line flag.
        case flag(String)
        /// An environment variable.
        case environment(String)
        /// The home's `config.json` (its path).
        case homeConfig(String)
        /// The default relative to the current directory.
        case currentDirectory
        /// Set by the embedding program (the demo, tests).
        case explicit

        public var description: String {
            switch self {
            case .flag(let flag): return "from \(flag)"
            case .environment(let name): return "from $\(name)"
            case .homeConfig(let path): return "from \(path)"
            case .currentDirectory: return "the default in the current directory"
            case .explicit: return "set by the program"
            }
        }
    }

    /// The name of the file `purser init` writes into the home: `{"tools": "/abs", "policies": "/abs"}`.
    public static let configFileName = "config.json"

    /// The agent identity this process serves (`--agent`, `$PURSER_AGENT`, else `default`).
    public var agent: String
    /// The tool manifests folder.
    public var toolsDirectory: String
    /// The policies folder (`*.cedar`, `entities.json`, `limits.json`).
    public var policiesDirectory: String
    /// The state home.
    public var homeDirectory: String
    /// Where each of the three locations came from.
    public var sources: [Setting: Source]
    /// The ledger: a file path or a `postgres://` URL (never with a password). From `--ledger`,
    /// `$PURSER_LEDGER`, the home's `config.json` (`"ledger"`), else `<home>/ledger.sqlite`.
    public var ledger: String
    /// Where `ledger` came from.
    public var ledgerSource: Source

    /// The ledger's location, read.
    /// - Throws: `LedgerError` for a URL with a password (checked when resolving too).
    public func ledgerLocation() throws(LedgerError) -> LedgerLocation { try LedgerLocation(ledger) }

    /// Explicit locations (the demo and tests); unset ones fall back as `resolve` does, without a config file.
    public init(agent: String?, tools: String?, policies: String?, home: String?) {
        let environment = ProcessInfo.processInfo.environment
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.agent = agent ?? variable("PURSER_AGENT") ?? "default"
        self.toolsDirectory = tools ?? "tools"
        self.policiesDirectory = policies ?? "policies"
        self.homeDirectory = home ?? variable("PURSER_HOME") ?? ".purser"
        self.ledger = variable("PURSER_LEDGER") ?? Ledger.path(inHome: self.homeDirectory)
        self.ledgerSource = variable("PURSER_LEDGER") == nil ? .currentDirectory : .environment("PURSER_LEDGER")
        self.sources = [
            .tools: tools == nil ? .currentDirectory : .explicit,
            .policies: policies == nil ? .currentDirectory : .explicit,
            .home: home == nil
                ? (variable("PURSER_HOME") == nil ? .currentDirectory : .environment("PURSER_HOME")) : .explicit,
        ]
    }

    private init(
        agent: String, tools: String, policies: String, home: String, sources: [Setting: Source], ledger: String,
        ledgerSource: Source
    ) {
        self.agent = agent
        self.toolsDirectory = tools
        self.policiesDirectory = policies
        self.homeDirectory = home
        self.sources = sources
        self.ledger = ledger
        self.ledgerSource = ledgerSource
    }

    /// Resolves every setting: flag, then environment, then the home's `config.json`, then the current
    /// directory.
    ///
    /// - Throws: `ConfigurationError` when the home's `config.json` exists but cannot be read or has an
    ///   unknown key or a value that is not a non-empty string (fail closed: a half-read configuration
    ///   could point `serve` at the wrong policies).
    ///
    /// The ledger (`ledger`): `--ledger`, then `$PURSER_LEDGER`, then the home's `config.json`, then
    /// `<home>/ledger.sqlite`. A PostgreSQL URL with a password is refused wherever it came from.
    public static func resolve(
        agent: String?, tools: String?, policies: String?, home: String?, ledger: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> RuntimeConfiguration {
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var sources: [Setting: Source] = [:]
        func pick(_ setting: Setting, flag: String?, file: String?, filePath: String, fallback: String) -> String {
            if let flag {
                sources[setting] = .flag(setting.flag)
                return flag
            }
            if let value = variable(setting.variable) {
                sources[setting] = .environment(setting.variable)
                return value
            }
            if let file {
                sources[setting] = .homeConfig(filePath)
                return file
            }
            sources[setting] = .currentDirectory
            return fallback
        }
        let homePath = pick(.home, flag: home, file: nil, filePath: "", fallback: ".purser")
        let configPath = PathText.join(homePath, configFileName)
        let file = try HomeConfigFile.read(path: configPath)
        let toolsPath = pick(.tools, flag: tools, file: file?.tools, filePath: configPath, fallback: "tools")
        let policiesPath = pick(
            .policies, flag: policies, file: file?.policies, filePath: configPath, fallback: "policies")
        let ledgerChoice: (String, Source) =
            if let ledger {
                (ledger, .flag("--ledger"))
            } else if let value = variable("PURSER_LEDGER") {
                (value, .environment("PURSER_LEDGER"))
            } else if let value = file?.ledger {
                (value, .homeConfig(configPath))
            } else {
                (Ledger.path(inHome: homePath), .currentDirectory)
            }
        do {
            _ = try LedgerLocation(ledgerChoice.0)
        } catch {
            throw ConfigurationError(code: "ledger", message: "the ledger \(ledgerChoice.1): \(error.message)")
        }
        return RuntimeConfiguration(
            agent: agent ?? variable("PURSER_AGENT") ?? "default", tools: toolsPath, policies: policiesPath,
            home: homePath, sources: sources, ledger: ledgerChoice.0, ledgerSource: ledgerChoice.1)
    }

    /// The path of a setting.
    public func path(of setting: Setting) -> String {
        switch setting {
        case .tools: return toolsDirectory
        case .policies: return policiesDirectory
        case .home: return homeDirectory
        }
    }

    /// How a user changes a setting, for the end of an error message, e.g. `The policies folder is ./policies,
    /// the default in the current directory; pass --policies DIR or set PURSER_POLICIES, …`.
    public func hint(for setting: Setting) -> String {
        let path = path(of: setting)
        let shown = path.hasPrefix("/") || path.hasPrefix("./") ? path : "./" + path
        let source = sources[setting] ?? .currentDirectory
        var text = "The \(setting.noun) is \(shown), \(source); pass \(setting.flag) DIR or set \(setting.variable)"
        if setting == .home {
            text += " (`purser init` prints it)"
        } else if source == .currentDirectory {
            text +=
                ", set PURSER_HOME to a home made by `purser init` (its \(Self.configFileName) names the folder), or run `purser init --agent NAME` here"
        }
        return text
    }

    /// "cannot read /abs/path: WHY. HINT." for a path inside (or of) a setting's folder.
    public func cannotRead(_ path: String, in setting: Setting, why: String = "no such file") -> String {
        "cannot read \(Self.absolute(path)): \(why). \(hint(for: setting))."
    }

    /// `path` made absolute against the current directory, for messages.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return PathText.standardized(PathText.join(FileManager.default.currentDirectoryPath, path))
    }

    /// The limits file: `<policies>/limits.json`.
    public var limitsPath: String { PathText.join(policiesDirectory, "limits.json") }
}

/// A configuration that cannot be used (exit status 1 in the CLI).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// A stable code, e.g. `config_file`.
    public let code: String
    /// What is wrong and how to fix it.
    public let message: String

    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The home's `config.json`: where `purser init` put the tools and policies.
struct HomeConfigFile: Sendable {
    var tools: String?
    var policies: String?
    var ledger: String?

    static func read(path: String) throws(ConfigurationError) -> HomeConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                code: "config_file", message: "\(path):1:1: cannot read the file (check its permissions)")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(data))
        } catch {
            throw ConfigurationError(code: "config_file", message: "\(path): not valid JSON: \(error)")
        }
        guard let object = value.objectValue else {
            throw ConfigurationError(
                code: "config_file",
                message:
                    "\(path):1:1: must be an object like {\"tools\": \"/abs/tools\", \"policies\": \"/abs/policies\"}")
        }
        var file = HomeConfigFile()
        for (key, member) in object.members {
            guard let text = member.stringValue, !text.isEmpty else {
                throw ConfigurationError(code: "config_file", message: "\(path): \"\(key)\" must be a non-empty string")
            }
            switch key {
            case "tools": file.tools = text
            case "policies": file.policies = text
            case "ledger": file.ledger = text
            default:
                throw ConfigurationError(
                    code: "config_file",
                    message: "\(path): unknown key \"\(key)\" (allowed: ledger, policies, tools)")
            }
        }
        return file
    }
}
