import Cedar
import FoundationEssentials
import JSONCore
import Purser

/// `purser policy eval`: one authorization against `policies/`, or the difftest JSONL protocol with `--batch`.
struct PolicyCommand: Subcommand {
    static let name = "policy"
    static let summary = "evaluate Cedar policies: one request, or the difftest protocol (--batch)"
    static let usage = """
        purser policy eval --principal 'Agent::"a"' --action 'Action::"call_tool"' --resource 'Tool::"t"' \
        [--context FILE] [--entities FILE] [--policies DIR] [--tools DIR] [--home DIR]
               purser policy eval --batch   (difftest JSONL on stdin/stdout)
               purser policy eval --tool NAME --args JSON [--agent ID] [--tools DIR] [--policies DIR] [--home DIR]
               purser policy schema [--json] [--shape purser|agents] [--tools DIR] [--policies DIR] [--home DIR]
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let verb = try arguments.positional("the verb (eval or schema)")
        if verb == "schema" { return try runSchema(&arguments) }
        guard verb == "eval" else { throw UsageError(description: "unknown verb '\(verb)'") }
        if try arguments.flag("batch") {
            try arguments.finish()
            runBatch()
            return 0
        }
        if let tool = try arguments.option("tool") { return try await runToolCall(tool, &arguments) }
        guard let principalText = try arguments.option("principal"),
            let actionText = try arguments.option("action"),
            let resourceText = try arguments.option("resource")
        else { throw UsageError(description: "--principal, --action and --resource are required") }
        let contextFile = try arguments.option("context")
        let entitiesFile = try arguments.option("entities")
        let configuration = try RuntimeConfiguration.resolve(
            agent: nil, tools: try arguments.option("tools"), policies: try arguments.option("policies"),
            home: try arguments.option("home"))
        let directory = configuration.policiesDirectory
        let toolsDirectory = configuration.toolsDirectory
        try arguments.finish()

        let principal: EntityUID
        let action: EntityUID
        let resource: EntityUID
        do {
            principal = try CedarData.parseEntityUID(principalText)
            action = try CedarData.parseEntityUID(actionText)
            resource = try CedarData.parseEntityUID(resourceText)
        } catch {
            throw UsageError(description: error.message)
        }
        var context: [CedarString: CedarValue] = [:]
        if let contextFile {
            guard let data = FileManager.default.contents(atPath: contextFile) else {
                printError("\(contextFile): cannot read the file")
                return 1
            }
            do {
                guard case .record(let fields) = try CedarData.context(try CedarJSON.parse(bytes: Array(data))) else {
                    printError("\(contextFile): context must be a JSON object")
                    return 1
                }
                context = fields
            } catch {
                printError("\(contextFile): \(error.message)")
                return 1
            }
        }
        let files: PolicyFiles
        do {
            files = try PolicyFiles.load(directory: directory, entitiesFile: entitiesFile)
        } catch {
            printError(error.description)
            return 1
        }
        // A Tool resource gets the attributes and groups of its manifest, as in `purser serve`.
        var entities = files.entities
        if resource.type == "Tool", FileManager.default.fileExists(atPath: toolsDirectory) {
            let (manifests, _) = ToolManifestLoader.loadDirectory(toolsDirectory)
            if let manifest = manifests.first(where: { $0.name == resource.id.value }) {
                do {
                    entities = try PolicyStore.entities(entities, adding: ToolFacts(manifest: manifest))
                } catch {
                    // As in `serve`: no evaluation against fewer entities than configured.
                    printOut("decision: deny\nrefused: " + PolicyStore.entitiesRefusal(tool: manifest.name, error))
                    return 2
                }
            }
        }
        let request = Request(principal: principal, action: action, resource: resource, context: context)
        let response = Authorizer().isAuthorized(request, policies: files.policySet, entities: entities)
        let byID = Dictionary(uniqueKeysWithValues: files.policySet.policies.map { ($0.id, $0) })
        func describe(_ id: String) -> String {
            guard let policy = byID[id] else { return id }
            let place = "\(policy.file ?? directory):\(policy.position.line):\(policy.position.column)"
            if let name = policy.annotatedID { return "\(name) (\(id), \(place))" }
            return "\(id) (\(place))"
        }
        var lines = ["decision: \(response.decision.rawValue)"]
        if response.reasons.isEmpty {
            lines.append(response.decision == .allow ? "deciding policies:" : "deciding policies: none (default deny)")
        } else {
            lines.append("deciding policies:")
            for id in response.reasons { lines.append("  \(describe(id))") }
        }
        if !response.errors.isEmpty {
            lines.append("errors (these policies were skipped):")
            for error in response.errors { lines.append("  \(describe(error.policyID)): \(error.error.message)") }
        }
        printOut(lines.joined(separator: "\n"))
        return response.decision == .allow ? 0 : 2
    }

    /// The call decision for one tool call, built as `serve` builds it (the configured shape, the arguments
    /// mapped by the tool's `inputSchema`): `allow` or `deny` and the deciding policies; exit 0 when allowed.
    private static func runToolCall(_ name: String, _ arguments: inout Arguments) async throws -> Int32 {
        let argumentsText = try arguments.option("args") ?? "{}"
        let configuration = try RuntimeConfiguration.resolve(
            agent: try arguments.option("agent"), tools: try arguments.option("tools"),
            policies: try arguments.option("policies"), home: try arguments.option("home"))
        try arguments.finish()
        let (manifests, _) = ToolManifestLoader.loadDirectory(configuration.toolsDirectory)
        guard let manifest = manifests.first(where: { $0.name == name }) else {
            printError("no valid tool named `\(name)` in \(configuration.toolsDirectory)")
            return 1
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(argumentsText)
        } catch {
            throw UsageError(description: "--args: \(error)")
        }
        let store = PolicyStore(directory: configuration.policiesDirectory)
        let decision = await store.authorizeToolCall(
            agent: configuration.agent, tool: ToolFacts(manifest: manifest), arguments: value)
        printOut((decision.allowed ? "allow: " : "deny: ") + decision.summary)
        return decision.allowed ? 0 : 2
    }

    /// Prints the Cedar schema generated from the tools and `entities.json` (human form, or JSON with `--json`).
    private static func runSchema(_ arguments: inout Arguments) throws -> Int32 {
        let json = try arguments.flag("json")
        let shapeName = try arguments.option("shape")
        let configuration = try RuntimeConfiguration.resolve(
            agent: nil, tools: try arguments.option("tools"), policies: try arguments.option("policies"),
            home: try arguments.option("home"))
        try arguments.finish()
        let files: PolicyFiles
        do {
            files = try PolicyFiles.load(directory: configuration.policiesDirectory)
        } catch {
            printError(error.description)
            return 1
        }
        var shape = files.shape
        if let shapeName {
            guard let chosen = PolicyShape(rawValue: shapeName) else {
                throw UsageError(description: "--shape must be purser or agents")
            }
            shape = chosen
        }
        let (manifests, diagnostics) = ToolManifestLoader.loadDirectory(configuration.toolsDirectory)
        for diagnostic in diagnostics where diagnostic.severity == .error {
            printError(diagnostic.description)
            return 1
        }
        let schema = PolicySchema.generate(
            shape: shape, tools: manifests.map { ($0.name, $0.inputSchema.document) }, entities: files.entities)
        printOut(
            json
                ? schema.jsonText
                : String(schema.cedarText.drop(while: \.isNewline).reversed().drop(while: \.isNewline).reversed()))
        return 0
    }

    /// Speaks the difftest protocol: one JSON line out per case line in, in order, written as it is answered.
    private static func runBatch() {
        while let line = readLine(strippingNewline: true) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            let answer = Difftest.answer(line)
            do {
                try StandardStream.output.write(contentsOf: (answer + "\n").utf8)
            } catch {
                return
            }
        }
    }
}
