import FoundationEssentials
import Glibc
import Purser

/// One `purser` subcommand.
protocol Subcommand: Sendable {
    /// The word that selects it, e.g. `serve`.
    static var name: String { get }
    /// One line for `purser help`.
    static var summary: String { get }
    /// The usage text shown with a usage error.
    static var usage: String { get }
    /// Runs it and returns the exit status.
    static func run(_ arguments: inout Arguments) async throws -> Int32
}

@main
struct PurserCommand {
    /// Every subcommand, in the order `purser help` lists them.
    static let subcommands: [any Subcommand.Type] = [
        HelpCommand.self,
        InitCommand.self,
        ServeCommand.self,
        CheckCommand.self,
        CallCommand.self,
        WalletCommand.self,
        SessionCommand.self,
        LedgerCommand.self,
        ReportCommand.self,
        PolicyCommand.self,
        ApproveCommand.self,
        VaultCommand.self,
        OwnerCommand.self,
        DemoCommand.self,
        SellerCommand.self,
        ToolCommand.self,
    ]

    /// The words that ask for help instead of running anything.
    static let helpWords: Set<String> = ["--help", "-h"]

    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        var raw = Array(CommandLine.arguments.dropFirst())
        var word = raw.isEmpty ? "help" : raw.removeFirst()
        if helpWords.contains(word) { word = "help" }
        guard let command = subcommands.first(where: { $0.name == word }) else {
            printError("purser: unknown command '\(word)'. Run 'purser help' for the list.")
            exit(64)
        }
        // `purser CMD --help`: the usage on stdout, nothing run. Only before a `--`: after it, words are positionals.
        if raw.prefix(while: { $0 != "--" }).contains(where: helpWords.contains) {
            printOut("usage: \(command.usage)")
            exit(0)
        }
        var arguments = Arguments(raw)
        do {
            let status = try await command.run(&arguments)
            exit(status)
        } catch let error as UsageError {
            printError("purser \(command.name): \(error.description)")
            // The usage text is ours (and may span lines); only the error is escaped.
            StandardStream.error.write("usage: \(command.usage)\n")
            exit(64)
        } catch {
            printError("purser \(command.name): \(error)")
            exit(1)
        }
    }
}

struct HelpCommand: Subcommand {
    static let name = "help"
    static let summary = "list the commands"
    static let usage = "purser help"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        try arguments.finish()
        var lines = ["purser: governed paid tool calls for AI agents (MCP server, Cedar policy, x402, ledger)", ""]
        for command in PurserCommand.subcommands {
            lines.append("  " + TextFormat.padded(command.name, to: 10) + command.summary)
        }
        lines += ["", "Run 'purser COMMAND --help' for a command's options."]
        printOut(lines.joined(separator: "\n"))
        return 0
    }
}
