import FoundationEssentials
import Purser
import PurserDemo

/// `purser demo`: the README's main command (see `DemoScenario`).
struct DemoCommand: Subcommand {
    static let name = "demo"
    static let summary = "the whole story on loopback: a paid call, refusals by policy and budget, an approval"
    static let usage = "purser demo"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        try arguments.finish()
        let passed = try await DemoScenario.run { printOut($0) }
        if !passed { printError("purser demo: a step did not behave as expected (see above)") }
        return passed ? 0 : 1
    }
}
