import FoundationEssentials
import Glibc
import JSONCore
import Ledger
import Purser
import PurserDemo
import X402

/// `purser init [DIR] --agent NAME`: a working setup in one step, and the client configuration for it.
///
/// Writes tools, policies that permit the agent, limits, and a state home with a new wallet, a spending
/// session and the `config.json` every other command reads through `$PURSER_HOME`. It refuses to overwrite
/// anything: every target is checked before the first file is written.
struct InitCommand: Subcommand {
    static let name = "init"
    static let summary = "set up tools, policies, limits, a wallet and a session; print the MCP client config"
    static let usage =
        "purser init [DIR] --agent NAME [--seller URL] [--home DIR] [--ledger postgres://…]   (DIR defaults to .)"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        guard let agent = try arguments.option("agent") else {
            throw UsageError(
                description: "--agent is required: the name your MCP client will act as, e.g. --agent claude")
        }
        let seller = try arguments.option("seller") ?? StarterConfiguration.defaultSellerURL
        let homeOption = try arguments.option("home")
        // A PostgreSQL ledger shared by several machines (docs/ledger.md); checked before anything is written,
        // so a URL with a password changes nothing.
        let ledgerOption = try arguments.option("ledger")
        let ledgerLocation = try ledgerOption.map { (text: String) throws(LedgerError) in try LedgerLocation(text) }
        let directoryText = arguments.positionals.isEmpty ? "." : try arguments.positional("the directory")
        try arguments.finish()
        guard StarterConfiguration.isValidAgentName(agent) else {
            throw UsageError(description: "--agent must be 1-64 letters, digits, '_', '.' or '-'")
        }
        guard let sellerURL = URL(string: seller), let scheme = sellerURL.scheme?.lowercased(),
            scheme == "http" || scheme == "https", sellerURL.host != nil, sellerURL.query == nil
        else { throw UsageError(description: "--seller must be an http(s) URL like http://127.0.0.1:8402") }

        let directory = absolute(directoryText)
        let home = absolute(homeOption ?? PathText.join(directory, ".purser"))
        let tools = PathText.join(directory, "tools")
        let policies = PathText.join(directory, "policies")
        let files = StarterConfiguration.files(agent: agent, sellerURL: seller)

        // Refuse before writing anything.
        let taken = [tools, policies, home].filter { FileManager.default.fileExists(atPath: $0) }
        guard taken.isEmpty else {
            printError(
                "purser init: \(taken.joined(separator: ", ")) already exist\(taken.count == 1 ? "s" : ""); nothing was changed. Run it in an empty directory (purser init NEWDIR --agent \(agent)), or move those away."
            )
            return 1
        }

