import FoundationEssentials
import HTTPClient
import Ledger
import X402

/// The loaded product: tools and the call pipeline, plus every problem found while loading.
public struct Runtime: Sendable {
    /// What was resolved.
    public let configuration: RuntimeConfiguration
    /// The tools that loaded cleanly.
    public let catalog: ToolCatalog
    /// The governed call.
    public let pipeline: ToolCallPipeline
    /// Problems in tools/ (a tool with an error is not served).
    public let diagnostics: [Diagnostic]

    /// Every problem in tools/, policies/ (Cedar parse errors, lint warnings) and policies/limits.json.
    public func checkAll() -> [Diagnostic] {
        var all =
            diagnostics + PolicyStore.lint(directory: configuration.policiesDirectory, tools: catalog.manifests)
        let limits = PathText.join(configuration.policiesDirectory, "limits.json")
        if FileManager.default.fileExists(atPath: limits) {
            do {
                _ = try LimitsConfiguration.load(path: limits)
            } catch {
                all += error.problems.map { Diagnostic(file: $0.file, location: $0.location, message: $0.message) }
            }
        }
        return all
    }

    /// The call policy in force (`policies/*.cedar` + `entities.json`, reloaded on change).
    public let policies: PolicyStore
    /// What paying uses (nil when payments were not enabled).
    public let payments: PaymentEnvironment?

    /// Loads tools and policies and builds the pipeline. Every call is authorized by the policies:
    /// with no valid policy, Cedar denies everything (fail closed).
    ///
    /// - Parameters:
    ///   - enablePayments: open the ledger, limits and wallet so a 402 can be paid (false for
    ///     `purser check`, which must not create state).
    ///   - ownerCommands: the commands refusals tell the user to run (`.vault` for `purser vault serve`).
    public static func load(
        _ configuration: RuntimeConfiguration, secrets: any SecretSource = EnvironmentSecrets(),
        enablePayments: Bool = true, ownerCommands: OwnerCommands = .singleUser
    ) async -> Runtime {
        let payments =
            enablePayments
            ? await PaymentEnvironment.load(
                home: configuration.homeDirectory, policiesDirectory: configuration.policiesDirectory,
                ledgerLocation: configuration.ledger) : nil
        let policies = PolicyStore(directory: configuration.policiesDirectory)
        let (manifests, diagnostics) = ToolManifestLoader.loadDirectory(configuration.toolsDirectory)
        let catalog = ToolCatalog(manifests)
        let pipeline = ToolCallPipeline(
            catalog: catalog,
            transport: { manifest in
                HTTPClient(
                    configuration: HTTPClient.Configuration(
                        maximumResponseBytes: manifest.upstream.maxResponseBytes,
                        timeout: .seconds(manifest.upstream.timeoutSeconds)))
            }, secrets: secrets, authorizer: policies, payments: payments, ownerCommands: ownerCommands)
        return Runtime(
            configuration: configuration, catalog: catalog, pipeline: pipeline, diagnostics: diagnostics,
            policies: policies, payments: payments)
    }
}
