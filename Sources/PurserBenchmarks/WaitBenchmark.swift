import Foundation
import HTTPClient
import X402

/// CPU spent while calls wait on a slow upstream: `HTTPClient` (the product) beside the old URLSession
/// transport, in the same run, against the same Python upstream that answers after 3 s.
struct WaitBenchmark: Benchmark {
    static let name = "wait"
    static let summary = "CPU time while 1 and 8 calls wait 3 s on their upstream, HTTPClient beside URLSession"

    static func run(_ arguments: [String]) async throws -> Int32 {
        let upstream = try LoopbackUpstream.start()
        defer { upstream.stop() }
        guard let url = URL(string: "http://127.0.0.1:\(upstream.port)/slow") else { throw BenchmarkError("bad URL") }
        var lines = [
            "purser-bench wait (release): process CPU (user + system, all threads, getrusage) while calls wait",
            "3 s for a Python http.server upstream on 127.0.0.1 (a separate process, not counted). \"new\": a",
            "transport made for the call (as `purser call` does); \"warm\": one that already made a request.",
            "",
            "                                   wall (s)   user (s)   system (s)   CPU total (s)",
        ]
        let fast = URL(string: "http://127.0.0.1:\(upstream.port)/fast")!
        let makers: [(String, @Sendable () -> any HTTPTransport)] = [
            ("HTTPClient", { HTTPClient() }), ("URLSession", { URLSessionTransport() }),
        ]
        for (label, make) in makers {
            let warm = make()
            _ = try await warm.send(HTTPRequest(url: fast))
            for (kind, concurrency) in [("new", 1), ("warm", 1), ("new", 8), ("warm", 8)] {
                let transport = kind == "new" ? make() : warm
                let sample = try await measure(transport, url: url, concurrency: concurrency)
                lines.append(
                    "\(label) \(kind), \(concurrency) in flight".padding(toLength: 34, withPad: " ", startingAt: 0)
                        + [sample.wall, sample.user, sample.system, sample.user + sample.system].map {
                            String(format: "%8.3f", $0)
                        }.joined(separator: "   "))
            }
        }
        lines += [
            "",
            "target: one waiting call < 0.05 s CPU (HTTPClient); 8 in flight keep the machine idle",
            "reproduce: swift build -c release --product purser-bench && .build/release/purser-bench wait",
        ]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    private struct Sample {
        var wall: Double
        var user: Double
        var system: Double
    }

    private static func measure(_ transport: any HTTPTransport, url: URL, concurrency: Int) async throws -> Sample {
        let before = cpu()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask { try await transport.send(HTTPRequest(url: url)).status }
            }
            for try await status in group where status != 200 {
                throw BenchmarkError("the upstream answered \(status)")
            }
        }
        let elapsed = ContinuousClock.now - started
        let after = cpu()
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Sample(wall: wall, user: after.user - before.user, system: after.system - before.system)
    }

    private static func cpu() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }
}
