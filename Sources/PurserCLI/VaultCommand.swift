import EVMSigning
import FoundationEssentials
import JSONCore
import Ledger
import MCP
import OwnerSigning
import Purser
import PurserVault

/// Where the vault listens unless told otherwise (the socket directory `scripts/vault-setup` creates).
let defaultVaultSocket = "/run/purser/vault.sock"

/// The owner passphrase: from the terminal, or — only with the explicit test-only flag — from stdin.
enum OwnerPassphrase {
    /// The flag that makes owner commands read the passphrase from stdin. For automated tests only: stdin is
    /// where an agent's shell can type, so production use must keep the terminal prompt.
    static let testOnlyFlag = "insecure-passphrase-stdin"

    static func read(prompt: String, fromStdin: Bool) throws -> String {
        fromStdin ? try TerminalPassphrase.readLine(0) : try TerminalPassphrase.read(prompt: prompt)
    }
}

/// `purser vault init|run`: the vault process that owns the wallet, the ledger, the approval key and the
/// upstream secrets, under its own OS user (see docs/vault.md).
struct VaultCommand: Subcommand {
    static let name = "vault"
    static let summary = "run the vault (wallet, ledger, secrets under their own OS user) or set its owner key"
    static let usage = """
        purser vault init --home DIR [--ledger PATH|postgres://…] [--iterations N] [--\(OwnerPassphrase.testOnlyFlag)]
               purser vault run --home DIR [--ledger PATH|postgres://…] [--socket PATH] [--tools DIR] [--policies DIR]
               (ledger: --ledger, else $PURSER_LEDGER, else DIR/ledger.sqlite; a PostgreSQL password comes from the \
        vault user's PGPASSWORD or ~/.pgpass, never the URL)
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("action (init or run)")
        switch action {
        case "init": return try initialize(&arguments)
        case "run": return try await serve(&arguments)
        default: throw UsageError(description: "unknown action '\(action)'")
        }
    }

    /// Sets the owner key: reads a new passphrase twice, derives the key, stores only the public record.
    private static func initialize(_ arguments: inout Arguments) throws -> Int32 {
        guard let home = try arguments.option("home") else { throw UsageError(description: "--home is required") }
        var iterations = OwnerKeyRecord.defaultIterations
        if let text = try arguments.option("iterations") {
            guard let value = Int(text), value >= OwnerKeyRecord.minimumIterations else {
                throw UsageError(description: "--iterations must be at least \(OwnerKeyRecord.minimumIterations)")
            }
            iterations = value
        }
        let fromStdin = try arguments.flag(OwnerPassphrase.testOnlyFlag)
        let configuration = try vaultConfiguration(
            home: home, tools: nil, policies: nil, ledger: try arguments.option("ledger"))
        try arguments.finish()
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let recordPath = PathText.join(home, "owner.json")
        guard !FileManager.default.fileExists(atPath: recordPath) else {
            printError("purser vault init: \(recordPath) exists; remove it first to set a new owner passphrase")
            return 1
        }
        let passphrase = try OwnerPassphrase.read(prompt: "New owner passphrase: ", fromStdin: fromStdin)
        if !fromStdin {
            let again = try OwnerPassphrase.read(prompt: "Repeat the owner passphrase: ", fromStdin: false)
            guard again == passphrase else {
                printError("purser vault init: the passphrases differ; nothing was written")
                return 1
            }
        }
        let (record, _) = try OwnerKeyRecord.create(passphrase: passphrase, iterations: iterations)
        let bytes = Data((record.json.serialized() + "\n").utf8)
        guard
            FileManager.default.createFile(atPath: recordPath, contents: bytes, attributes: [.posixPermissions: 0o600])
        else {
            printError("purser vault init: cannot write \(recordPath)")
            return 1
        }
        // The ledger exists from the start, so a running vault sees the sessions the owner grants later (on
        // PostgreSQL: its schema is created, or an existing one checked).
        _ = try Ledger.open(location: try configuration.ledgerLocation())
        printOut(
            "owner key \(record.address.checksummed) (PBKDF2-HMAC-SHA256, \(iterations) iterations) in \(recordPath)")
        return 0
    }

    /// The vault's locations: explicit tools, policies and home (a vault reads no `config.json` an agent might
    /// have written elsewhere); the ledger from `--ledger`, else `$PURSER_LEDGER`, else `<home>/ledger.sqlite`.
    /// A PostgreSQL URL with a password is refused: the vault user's `PGPASSWORD` or `~/.pgpass` carries it.
    private static func vaultConfiguration(home: String, tools: String?, policies: String?, ledger: String?) throws
        -> RuntimeConfiguration
    {
        var configuration = RuntimeConfiguration(agent: nil, tools: tools, policies: policies, home: home)
        if let ledger {
            configuration.ledger = ledger
            configuration.ledgerSource = .flag("--ledger")
        }
        _ = try configuration.ledgerLocation()
        return configuration
    }

    private static func serve(_ arguments: inout Arguments) async throws -> Int32 {
        guard let home = try arguments.option("home") else { throw UsageError(description: "--home is required") }
        let socket = try arguments.option("socket") ?? defaultVaultSocket
        let configuration = try vaultConfiguration(
            home: home, tools: try arguments.option("tools"), policies: try arguments.option("policies"),
            ledger: try arguments.option("ledger"))
        try arguments.finish()
        // Fail closed: a home others can read, or policies an agent can edit, protect nothing.
        try VaultHome.checkHome(home)
        try VaultHome.checkTrusted(configuration.toolsDirectory, what: "tools")
        try VaultHome.checkTrusted(configuration.policiesDirectory, what: "policies")
        _ = try AgentAccess.load(home: home)
        switch try configuration.ledgerLocation() {
        case .sqlite(let path):
            if !FileManager.default.fileExists(atPath: path) { _ = try Ledger.open(path: path) }
        case .postgres(let url):
            // Checked now, so a vault pointed at a database without a ledger says so instead of serving calls it
            // cannot pay; `purser vault init --ledger URL` (or any grant) creates the schema.
            guard try LedgerHome.existing(LedgerLocation.postgres(url: url)) != nil else {
                throw LedgerHomeError(
                    description:
                        "purser vault: no ledger in the PostgreSQL database \(url) \(configuration.ledgerSource) yet; "
                        + "create it with `purser vault init --home DIR --ledger URL`")
            }
        }

        // Refusals behind the vault name the owner's signed commands (`purser owner approve`), not the
        // single-user ones, which cannot reach the vault's home.
        let runtime = await Runtime.load(configuration, ownerCommands: .vault)
        for diagnostic in runtime.diagnostics { printError(diagnostic.description) }
        for problem in runtime.payments?.problems ?? [] { printError("purser vault: payments: \(problem)") }
        let policy = await runtime.policies.status()
        if let problem = policy.problem { printError(problem.description) }

        var desk: OwnerDesk?
        let recordPath = PathText.join(home, "owner.json")
        if let data = FileManager.default.contents(atPath: recordPath) {
            let record = try OwnerKeyRecord.parse(try JSONParser.parse(Array(data)))
            let owner = OwnerDesk(
                record: record, nonces: try NonceStore(path: PathText.join(home, "owner-nonces")))
            // The pipeline's own ledger connection: one SQLite connection per process for this file (a second
            // one in the same process lost the WAL to a concurrent `purser session list` in testing).
            if let ledger = runtime.payments?.ledger as? Ledger {
                await StandardOwnerActions.register(
                    on: owner, ledger: ledger,
                    limitsPath: PathText.join(configuration.policiesDirectory, "limits.json"))
            } else {
                printError("purser vault: the ledger did not open; owner actions are refused")
            }
            desk = owner
        } else {
            printError("purser vault: no owner key (purser vault init); owner commands are refused")
        }
        let pipeline = runtime.pipeline
        let server = VaultServer(
            socketPath: socket,
            access: { () throws(VaultError) in try AgentAccess.load(home: home) },
            makeProvider: { agent in PurserToolProvider(pipeline: pipeline, agent: agent) }, owner: desk,
            sessionConfiguration: { ServeCommand.serverConfiguration(pageSize: $0) }, diagnostics: { printError($0) })
        try server.bind()
        let signals = ShutdownSignals(process: "purser vault") { server.stop() }
        defer { signals.cancel() }
        // Settlement evidence for held payments, as `purser serve` does in single-user mode: the vault owns
        // the ledger (and nodes.json in its home), so it is the process that can decide them. At start and
        // every five minutes, off the call path, on the pipeline's own ledger connection.
        let reconciler = (runtime.payments?.ledger as? Ledger).map { ledger in
            Task.detached(priority: .utility) {
                await SettlementReconciler.runPeriodically(
                    ledger: ledger, home: home, process: "purser vault", log: { printError($0) })
            }
        }
        printError(
            "purser vault: \(runtime.catalog.manifests.count) tool(s), \(policy.policies) polic(ies); listening at \(socket)"
        )
        await server.run()
        // Stopped: no call is running any more; end the reconcile between two payments and wait for it.
        reconciler?.cancel()
        await reconciler?.value
        printError("purser vault: stopped")
        return 0
    }
}

/// `purser owner …`: the owner's authority over a vault, each act signed with the passphrase-derived key.
struct OwnerCommand: Subcommand {
    static let name = "owner"
    static let summary = "grant, revoke, approve or resolve through the vault, signed with the owner passphrase"
    static let usage = """
        purser owner grant --agent ID [--budget AMOUNT] [--asset SYM] [--ttl 24h] [--per-call AMOUNT] [--require-plan] \
        [--vault SOCKET]
               purser owner revoke SESSION_ID [--vault SOCKET]
               purser owner approve APPROVAL_ID|PLAN_ID [--vault SOCKET]
               purser owner resolve ID (--settled TX | --void) --note TEXT [--vault SOCKET]
               (socket: --vault, else $PURSER_VAULT, else \(defaultVaultSocket); \
        the passphrase is read from the terminal; --\(OwnerPassphrase.testOnlyFlag), for automated tests only, \
        reads it from stdin)
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("action (grant, revoke, approve or resolve)")
        let socket =
            try arguments.option("vault") ?? ProcessInfo.processInfo.environment["PURSER_VAULT"] ?? defaultVaultSocket
        let fromStdin = try arguments.flag(OwnerPassphrase.testOnlyFlag)
        let request: (action: String, parameters: JSONObject)
        switch action {
        case "grant":
            var parameters = JSONObject()
            guard let agent = try arguments.option("agent") else {
                throw UsageError(description: "--agent is required")
            }
            parameters["agent"] = .string(agent)
            for (option, key) in [("budget", "budget"), ("asset", "asset"), ("ttl", "ttl"), ("per-call", "perCall")] {
                if let value = try arguments.option(option) { parameters[key] = .string(value) }
            }
            if try arguments.flag("require-plan") { parameters["requirePlan"] = true }
            request = ("session.grant", parameters)
        case "revoke":
            request = ("session.revoke", ["id": .string(try arguments.positional("the session id"))])
        case "approve":
            request = ("approve", ["id": .string(try arguments.positional("the approval id"))])
        case "resolve":
            // The same decision as `purser ledger resolve`, signed: the vault audits it with the note.
            var parameters: JSONObject = ["id": .string(try arguments.positional("the id to resolve"))]
            let settled = try arguments.option("settled")
            let void = try arguments.flag("void")
            switch (settled, void) {
            case (let transaction?, false):
                parameters["outcome"] = "settled"
                parameters["transaction"] = .string(transaction)
            case (nil, true): parameters["outcome"] = "void"
            default: throw UsageError(description: "give exactly one of --settled TX and --void")
            }
            guard let note = try arguments.option("note") else { throw UsageError(description: "--note is required") }
            parameters["note"] = .string(note)
            request = ("ledger.resolve", parameters)
        default:
            throw UsageError(description: "unknown action '\(action)'")
        }
        try arguments.finish()
        let client = try await VaultOwnerClient.connect(socketPath: socket)
        defer { client.close() }
        let record = try OwnerKeyRecord.parse(client.record)
        let passphrase = try OwnerPassphrase.read(prompt: "Owner passphrase: ", fromStdin: fromStdin)
        let key = try record.key(passphrase: passphrase)
        guard key.address == record.address else {
            // Checked here only to spare the vault a doomed request; the vault checks the signature itself.
            printError("purser owner: wrong passphrase (the derived key is not the vault's owner key); nothing sent")
            return 1
        }
        let signed = try OwnerRequest.fresh(
            action: request.action, parameters: request.parameters, now: Int64(Date().timeIntervalSince1970 * 1000)
        ).signed(with: key)
        let outcome = await client.send(signed.json)
        if outcome.accepted {
            printOut(outcome.message)
            return 0
        }
        printError("purser owner \(action): refused (\(outcome.code ?? "?")): \(outcome.message)")
        return 1
    }
}
