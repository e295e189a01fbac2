import Foundation
import Purser

/// The cost of scrubbing an upstream response of the request's secrets (`SecretScrubber.scrub`), which every
/// response of a tool with secret headers goes through, on 1 MiB JSON bodies.
struct ScrubBenchmark: Benchmark {
    static let name = "scrub"
    static let summary = "SecretScrubber.scrub on 1 MiB JSON bodies: plain, with escapes, with Go-escaped echoes"

    static func run(_ arguments: [String]) async throws -> Int32 {
        let rounds = arguments.first.flatMap(Int.init) ?? 20
        let secret = "sk_live<9f>&a/b\"c\\é€Z-0123456789abcdef"
        let scrubber = SecretScrubber(values: ["Bearer " + secret, secret])
        let goEscaped = #"sk_live\u003c9f\u003e\u0026a/b\"c\\é€Z-0123456789abcdef"#
        func body(_ item: String) -> [UInt8] {
            var text = "["
            while text.utf8.count < 1 << 20 { text += item + "," }
            return Array((text + "{}]").utf8)
        }
        let bodies: [(String, [UInt8])] = [
            ("no escapes, no secret", body(#"{"city":"Paris","temperature":21,"note":"sunny with clouds"}"#)),
            ("escapes, no secret", body(#"{"city":"S\u00e3o Paulo","path":"a\/b","quote":"\"ok\"","n":1}"#)),
            ("escapes, a Go-escaped secret per item", body(#"{"error":"bad key \#(goEscaped)","n":1}"#)),
        ]
        var lines = [
            "purser-bench scrub (release; \(rounds) rounds per body, median): SecretScrubber.scrub over a 1 MiB JSON",
            "array; the secret holds `<>&/\"\\` and non-ASCII characters",
            "",
            "body                                        ms per MiB",
        ]
        for (label, bytes) in bodies {
            var samples: [Double] = []
            var output = 0
            for _ in 0..<rounds {
                let started = ContinuousClock.now
                output = scrubber.scrub(bytes).count
                let elapsed = ContinuousClock.now - started
                samples.append(
                    Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
            }
            samples.sort()
            let perMiB = samples[samples.count / 2] * Double(1 << 20) / Double(bytes.count)
            lines.append(
                label.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%8.2f", perMiB)
                    + "   (\(bytes.count) → \(output) bytes)")
        }
        lines += ["", "reproduce: swift build -c release --product purser-bench && .build/release/purser-bench scrub"]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }
}
