import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import Synchronization
import X402

/// `purser-bench governed`: Purser's governance overhead per paid call, beside the official Python x402
/// client paying the same upstream in the same run.
///
/// Each call goes through `ToolCallPipeline.call` exactly as `purser serve` runs it (input check, Cedar
/// call and pay policies, selection, budget gates, durable reserve, sign, mark in doubt, retry, commit,
/// receipt, hash-chained audit record) against the official x402 SDK server on 127.0.0.1. The transport
/// and the signer are wrapped with stopwatches, so the overhead is what is left of the call's wall time
/// once the time inside the transport (upstream, loopback HTTP included) and inside signing is removed.
struct GovernedBenchmark: Benchmark {
    static let name = "governed"
    static let summary = "governance overhead per paid call (total − upstream − signing) vs the Python x402 client"

    static let agent = "bench"
    static let payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    static let usdc = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
    static let network = "eip155:84532"
    static let warmups = 5

    static func run(_ arguments: [String]) async throws -> Int32 {
        var count = 200
        var python = (ProcessInfo.processInfo.environment["PURSER_VENV"] ?? ".venv") + "/bin/python"
        var peerScript = "Tests/Interop/x402/bench_peer.py"
        var index = 0
        while index < arguments.count {
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch (arguments[index], value) {
            case ("--count", let value?):
                guard let parsed = Int(value), parsed > 0, parsed <= 100_000 else {
                    throw BenchmarkError("--count needs a whole number from 1 to 100000")
                }
                count = parsed
            case ("--python", let value?): python = value
            case ("--peer", let value?): peerScript = value
            default: throw BenchmarkError("usage: purser-bench governed [--count N] [--python PATH] [--peer PATH]")
            }
            index += 2
        }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw BenchmarkError("no Python at \(python) (pass --python PATH to the venv with the pinned x402 SDK)")
        }
        guard FileManager.default.fileExists(atPath: peerScript) else {
            throw BenchmarkError("no peer script at \(peerScript) (run from the repository root or pass --peer)")
        }
        let command =
            "swift build -c release --product purser-bench && .build/release/purser-bench governed --count \(count) --python \(python)"

        // The official SDK server (Flask middleware, real facilitator, fake chain) on 127.0.0.1.
        let peer = try ChildProcess([python, peerScript, "serve"])
        defer { peer.finish() }
        let base = String(decoding: peer.receive(), as: UTF8.self)
        guard base.hasPrefix("http://127.0.0.1:") else { throw BenchmarkError("the x402 peer did not start") }

        let world = try await GovernedWorld(base: base, calls: count + warmups)
        defer { world.remove() }

        for call in 0..<warmups {
            _ = try await world.paidCall(call)
            _ = try await world.replayLedgerSteps(call)
            _ = await world.replayPolicySteps()
        }
        _ = try await fetch(base + "/_stats/reset")
        var samples: [CallSample] = []
        samples.reserveCapacity(count)
        let cpuBefore = processCPUMilliseconds()
        let wallBefore = ContinuousClock.now
        for call in warmups..<(warmups + count) {
            var sample = try await world.paidCall(call)
            // Replayed on a second ledger and policy store right after the real call, so each replay sees
            // the same table sizes and machine load as the call it stands for.
            sample.ledger = try await world.replayLedgerSteps(call)
            sample.policy = await world.replayPolicySteps()
            samples.append(sample)
        }
        let cpuPerCall = (processCPUMilliseconds() - cpuBefore) / Double(count)
        let wallPerCall = milliseconds(ContinuousClock.now - wallBefore) / Double(count)
        let serverMs = try await serverMilliseconds(base) / Double(count)

        // The official Python client against the same server, in the same run.
        let pythonClient = try ChildProcess([python, peerScript, "client", base + "/weather", String(count)])
        let pythonData = pythonClient.receive()
        pythonClient.finish()
        let pythonStats = (try? JSONSerialization.jsonObject(with: Data(pythonData)) as? [String: Any]) ?? [:]

