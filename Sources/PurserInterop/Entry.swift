import Foundation

/// One test-only operation, driven by the interop suites in `Tests/Interop` (never part of the product).
protocol InteropTool: Sendable {
    /// The word that selects it.
    static var name: String { get }
    /// Runs it with the remaining arguments; returns the exit status.
    static func run(_ arguments: [String]) async throws -> Int32
}

/// `purser-interop`: exposes library internals (signing vectors, hashing, …) to the Python peers that check
/// them. Each interop area registers its tool here.
@main
struct PurserInterop {
    static let tools: [any InteropTool.Type] = [
        X402Tool.self,
        SigningTool.self,
        LedgerWorkerTool.self,
        HTTPTool.self,
    ]

    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let word = arguments.first, let tool = tools.first(where: { $0.name == word }) else {
            let names = tools.map { $0.name }.joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: purser-interop TOOL … (tools: \(names))\n".utf8))
            exit(64)
        }
        arguments.removeFirst()
        do {
            let status = try await tool.run(arguments)
            exit(status)
        } catch {
            FileHandle.standardError.write(Data("purser-interop \(word): \(error)\n".utf8))
            exit(1)
        }
    }
}
