import FoundationEssentials
import MCP
import PurserVault

/// The plain statement single-user mode owes its user.
enum SingleUserMode {
    static func warning(home: String) -> String {
        "purser: WARNING: single-user mode. The wallet key, the ledger and the owner's commands (session grant, approve) live in \(home), readable and writable by this OS user: an AI agent with a shell running as this user can pay anyone, raise its own budget and approve its own payments. For clients that give the model a shell, run the vault under its own user and use 'purser serve --vault SOCKET' (docs/vault.md)."
    }
}

extension ServeCommand {
    /// `purser serve --vault SOCKET`: a thin MCP front that holds no key, secret or ledger and forwards
    /// every `tools/list` and `tools/call` to the vault.
    static func serveFront(_ arguments: inout Arguments, socket: String) async throws -> Int32 {
        let agent = try arguments.option("agent")
        var pageSize = 100
        if let text = try arguments.option("page-size") {
            guard let value = Int(text), value > 0 else {
                throw UsageError(description: "--page-size must be a positive integer")
            }
            pageSize = value
        }
        try arguments.finish()
        let provider = try await VaultToolProvider.connect(socketPath: socket, agent: agent)
        printError("purser: serving through the vault at \(socket) as agent \"\(provider.agent)\"")
        let server = MCPServer(configuration: serverConfiguration(pageSize: pageSize), provider: provider)
        await server.run()
        provider.close()
        return 0
    }
}
