import Foundation
import JSONCore
import MCP
import Purser

/// `purser serve`: the MCP server on stdio.
struct ServeCommand: Subcommand {
    static let name = "serve"
    static let summary = "run the MCP server on stdin/stdout"
    static let usage =
        "purser serve [--agent ID] [--tools DIR] [--policies DIR] [--home DIR] [--page-size N] | purser serve --vault SOCKET [--agent ID] [--page-size N]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        if let socket = try arguments.option("vault") {
            return try await serveFront(&arguments, socket: socket)
        }
        let configuration = RuntimeConfiguration(
            agent: try arguments.option("agent"), tools: try arguments.option("tools"),
            policies: try arguments.option("policies"), home: try arguments.option("home"))
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
        for diagnostic in runtime.diagnostics { printError(diagnostic.description) }
        for problem in runtime.payments?.problems ?? [] { printError("purser: payments: \(problem)") }
        let policy = await runtime.policies.status()
        if let problem = policy.problem { printError(problem.description) }
        printError("purser: \(policy.policies) polic(ies) in force from \(configuration.policiesDirectory)")
        printError(
            "purser: serving \(runtime.catalog.manifests.count) tool(s) from \(configuration.toolsDirectory) for agent \"\(configuration.agent)\""
        )
        let server = MCPServer(
            configuration: serverConfiguration(pageSize: pageSize),
            provider: PurserToolProvider(pipeline: runtime.pipeline, agent: configuration.agent))
        await server.run()
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

/// `purser check`: validates tools/ (and later policies/), one line per problem.
struct CheckCommand: Subcommand {
    static let name = "check"
    static let summary = "validate tools/ and policies/; print file:line:col for every problem"
    static let usage = "purser check [--tools DIR] [--policies DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let configuration = RuntimeConfiguration(
            agent: nil, tools: try arguments.option("tools"), policies: try arguments.option("policies"), home: nil)
        try arguments.finish()
        printError(SingleUserMode.warning(home: configuration.homeDirectory))
        let runtime = await Runtime.load(configuration, enablePayments: false)
        var diagnostics = runtime.checkAll()
        diagnostics.sort {
            ($0.file, $0.location.line, $0.location.column) < ($1.file, $1.location.line, $1.location.column)
        }
        for diagnostic in diagnostics { printOut(diagnostic.description) }
        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.count - errors
        printError(
            "purser check: \(runtime.catalog.manifests.count) tool(s) valid, \(errors) error(s), \(warnings) warning(s)"
        )
        return errors == 0 ? 0 : 1
    }
}

/// `purser call`: one call through the same pipeline, without an MCP client.
struct CallCommand: Subcommand {
    static let name = "call"
    static let summary = "run one tool call through the governed pipeline and print the result"
    static let usage =
        "purser call TOOL --args JSON [--agent ID] [--idempotency-key KEY] [--approval ID] [--tools DIR] [--policies DIR] [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let configuration = RuntimeConfiguration(
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
