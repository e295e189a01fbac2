import Foundation
import JSONCore
import Purser
import PurserTesting
import X402

/// `purser-bench pipeline`: the governed paid call without a network, for profiling Purser's own time.
///
/// The same world as `governed` (Cedar policies, limits with every gate on, a durable ledger with a
/// session, a key file), but the tool's transport is an in-process x402 seller answering with canned
/// responses (a v2 402 like the SDK peer's, then a 200 with a settlement). The time inside it and inside
/// signing is removed as in `governed`, so what is left is the pipeline: JSON, Cedar, selection, gates,
/// the two durable ledger transactions, receipt. Run it with `TMPDIR=/dev/shm` to take fsync out, and
/// under `perf record -g` for a profile (valgrind 3.19 crashes on this binary's threads here).
struct PipelineBenchmark: Benchmark {
    static let name = "pipeline"
    static let summary = "governed paid calls against an in-process fake seller (no network): Purser's own time"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var count = 2000
        var warmups = 20
        var delay = 0
        var index = 0
        while index < arguments.count {
            let value = index + 1 < arguments.count ? Int(arguments[index + 1]) : nil
            switch (arguments[index], value) {
            case ("--count", let value?) where value > 0 && value <= 1_000_000: count = value
            case ("--warmup", let value?) where value >= 0 && value <= 1_000_000: warmups = value
            case ("--delay-us", let value?) where value >= 0 && value <= 10_000_000: delay = value
            default: throw BenchmarkError("usage: purser-bench pipeline [--count N] [--warmup N] [--delay-us N]")
            }
            index += 2
        }
        let seller = FakeSeller(delay: .microseconds(delay))
        let world = try await GovernedWorld(
            base: "http://127.0.0.1:9", calls: count + warmups, label: "pipeline", transport: { _ in seller })
        defer { world.remove() }
        for call in 0..<warmups { _ = try await world.paidCall(call) }
        var samples: [CallSample] = []
        samples.reserveCapacity(count)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpuBefore = cpuMilliseconds(usage)
        let started = ContinuousClock.now
        for call in warmups..<(warmups + count) { samples.append(try await world.paidCall(call)) }
        let wall = ContinuousClock.now - started
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = cpuMilliseconds(usage) - cpuBefore

        func median(_ values: [Double]) -> Double { percentile(values, 0.5) }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        func format(_ value: Double) -> String { String(format: "%.3f", value) }
        let wallMs = Double(wall.components.seconds) * 1000 + Double(wall.components.attoseconds) / 1e15
        let lines = [
            "purser-bench pipeline: \(count) governed paid calls, in-process fake seller (\(delay) µs per answer), ledger in \(world.directory.path)",
            "  total, median / p99:               \(format(median(samples.map(\.total)))) / \(format(percentile(samples.map(\.total), 0.99))) ms",
            "  fake seller (transport), median:   \(format(median(samples.map(\.upstream)))) ms",
            "  signing + self-check, median:      \(format(median(samples.map(\.signing)))) ms",
            "  overhead, median / p99:            \(format(median(samples.map(\.overhead)))) / \(format(percentile(samples.map(\.overhead), 0.99))) ms",
            "  CPU per call / wall per call:      \(format(cpu / Double(count))) / \(format(wallMs / Double(count))) ms",
            "command: swift build -c release --product purser-bench && TMPDIR=\(world.directory.deletingLastPathComponent().path) .build/release/purser-bench pipeline --count \(count) --warmup \(warmups) --delay-us \(delay)",
        ]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    private static func cpuMilliseconds(_ usage: rusage) -> Double {
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
    }
}
