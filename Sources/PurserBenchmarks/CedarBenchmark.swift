import Cedar
import Foundation

/// Authorization time per request, Purser's Cedar engine vs cedarpy's batch call, on the same generated
/// tool-call workloads: 10 policies and 1,000 policies.
///
/// `purser-bench cedar [--python PATH] [--requests N] [--seconds S] [--workdir DIR]`; the cedarpy side is
/// `Tests/Interop/cedar/bench_cedarpy.py`, run with the given Python (default `.venv/bin/python`).
struct CedarBenchmark: Benchmark {
    static let name = "cedar"
    static let summary = "Cedar authorization per request vs cedarpy (10 and 1,000 policies)"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var python = ".venv/bin/python"
        var requestCount = 1000
        var seconds = 2.0
        var workdir = FileManager.default.temporaryDirectory.appendingPathComponent("purser-bench-cedar").path
        var index = 0
        while index < arguments.count {
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch arguments[index] {
            case "--python": python = value
            case "--requests": requestCount = Int(value) ?? requestCount
            case "--seconds": seconds = Double(value) ?? seconds
            case "--workdir": workdir = value
            default:
                FileHandle.standardError.write(Data("unknown option \(arguments[index])\n".utf8))
                return 64
            }
            index += 2
        }
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        var lines = [
            "Cedar authorization benchmark (release build, one thread; workloads generated with seed 7)",
            "command: swift run -c release purser-bench cedar --python \(python) --requests \(requestCount)",
            "",
            "policies  requests  purser µs/request  allow  candidates/request  cedarpy µs/request  cedarpy allow",
        ]
        var mismatch = false
        for policyCount in [10, 1000] {
            let workload = Workload(seed: 7, policies: policyCount, requests: requestCount)
            let path = (workdir as NSString).appendingPathComponent("workload-\(policyCount).json")
            try Data(workload.json.utf8).write(to: URL(fileURLWithPath: path))
            let policies = try PolicySet(parsing: workload.policyText)
            let entities = try Entities(json: workload.entitiesJSON)
            let requests = try workload.requests.map { try Difftest.request(try CedarJSON.parse($0)) }
            let authorizer = Authorizer()
            var allowed = 0
            for request in requests
            where authorizer.isAuthorized(request, policies: policies, entities: entities).decision == .allow {
                allowed += 1
            }
            // Timed loop: whole passes over the requests until the time budget is spent.
            let clock = ContinuousClock()
            var passes = 0
            var sink = 0
            let start = clock.now
            var elapsed = Duration.zero
            repeat {
                for request in requests {
                    sink &+= authorizer.isAuthorized(request, policies: policies, entities: entities).reasons.count
                }
                passes += 1
                elapsed = start.duration(to: clock.now)
            } while elapsed < .milliseconds(Int(seconds * 1000))
            let perRequest = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
            let micros = perRequest / Double(passes * requests.count)
            let candidateTotal = requests.reduce(0) { $0 + policies.candidateCount($1, entities) }
            let candidates = Double(candidateTotal) / Double(requests.count)
            let (cedarpyMicros, cedarpyAllowed) = runCedarpy(python: python, workload: path, seconds: seconds)
            if let cedarpyAllowed, cedarpyAllowed != allowed { mismatch = true }
            func column(_ text: String, _ width: Int) -> String {
                text.padding(toLength: width, withPad: " ", startingAt: 0)
            }
            let cedarpyText: String = cedarpyMicros.map { String(format: "%.2f", $0) } ?? "n/a"
            let cedarpyAllowText: String = cedarpyAllowed.map { String($0) } ?? "n/a"
            var row = column(String(policyCount), 10) + column(String(requests.count), 10)
            row += column(String(format: "%.2f", micros), 19) + column(String(allowed), 7)
            row += column(String(format: "%.1f", candidates), 20) + column(cedarpyText, 20) + cedarpyAllowText
            lines.append(row)
            if sink == -1 { lines.append("") }
        }
        if mismatch { lines.append("WARNING: allow counts differ from cedarpy") }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return mismatch ? 1 : 0
    }

    /// Runs the cedarpy timing script; nil values when Python or cedarpy is unavailable.
    private static func runCedarpy(python: String, workload: String, seconds: Double) -> (Double?, Int?) {
        let script = "Tests/Interop/cedar/bench_cedarpy.py"
        guard FileManager.default.fileExists(atPath: python), FileManager.default.fileExists(atPath: script) else {
            return (nil, nil)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, workload, "--seconds", String(seconds)]
        let pipe = Pipe()
        process.standardOutput = pipe
        do {
            try process.run()
        } catch {
            return (nil, nil)
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let words = String(decoding: data, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard process.terminationStatus == 0, words.count >= 2 else { return (nil, nil) }
        return (Double(words[0]), Int(words[1]))
    }
}

/// A deterministic tool-call workload: agents in groups, tools in tool groups, per-tool permits with
/// argument limits, tier forbids and payee rules, and random requests.
struct Workload {
    var policyText = ""
    var entitiesJSON = ""
    var requests: [String] = []

    init(seed: UInt64, policies: Int, requests requestCount: Int) {
        var random = SplitMix64(seed: seed)
        let agents = 100
        let groups = 10
        let tools = max(20, policies / 5)
        let toolGroups = 20
        var entities: [String] = []
        for group in 0..<groups {
            entities.append(#"{"uid":{"type":"Group","id":"g\#(group)"},"attrs":{},"parents":[]}"#)
        }
        for group in 0..<toolGroups {
            entities.append(#"{"uid":{"type":"ToolGroup","id":"tg\#(group)"},"attrs":{},"parents":[]}"#)
        }
        for agent in 0..<agents {
            let tier = ["free", "pro", "team"][Int(random.next() % 3)]
            let group = random.next() % UInt64(groups)
            entities.append(
                #"{"uid":{"type":"Agent","id":"a\#(agent)"},"attrs":{"tier":"\#(tier)"},"parents":[{"type":"Group","id":"g\#(group)"}]}"#
            )
        }
        for tool in 0..<tools {
            let premium = random.next() % 4 == 0 ? #","premium""# : ""
            let price = "0.0\(random.next() % 10)"
            let group = random.next() % UInt64(toolGroups)
            entities.append(
                #"{"uid":{"type":"Tool","id":"t\#(tool)"},"attrs":{"tags":["paid"\#(premium)],"price":{"__extn":{"fn":"decimal","arg":"\#(price)"}}},"parents":[{"type":"ToolGroup","id":"tg\#(group)"}]}"#
            )
        }
        entities.append(
            #"{"uid":{"type":"Config","id":"payments"},"attrs":{"allowedPayTo":["0xok","0xalso"]},"parents":[]}"#)
        entities.append(#"{"uid":{"type":"Action","id":"call_tool"},"attrs":{},"parents":[]}"#)
        entitiesJSON = "[" + entities.joined(separator: ",") + "]"

        var texts: [String] = []
        // A few global rules, then per-tool permits.
        texts.append(
            """
            @id("premium-needs-pro")
            forbid (principal, action == Action::"call_tool", resource)
            when { resource has tags && resource.tags.contains("premium") }
            unless { principal has tier && principal.tier == "pro" };
            """)
        texts.append(
            """
            @id("payee-allowlist")
            forbid (principal, action == Action::"call_tool", resource)
            unless { context has payTo && Config::"payments".allowedPayTo.contains(context.payTo) };
            """)
        while texts.count < policies {
            let number = texts.count
            let tool = random.next() % UInt64(tools)
            let limit = [10, 20, 50][Int(random.next() % 3)]
            switch random.next() % 4 {
            case 0:
                texts.append(
                    """
                    @id("p\(number)")
                    permit (principal in Group::"g\(random.next() % UInt64(groups))", action == Action::"call_tool", resource == Tool::"t\(tool)")
                    when { context.params has max_results && context.params.max_results <= \(limit) };
                    """)
            case 1:
                texts.append(
                    """
                    @id("p\(number)")
                    permit (principal == Agent::"a\(random.next() % UInt64(agents))", action == Action::"call_tool", resource == Tool::"t\(tool)");
                    """)
            case 2:
                texts.append(
                    """
                    @id("p\(number)")
                    permit (principal in Group::"g\(random.next() % UInt64(groups))", action == Action::"call_tool", resource in ToolGroup::"tg\(random.next() % UInt64(toolGroups))")
                    when { context has amount && context.amount.lessThanOrEqual(resource.price) };
                    """)
            default:
                texts.append(
                    """
                    @id("p\(number)")
                    forbid (principal, action == Action::"call_tool", resource == Tool::"t\(tool)")
                    when { context.params has max_results && context.params.max_results > \(limit * 2) };
                    """)
            }
        }
        policyText = texts.joined(separator: "\n")

        for _ in 0..<requestCount {
            let agent = random.next() % UInt64(agents)
            let tool = random.next() % UInt64(tools)
            let maxResults = [5, 10, 20, 50, 100][Int(random.next() % 5)]
            let payTo = ["0xok", "0xalso", "0xevil"][Int(random.next() % 3)]
            let amount = "0.0\(random.next() % 10)"
            requests.append(
                #"{"principal":{"type":"Agent","id":"a\#(agent)"},"action":{"type":"Action","id":"call_tool"},"resource":{"type":"Tool","id":"t\#(tool)"},"context":{"params":{"max_results":\#(maxResults)},"payTo":"\#(payTo)","amount":{"__extn":{"fn":"decimal","arg":"\#(amount)"}}}}"#
            )
        }
    }

    /// `{"policies": …, "entities": […], "requests": […]}` for the cedarpy script.
    var json: String {
        #"{"policies":\#(CedarJSON.quote(policyText)),"entities":\#(entitiesJSON),"requests":[\#(requests.joined(separator: ","))]}"#
    }
}

/// A small deterministic PRNG (SplitMix64), so the workload is the same on every machine.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