        let report = Report(
            samples: samples, serverMs: serverMs, cpuPerCall: cpuPerCall, wallPerCall: wallPerCall, python: pythonStats,
            count: count, command: command)
        FileHandle.standardOutput.write(Data((report.lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    private static func fetch(_ url: String) async throws -> HTTPResponse {
        guard let parsed = URL(string: url) else { throw BenchmarkError("bad URL \(url)") }
        return try await URLSessionTransport().send(HTTPRequest(url: parsed))
    }

    /// The peer's handler time since the last reset, both requests of every paid call, in ms.
    private static func serverMilliseconds(_ base: String) async throws -> Double {
        let response = try await fetch(base + "/_stats")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return ((object?["total_ns"] as? NSNumber)?.doubleValue ?? 0) / 1e6
    }
}

/// One governed paid call, split by stopwatch (ms).
struct CallSample {
    var total: Double
    var upstream: Double
    var sign: Double
    /// One signature recovery with the same inputs, timed in the signer wrapper: what the client's own
    /// self-check (`SignatureCheck`) costs right after.
    var check: Double
    var ledger = 0.0
    var policy = 0.0

    /// Signing including the client's self-check.
    var signing: Double { sign + check }
    /// Everything but upstream and signing. The wrapper's timed recovery is extra work inside `total`
    /// (measured, so removed), and the client's own recovery is part of signing.
    var overhead: Double { total - upstream - sign - 2 * check }
    /// The conservative figure: only the time inside the signer and its duplicate recovery removed.
    var overheadWithSelfCheck: Double { total - upstream - sign - check }
}

/// A temporary Purser home: tools manifest, Cedar policies, limits, a ledger with a session, a key file.
final class GovernedWorld: Sendable {
    let directory: URL
    let pipeline: ToolCallPipeline
    let transport: StopwatchTransport
    let signer: StopwatchSigner
    let replayLedger: Ledger
    let replaySession: PaymentSession
    let replayPolicies: PolicyStore
    let limits: LimitsConfiguration
    let manifest: ToolManifest

    init(base: String, calls: Int) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "purser-bench-governed-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        let policies = directory.appendingPathComponent("policies")
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)

        let agent = GovernedBenchmark.agent
        // A realistic policy set: call and pay permitted for the agent, a forbid capping each payment.
        let policy = """
            permit (principal == Agent::"\(agent)", action == Action::"call_tool", resource);
            permit (principal == Agent::"\(agent)", action == Action::"pay", resource);
            @id("pay-cap")
            forbid (principal, action == Action::"pay", resource)
            unless { context has amount && context.amount.lessThanOrEqual(decimal("0.50")) };

            """
        try policy.write(to: policies.appendingPathComponent("bench.cedar"), atomically: true, encoding: .utf8)
        // Every gate is on (per call, per tool, velocity) and generous enough for every call of the run.
        let room = String(calls + 100)
        let limitsText = """
            {"assets": {"USDC": {"decimals": 6, "networks": {"\(GovernedBenchmark.network)": "\(GovernedBenchmark.usdc)"}}},
             "limits": {"USDC": {"perCall": "0.05", "perTool": {"weather": "\(room)"},
                                 "velocity": {"window": "1h", "maxPayments": \(room), "maxAmount": "\(room)"}}},
             "allow": {"networks": ["\(GovernedBenchmark.network)"], "assets": ["USDC"],
                       "payees": ["\(GovernedBenchmark.payTo)"]}}
            """
        let limitsPath = policies.appendingPathComponent("limits.json").path
        try limitsText.write(toFile: limitsPath, atomically: true, encoding: .utf8)
        limits = try LimitsConfiguration.load(path: limitsPath)

        let manifestText = """
            {"name": "weather", "description": "Paid weather from the x402 SDK peer.", "purpose": "data.weather",
             "inputSchema": {"type": "object", "properties": {"n": {"type": "string", "minLength": 1}},
                             "required": ["n"], "additionalProperties": false},
             "upstream": {"url": "\(base)/weather", "query": {"n": "n"}},
             "price": {"amount": "0.01", "asset": "USDC"}}
            """
        let (loaded, problems) = ToolManifestLoader.load(bytes: Array(manifestText.utf8), file: "weather.json")
        guard let loaded, problems.isEmpty else { throw BenchmarkError("the bench manifest did not load") }
        manifest = loaded

        let keyPath = home.appendingPathComponent("wallet.key").path
        _ = try KeyFile.create(at: keyPath)
        signer = StopwatchSigner(try KeyFileSigner(path: keyPath))
        // The ledger's cap covers every call of the run twice over; the fake chain funds every address.
        let cap = Int64(calls + 100) * 20_000
        let ledger = try Ledger.open(path: home.appendingPathComponent("ledger.sqlite").path)
        _ = try await ledger.grantSession(
            agent: agent, asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 3_600_000)
        replayLedger = try Ledger.open(path: home.appendingPathComponent("replay.sqlite").path)
        replaySession = try await replayLedger.grantSession(
            agent: agent, asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 3_600_000)
        replayPolicies = PolicyStore(directory: policies.path)

        // The transport `purser serve` builds for a tool (Runtime), inside a stopwatch.
        let upstream = manifest.upstream
        transport = StopwatchTransport(
            LazyURLSessionTransport(
                configuration: URLSessionTransport.Configuration(
                    maximumResponseBytes: upstream.maxResponseBytes, timeout: .seconds(upstream.timeoutSeconds))))
        let payments = PaymentEnvironment(
            ledger: ledger, limits: limits, signer: signer, approvalKey: Array(repeating: 7, count: 32))
        let transport = self.transport
        pipeline = ToolCallPipeline(
            catalog: ToolCatalog([manifest]), transport: { _ in transport }, secrets: EnvironmentSecrets(),
            authorizer: PolicyStore(directory: policies.path), payments: payments)
    }

    /// One governed paid call with fresh arguments (a new payment, no idempotency key).
    func paidCall(_ call: Int) async throws -> CallSample {
        transport.reset()
        signer.reset()
        let started = ContinuousClock.now
        let outcome = try await pipeline.call(
            name: "weather", arguments: ["n": .string("call-\(call)")],
            caller: CallerContext(agent: GovernedBenchmark.agent))
        let total = milliseconds(ContinuousClock.now - started)
        guard case .complete(let result) = outcome, !result.isError,
            result.meta?["com.purser/receipt"]?["transaction"]?.stringValue != nil
        else {
            var code = "not complete"
            if case .complete(let result) = outcome {
                code = result.structuredContent?["error"]?.stringValue ?? "no receipt"
            }
            throw BenchmarkError("governed call \(call) did not pay: \(code)")
        }
        let (sign, check, signatures) = signer.read()
        guard signatures == 1 else { throw BenchmarkError("governed call \(call) signed \(signatures) times") }
        return CallSample(total: total, upstream: transport.read(), sign: sign, check: check)
    }

    /// The ledger work of one paid call, in the pipeline's order, on a second ledger (ms).
    func replayLedgerSteps(_ call: Int) async throws -> Double {
        let started = ContinuousClock.now
        guard let session = try await replayLedger.activeSession(agent: GovernedBenchmark.agent, asset: "USDC")
        else { throw BenchmarkError("the replay ledger has no session") }
        let request = ReservationRequest(
            sessionID: session.id, agent: GovernedBenchmark.agent, tool: "weather", payee: GovernedBenchmark.payTo,
            network: GovernedBenchmark.network, asset: "USDC", amount: 10_000, purpose: "data.weather",
            argumentsDigest: "sha256:" + String(repeating: "0", count: 63) + String(call % 10))
        _ = try await replayLedger.evaluateGates(request, limits: limits)
        guard case .reserved(let reservation, _) = try await replayLedger.reserve(request, limits: limits) else {
            throw BenchmarkError("the replay ledger refused to reserve")
        }
        _ = try await replayLedger.markInDoubt(reservation.id, validBefore: Int64(Date().timeIntervalSince1970) + 60)
        _ = try await replayLedger.commit(
            reservation.id, settledAmount: 10_000, transaction: "0x" + String(repeating: "ab", count: 32),
            payer: GovernedBenchmark.payTo)
        _ = try await replayLedger.sessions()
        _ = try await replayLedger.appendAudit(
            kind: "call",
            payload: [
                "agent": .string(GovernedBenchmark.agent), "tool": "weather", "purpose": "data.weather",
                "args_digest": .string(request.argumentsDigest), "outcome": "paid", "latency_us": 1000,
                "call_policy": "allowed", "pay_policy": "allowed", "reservation": .string(reservation.id),
                "offer": [
                    "network": .string(GovernedBenchmark.network), "asset": "USDC", "amount": 10_000,
                    "pay_to": .string(GovernedBenchmark.payTo),
                ],
            ])
        return milliseconds(ContinuousClock.now - started)
    }

    /// The two Cedar decisions of one paid call (call policy, pay policy) on a second store (ms).
    func replayPolicySteps() async -> Double {
        let started = ContinuousClock.now
        let arguments: JSONObject = ["n": "call"]
        _ = await replayPolicies.authorizeCall(agent: GovernedBenchmark.agent, tool: manifest, arguments: arguments)
        _ = await replayPolicies.authorizePayment(
            agent: GovernedBenchmark.agent, tool: ToolFacts(manifest: manifest),
            payment: PaymentFacts(
                amountAtomic: "10000", decimals: 6, asset: "USDC", network: GovernedBenchmark.network,
                payTo: GovernedBenchmark.payTo),
            arguments: .object(arguments))
        return milliseconds(ContinuousClock.now - started)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Adds up the time spent inside a transport since the last reset.
final class StopwatchTransport: HTTPTransport {
    private let inner: any HTTPTransport
    private let elapsed = Mutex<Double>(0)

    init(_ inner: any HTTPTransport) { self.inner = inner }

    func reset() { elapsed.withLock { $0 = 0 } }
    func read() -> Double { elapsed.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        defer {
            let ms = milliseconds(ContinuousClock.now - started)
            elapsed.withLock { $0 += ms }
        }
        return try await inner.send(request)
    }
}

/// Times a signer, and times one recovery of each signature it returns (the cost of the client's own
/// self-check, which runs right after with the same inputs and cannot be wrapped from outside).
final class StopwatchSigner: Signer {
    private let inner: any Signer
    private let state = Mutex<(sign: Double, check: Double, count: Int)>((0, 0, 0))

    init(_ inner: any Signer) { self.inner = inner }

    var address: EVMAddressText { inner.address }

    func reset() { state.withLock { $0 = (0, 0, 0) } }
    func read() -> (sign: Double, check: Double, count: Int) { state.withLock { $0 } }

    func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        let started = ContinuousClock.now
        let signature = try await inner.sign(typedData)
        let signed = ContinuousClock.now
        // A signature that does not recover is left for the client to refuse; the timing is what matters.
        _ = try? SignatureCheck.check(signature, typedData: typedData, expected: inner.address)
        let checked = ContinuousClock.now
        state.withLock {
            $0.sign += milliseconds(signed - started)
            $0.check += milliseconds(checked - signed)
            $0.count += 1
        }
        return signature
    }
}

/// The printed report.
private struct Report {
    let samples: [CallSample]
    let serverMs: Double
    let cpuPerCall: Double
    let wallPerCall: Double
    let python: [String: Any]
    let count: Int
    let command: String

    var lines: [String] {
        let totals = samples.map { $0.total }
        var lines = [
            "Governed paid call, \(count) sequential calls through ToolCallPipeline.call (release) against the",
            "official x402 SDK server on 127.0.0.1 (Flask middleware + x402FacilitatorSync + fake chain; every",
            "payment verified and settled). Each call: input check, Cedar call policy, 402, selection, Cedar pay",
            "policy, budget gates, durable reserve, sign + self-check, mark in doubt, paid retry, commit, receipt,",
            "audit record.",
            "",
            "                                             median      p99     mean   (ms)",
            row("total per governed paid call", totals),
            row("  upstream (inside the transport)", samples.map { $0.upstream }),
            row("  signing (sign + self-check)", samples.map { $0.signing }),
            row("    of which the self-check", samples.map { $0.check }),
            row("  governance overhead", samples.map { $0.overhead }),
            row("  overhead, self-check counted in it", samples.map { $0.overheadWithSelfCheck }),
            row("ledger steps replayed (7 calls, 4 durable)", samples.map { $0.ledger }),
            row("Cedar call + pay decisions replayed", samples.map { $0.policy }),
            "server handler time (both requests)          mean \(f(serverMs))",
            "Purser share of the total, total − server    mean \(f(mean(totals) - serverMs))",
            "purser-bench CPU time per call (user + sys)  \(f(cpuPerCall)) of \(f(wallPerCall)) wall (replays included)",
        ]
        if let pythonMean = python["mean_ms"] as? Double, let pythonServer = python["server_mean_ms"] as? Double {
            let pythonMedian = python["p50_ms"] as? Double ?? 0
            lines += [
                "",
                "Official Python client (x402_requests + x402ClientSync + EthAccountSigner), ungoverned, same server, same run:",
                "  total per paid call                        median \(f(pythonMedian))  mean \(f(pythonMean))",
                "  server handler time                        mean \(f(pythonServer))",
                "  client share, total − server               mean \(f(pythonMean - pythonServer))",
                "",
                "targets:",
                "  governance overhead median < 1 ms:                  \(verdict(percentile(samples.map { $0.overhead }, 50) < 1))",
                "  governed call median < Python client median:        \(verdict(percentile(totals, 50) < pythonMedian))",
                "  Purser share < Python client share (total − server): \(verdict(mean(totals) - serverMs < pythonMean - pythonServer))",
            ]
        } else {
            lines += ["", "Official Python client: failed to run (is the venv's x402 SDK installed?)"]
        }
        lines += ["", "reproduce: \(command)"]
        return lines
    }

    private func row(_ label: String, _ values: [Double]) -> String {
        label.padding(toLength: 44, withPad: " ", startingAt: 0) + " "
            + [percentile(values, 50), percentile(values, 99), mean(values)].map {
                f($0).leftPadded(to: 8)
            }.joined(separator: " ")
    }

    private func verdict(_ met: Bool) -> String { met ? "met" : "NOT met" }
    private func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }
    private func f(_ value: Double) -> String { String(format: "%.3f", value) }

    /// Nearest-rank percentile.
    private func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// User plus system CPU time of this process so far (all threads), in ms.
private func processCPUMilliseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func ms(_ time: timeval) -> Double { Double(time.tv_sec) * 1000 + Double(time.tv_usec) / 1000 }
    return ms(usage.ru_utime) + ms(usage.ru_stime)
}

private func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}
