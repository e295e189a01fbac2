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
    /// `purser serve --vault SOCKET`: a thin front that holds no key, secret or ledger: the vault runs the MCP
    /// session, and this process relays the client's lines to it and its answers back, unparsed.
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
        let relay = try await VaultRelay.connect(socketPath: socket, agent: agent, pageSize: pageSize)
        printError("purser: serving through the vault at \(socket) as agent \"\(relay.agent)\"")
        // The vault runs the MCP session; this process copies the client's lines to it and its answers back.
        let end = await relay.run()
        relay.close()
        switch end {
        case .clientClosed:
            return 0
        case .clientGone:
            printError("purser: the MCP client stopped reading; the vault connection was closed")
            return 1
        case .vaultClosed:
            printError(
                "purser: the vault at \(socket) closed the connection. A call still running got no answer; if it was a paid call its outcome is recorded by the vault. Retry with the same idempotency key to get the recorded result, never with a new key."
            )
            return 1
        }
    }
}