        // A shared ledger is reached first: a server that cannot be reached leaves no half-made setup behind.
        let sharedLedger = try ledgerLocation.map { (location: LedgerLocation) throws(LedgerError) in
            try Ledger.open(location: location)
        }

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for folder in [tools, policies] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        }
        for file in files {
            try writeNew(PathText.join(directory, file.path), file.content, mode: 0o644)
        }
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let payer = try KeyFile.create(
            at: PathText.join(home, SignerConfiguration.defaultKeyFile))
        var config: JSONObject = ["tools": .string(tools), "policies": .string(policies)]
        if let ledgerOption { config["ledger"] = .string(ledgerOption) }
        try writeNew(
            PathText.join(home, RuntimeConfiguration.configFileName), JSONValue.object(config).serialized() + "\n",
            mode: 0o600)
        let limits = try LimitsConfiguration.load(path: PathText.join(policies, "limits.json"))
        guard let defaults = limits.sessionDefaults, let asset = limits.assets[defaults.asset],
            let budget = defaults.budget
        else { throw LedgerHomeError(description: "the starter limits.json has no session defaults") }
        let ledger = try sharedLedger ?? Ledger.open(path: Ledger.path(inHome: home))
        // One budget across machines: a second machine's init joins the agent's session in the shared ledger
        // instead of granting another cap beside it.
        let joined = try await ledger.activeSession(agent: agent, asset: defaults.asset)
        let session: PaymentSession
        if let joined {
            session = joined
        } else {
            session = try await ledger.grantSession(
                agent: agent, asset: defaults.asset, decimals: asset.decimals, cap: budget,
                ttlMilliseconds: defaults.ttlMilliseconds, perCallCap: defaults.perCall)
        }

        let binary = executablePath()
        let show = { (atomic: Int64) in LedgerHome.display(atomic, decimals: asset.decimals, asset: defaults.asset) }
        var lines = ["Created in \(directory):"]
        let width = files.map(\.path.count).max() ?? 0
        for file in files {
            lines.append("  " + TextFormat.padded(file.path, to: width + 2) + file.summary)
        }
        lines.append(
            "  " + TextFormat.padded("\(relative(home, to: directory))/", to: width + 2)
                + "the state home (0700): wallet.key, \(ledgerLocation == nil ? "ledger.sqlite, " : "")config.json")
        if let ledgerLocation {
            lines.append("  ledger \(ledgerLocation) (PostgreSQL; its password from PGPASSWORD or ~/.pgpass)")
        }
        lines.append("  wallet \(payer.text) (a new key; only its address is ever shown)")
        var sessionLine =
            "  session \(session.id): \(agent) may spend \(show(session.cap)) until \(LedgerHome.time(session.expiresAt))"
        if let perCall = session.perCallCap { sessionLine += ", at most \(show(perCall)) a call" }
        if joined != nil { sessionLine += " (already in the shared ledger; joined, not granted again)" }
        lines.append(sessionLine)
        lines.append("")
        lines.append("Next:")
        lines.append("  1. Start the local seller the sample tools call, in another terminal:")
        lines.append("       \(shellQuote(binary)) seller\(sellerPortFlag(sellerURL))")
        lines.append("  2. Add Purser to your MCP client (below) and restart the client.")
        lines.append("  3. Ask it: \"What is the weather in Lisbon?\" (a 0.01 USDC paid call, with a receipt), then")
        lines.append(
            "     \"Get a premium report on ACME\" (0.50 USDC, above \(StarterConfiguration.approvalThreshold): you approve it)."
        )
        lines.append("  4. Every other command finds this setup through the home:")
        lines.append("       export PURSER_HOME=\(shellQuote(home))")
        lines.append("       \(shellQuote(binary)) check --agent \(agent)")
        lines.append("       \(shellQuote(binary)) report --html report.html")
        lines.append("")
        lines.append(
            contentsOf: ClientSnippets(binary: binary, agent: agent, tools: tools, policies: policies, home: home).text)
        printOut(lines.joined(separator: "\n"))
        return 0
    }

    private static func sellerPortFlag(_ url: URL) -> String {
        guard let port = url.port, port != Int(DemoSeller.defaultPort) else { return "" }
        return " --port \(port)"
    }

    static func absolute(_ path: String) -> String {
        let joined =
            path.hasPrefix("/")
            ? path : PathText.join(FileManager.default.currentDirectoryPath, path)
        return PathText.standardized(joined)
    }

    private static func relative(_ path: String, to base: String) -> String {
        path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
    }

    /// The running binary's absolute path, for the client configuration.
    static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        return absolute(CommandLine.arguments[0])
    }

    /// Creates `path` with `content`, refusing to replace an existing file (O_EXCL).
    private static func writeNew(_ path: String, _ content: String, mode: mode_t) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw LedgerHomeError(description: "\(path): cannot create the file (errno \(errno))")
        }
        defer { close(descriptor) }
        let bytes = Array(content.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw LedgerHomeError(description: "\(path): could not be written completely")
        }
    }
}

/// The client configuration for one `purser serve`, in the formats the common MCP clients read.
struct ClientSnippets {
    var binary: String
    var agent: String
    var tools: String
    var policies: String
    var home: String

    var arguments: [String] { ["serve", "--agent", agent, "--tools", tools, "--policies", policies, "--home", home] }

    var text: [String] {
        let args = "[" + arguments.map { JSONValue.string($0).serialized() }.joined(separator: ", ") + "]"
        let command = JSONValue.string(binary).serialized()
        return [
            "Claude Desktop (claude_desktop_config.json; on Linux ~/.config/Claude/claude_desktop_config.json):",
            "{",
            "  \"mcpServers\": {",
            "    \"purser\": {",
            "      \"command\": \(command),",
            "      \"args\": \(args)",
            "    }",
            "  }",
            "}",
            "",
            "Claude Code:",
            "  claude mcp add purser -- " + ([binary] + arguments).map(shellQuote).joined(separator: " "),
            "",
            "Cursor (~/.cursor/mcp.json, or .cursor/mcp.json in a project):",
            "{",
            "  \"mcpServers\": {",
            "    \"purser\": { \"command\": \(command), \"args\": \(args) }",
            "  }",
            "}",
            "",
            "VS Code (.vscode/mcp.json):",
            "{",
            "  \"servers\": {",
            "    \"purser\": { \"type\": \"stdio\", \"command\": \(command), \"args\": \(args) }",
            "  }",
            "}",
        ]
    }
}

/// Quotes a word for a POSIX shell when it needs it.
func shellQuote(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,".unicodeScalars)
    if !word.isEmpty, word.unicodeScalars.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacing("'", with: "'\\''") + "'"
}
