import FoundationEssentials
import JSONCore
import Ledger
import MCP
import Purser

/// `purser serve`: the MCP server on stdio.
struct ServeCommand: Subcommand {
    static let name = "serve"
    static let summary = "run the MCP server on stdin/stdout"
    static let usage =
        "purser serve [--agent ID] [--tools DIR] [--policies DIR] [--home DIR] [--ledger PATH|postgres://…] [--page-size N] | purser serve --vault SOCKET [--agent ID] [--page-size N]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        if let socket = try arguments.option("vault") {
            return try await serveFront(&arguments, socket: socket)
        }
        let configuration = try RuntimeConfiguration.resolve(
            agent: try arguments.option("agent"), tools: try arguments.option("tools"),
            policies: try arguments.option("policies"), home: try arguments.option("home"),
            ledger: try arguments.option("ledger"))
        var pageSize = 100
        if let text = try arguments.option("page-size") {
            guard let value = Int(text), value > 0 else {
                throw UsageError(description: "--page-size must be a positive integer")
            }
            pageSize = value
        }
        try arguments.finish()
        printError(SingleUserMode.warning(home: configuration.homeDirectory))
        let runtime = await Runtime.load(configuration)
        for line in StartupCheck.missingFolders(configuration) { printError("purser: \(line)") }
        for diagnostic in runtime.diagnostics { printError(diagnostic.description) }
        for problem in runtime.payments?.problems ?? [] { printError("purser: payments: \(problem)") }
        let policy = await runtime.policies.status()
        if let problem = policy.problem { printError(problem.description) }
        printError("purser: \(policy.policies) polic(ies) in force from \(configuration.policiesDirectory)")
        let capabilities = await StartupCheck.capabilities(runtime)
        printError(
            "purser: serving tools from \(configuration.toolsDirectory): \(capabilities.summary)"
        )
        for tool in capabilities.tools where tool.callable {
            for reason in tool.unpayable { printError("purser: warning: \(tool.name) can never be paid: \(reason)") }
        }
        let server = MCPServer(
            configuration: serverConfiguration(pageSize: pageSize),
            provider: PurserToolProvider(pipeline: runtime.pipeline, agent: configuration.agent))
        // Settlement evidence for held payments: at start and periodically, off the call path.
        let reconciler = (runtime.payments?.ledger as? Ledger).map { ledger in
            Task.detached(priority: .utility) {
                await SettlementReconciler.runPeriodically(
                    ledger: ledger, home: configuration.homeDirectory, log: { printError($0) })
            }
        }
        await server.run()
        reconciler?.cancel()
        return 0
    }

    static func serverConfiguration(pageSize: Int) -> MCPServer.Configuration {
        MCPServer.Configuration(
            name: "purser", version: PurserVersion.current,
            instructions:
                "Purser runs paid API tools under the user's spending rules. Refusals explain which rule applied; do not retry a refused payment with a new idempotency key.",
            pageSize: pageSize)
    }
}

/// `purser check`: validates tools/, policies/ and limits.json, one line per problem; with `--agent`, also
/// lists what that agent can see, call and pay.
struct CheckCommand: Subcommand {
    static let name = "check"
    static let summary = "validate tools, policies and limits; with --agent, what that agent can call and pay"
    static let usage = "purser check [--agent ID] [--tools DIR] [--policies DIR] [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let agent = try arguments.option("agent")
        let configuration = try RuntimeConfiguration.resolve(
            agent: agent, tools: try arguments.option("tools"), policies: try arguments.option("policies"),
            home: try arguments.option("home"))
        try arguments.finish()
        printError(SingleUserMode.warning(home: configuration.homeDirectory))
        let runtime = await Runtime.load(configuration, enablePayments: false)
        var diagnostics = runtime.checkAll()
        diagnostics.sort {
            ($0.file, $0.location.line, $0.location.column) < ($1.file, $1.location.line, $1.location.column)
        }
        for line in StartupCheck.missingFolders(configuration) { printOut("error: \(line)") }
        for diagnostic in diagnostics { printOut(diagnostic.description) }
        var errors = diagnostics.filter { $0.severity == .error }.count
        errors += StartupCheck.missingFolders(configuration).count
        var warnings = diagnostics.count - diagnostics.filter { $0.severity == .error }.count
        if agent != nil {
            let capabilities = await StartupCheck.capabilities(runtime)
            printOut(capabilities.summary)
            let width = capabilities.tools.map(\.name.count).max() ?? 0
            for tool in capabilities.tools {
                let state = tool.callable ? "may call" : "hidden  "
                let name = TextFormat.padded(tool.name, to: width)
                printOut("  \(state)  \(name)  \(tool.price.map { "up to \($0) per call" } ?? "free")")
            }
            for warning in capabilities.warnings { printOut("warning: \(warning)") }
            warnings += capabilities.warnings.count
        }
        printError(
            "purser check: \(runtime.catalog.manifests.count) tool(s) valid, \(errors) error(s), \(warnings) warning(s)"
        )
        return errors == 0 ? 0 : 1
    }
}

