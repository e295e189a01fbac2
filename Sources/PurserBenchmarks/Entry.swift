import Foundation

/// One benchmark: measures, prints a readable report to stdout, and returns the exit status.
protocol Benchmark: Sendable {
    /// The word that selects it, e.g. `mcp`.
    static var name: String { get }
    /// One line for the list.
    static var summary: String { get }
    /// Runs it with the remaining arguments.
    static func run(_ arguments: [String]) async throws -> Int32
}

/// A benchmark that could not run, with the reason.
struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `purser-bench`: release-build benchmarks whose figures go into `docs/benchmarks.md`.
///
/// Run `swift run -c release purser-bench NAME`; each benchmark prints the command that reproduces it.
@main
struct PurserBenchmarks {
    static let benchmarks: [any Benchmark.Type] = [
        MCPBenchmark.self,
        X402Benchmark.self,
        SigningBenchmark.self,
        LedgerBenchmark.self,
        CedarBenchmark.self,
        GovernedBenchmark.self,
        PipelineBenchmark.self,
        WaitBenchmark.self,
        VaultBenchmark.self,
        ScrubBenchmark.self,
        ReceiptBenchmark.self,
    ]

    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let word = arguments.first, let benchmark = benchmarks.first(where: { $0.name == word }) else {
            var lines = ["usage: purser-bench NAME [options]", ""]
            for benchmark in benchmarks { lines.append("  \(benchmark.name): \(benchmark.summary)") }
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            exit(64)
        }
        arguments.removeFirst()
        do {
            let status = try await benchmark.run(arguments)
            exit(status)
        } catch {
            FileHandle.standardError.write(Data("purser-bench \(word): \(error)\n".utf8))
            exit(1)
        }
    }
}