/// What `serve` and `check` say at start about the configuration they found.
enum StartupCheck {
    /// One line per folder that does not exist, naming the path tried and how to change it.
    static func missingFolders(_ configuration: RuntimeConfiguration) -> [String] {
        var lines: [String] = []
        for setting in [RuntimeConfiguration.Setting.tools, .policies] {
            let path = configuration.path(of: setting)
            var isDirectory = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || !isDirectory {
                lines.append(configuration.cannotRead(path, in: setting, why: "no such folder"))
            }
        }
        return lines
    }

    /// The agent's capabilities under the loaded runtime.
    static func capabilities(_ runtime: Runtime) async -> AgentCapabilities {
        let configuration = runtime.configuration
        var limits: LimitsConfiguration?
        var limitsProblem: String?
        if FileManager.default.fileExists(atPath: configuration.limitsPath) {
            do {
                limits = try LimitsConfiguration.load(path: configuration.limitsPath)
            } catch {
                limitsProblem = "\(configuration.limitsPath) is invalid (run `purser check`)"
            }
        } else {
            limitsProblem = configuration.cannotRead(configuration.limitsPath, in: .policies)
        }
        return await AgentCapabilities.assess(
            agent: configuration.agent, manifests: runtime.catalog.manifests, policies: runtime.policies,
            policiesDirectory: configuration.policiesDirectory, limits: limits, limitsProblem: limitsProblem)
    }
}

/// `purser call`: one call through the same pipeline, without an MCP client.
struct CallCommand: Subcommand {
    static let name = "call"
    static let summary = "run one tool call through the governed pipeline and print the result"
    static let usage =
        "purser call TOOL --args JSON [--agent ID] [--idempotency-key KEY] [--approval ID] [--tools DIR] [--policies DIR] [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let configuration = try RuntimeConfiguration.resolve(
            agent: try arguments.option("agent"), tools: try arguments.option("tools"),
            policies: try arguments.option("policies"), home: try arguments.option("home"))
        let argumentsText = try arguments.option("args") ?? "{}"
        let idempotencyKey = try arguments.option("idempotency-key")
        let approval = try arguments.option("approval")
        let tool = try arguments.positional("the tool name")
        try arguments.finish()
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(argumentsText)
        } catch {
            throw UsageError(description: "--args is not valid JSON: \(error)")
        }
        guard let object = parsed.objectValue else { throw UsageError(description: "--args must be a JSON object") }
        let runtime = await Runtime.load(configuration)
        for diagnostic in runtime.diagnostics { printError(diagnostic.description) }
        var meta = JSONObject()
        if let key = idempotencyKey { meta["com.purser/idempotency-key"] = .string(key) }
        if let approval { meta["com.purser/approval"] = .string(approval) }
        do {
            let outcome = try await runtime.pipeline.call(
                name: tool, arguments: object, caller: CallerContext(agent: configuration.agent, meta: meta))
            guard case .complete(let result) = outcome else {
                printError("purser call: the call asked for interactive input, which the command line cannot give")
                return 2
            }
            printOut(JSONValue.object(result.json).serialized())
            return result.isError ? 1 : 0
        } catch {
            printError("purser call: \(error.message)")
            return 2
        }
    }
}
