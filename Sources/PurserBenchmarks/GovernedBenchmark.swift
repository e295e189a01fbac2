import Foundation
import HTTPClient
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
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
        var order = ["HTTPClient", "URLSession", "socket"]
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
            case ("--order", let value?): order = value.split(separator: ",").map(String.init)
            default:
                throw BenchmarkError(
                    "usage: purser-bench governed [--count N] [--python PATH] [--peer PATH] [--order A,B,C]")
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
            "swift build -c release --product purser-bench && .build/release/purser-bench governed --count \(count) --python \(python) --order \(order.joined(separator: ","))"

        // The official SDK server (Flask middleware, real facilitator, fake chain) on 127.0.0.1.
        let peer = try ChildProcess([python, peerScript, "serve"])
        defer { peer.finish() }
        let base = String(decoding: peer.receive(), as: UTF8.self)
        guard base.hasPrefix("http://127.0.0.1:") else { throw BenchmarkError("the x402 peer did not start") }

        // The transport `purser serve` builds for a tool (Runtime), the URLSession transport the product used
        // before, and a blocking loopback socket (a floor for transports). `--order` changes which runs
        // first, to tell a transport's cost from a pass's position (the first pass has met slower fsyncs).
        let transports: [String: (ToolManifest) -> any HTTPTransport] = [
            "HTTPClient": { manifest in
                HTTPClient(
                    configuration: HTTPClient.Configuration(
                        maximumResponseBytes: manifest.upstream.maxResponseBytes,
                        timeout: .seconds(manifest.upstream.timeoutSeconds)))
            },
            "URLSession": { manifest in
                LazyURLSessionTransport(
                    configuration: URLSessionTransport.Configuration(
                        maximumResponseBytes: manifest.upstream.maxResponseBytes,
                        timeout: .seconds(manifest.upstream.timeoutSeconds)))
            },
            "socket": { _ in BlockingSocketTransport() },
        ]
        var passes: [Pass] = []
        for label in order {
            guard let transport = transports[label] else {
                throw BenchmarkError("--order takes HTTPClient, URLSession and socket, comma-separated")
            }
            passes.append(try await measure(base: base, count: count, label: label, transport: transport))
        }

        // The official Python client against the same server, in the same run.
        let pythonClient = try ChildProcess([python, peerScript, "client", base + "/weather", String(count)])
        let pythonData = pythonClient.receive()
        pythonClient.finish()
        let pythonStats = (try? JSONSerialization.jsonObject(with: Data(pythonData)) as? [String: Any]) ?? [:]

        let report = Report(
            passes: passes, python: pythonStats, count: count, command: command)
        FileHandle.standardOutput.write(Data((report.lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    /// Warms up, then runs `count` governed paid calls in a fresh world, each followed by its replays.
    private static func measure(
        base: String, count: Int, label: String, transport: @escaping (ToolManifest) -> any HTTPTransport
    ) async throws -> Pass {
        let world = try await GovernedWorld(base: base, calls: count + warmups, label: label, transport: transport)
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
        let cpu = processCPUMilliseconds() - cpuBefore
        let wall = milliseconds(ContinuousClock.now - wallBefore)
        let server = try await serverMilliseconds(base)
        return Pass(
            label: label, samples: samples, serverMs: server / Double(count), cpuPerCall: cpu / Double(count),
            wallPerCall: wall / Double(count))
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

/// A temporary Purser home (PurserTesting's `World`: tools manifest, Cedar policies, limits, a ledger with a
/// session, a key file) with the benchmark's policies and gates, its transport and signer behind stopwatches,
/// and a second ledger and policy store for replaying the ledger and policy steps alone.
final class GovernedWorld: Sendable {
    let world: World
    let transport: StopwatchTransport
    let signer: StopwatchSigner
    let replayLedger: Ledger
    let replaySession: PaymentSession
    let replayPolicies: PolicyStore
    let manifest: ToolManifest

    var directory: URL { world.directory }
    var pipeline: ToolCallPipeline { world.pipeline }
    var limits: LimitsConfiguration { world.limits }

    init(
        base: String, calls: Int, label: String, transport makeTransport: (ToolManifest) -> any HTTPTransport
    ) async throws {
        let agent = GovernedBenchmark.agent
        // A realistic policy set: call and pay permitted for the agent, a forbid capping each payment.
        let policy = """
            permit (principal == Agent::"\(agent)", action == Action::"call_tool", resource);
            permit (principal == Agent::"\(agent)", action == Action::"pay", resource);
            @id("pay-cap")
            forbid (principal, action == Action::"pay", resource)
            unless { context has amount && context.amount.lessThanOrEqual(decimal("0.50")) };

            """
        // Every gate is on (per call, per tool, velocity) and generous enough for every call of the run.
        let room = String(calls + 100)
        let limitsText = """
            {"assets": {"USDC": {"decimals": 6, "networks": {"\(GovernedBenchmark.network)": "\(GovernedBenchmark.usdc)"}}},
             "limits": {"USDC": {"perCall": "0.05", "perTool": {"weather": "\(room)"},
                                 "velocity": {"window": "1h", "maxPayments": \(room), "maxAmount": "\(room)"}}},
             "allow": {"networks": ["\(GovernedBenchmark.network)"], "assets": ["USDC"],
                       "payees": ["\(GovernedBenchmark.payTo)"]}}
            """
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
        let transport = StopwatchTransport(makeTransport(loaded))
        self.transport = transport

        // The ledger's cap covers every call of the run twice over; the fake chain funds every address.
        let cap = Int64(calls + 100) * 20_000
        var stopwatch: StopwatchSigner?
        world = try await World(
            budget: cap, policy: policy, manifestText: manifestText, transport: transport,
            signer: { signer in
                let timed = StopwatchSigner(signer)
                stopwatch = timed
                return timed
            }, limits: limitsText, agent: agent)
        guard let stopwatch else { throw BenchmarkError("the bench world made no signer") }
        signer = stopwatch

        replayLedger = try Ledger.open(path: world.homeDirectory.appendingPathComponent("replay.sqlite").path)
        replaySession = try await replayLedger.grantSession(
            agent: agent, asset: "USDC", decimals: 6, cap: cap, ttlMilliseconds: 3_600_000)
        replayPolicies = PolicyStore(directory: world.policiesDirectory.path)
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
                code += " (" + (result.content.first?["text"]?.stringValue ?? "") + ")"
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

    /// Removes the world's directory now (the world also removes it when it goes).
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

/// One measured pass: the samples and what was measured around them.
struct Pass {
    let label: String
    let samples: [CallSample]
    /// The peer's handler time per call (both requests), ms.
    let serverMs: Double
    /// This process's CPU time per call (all threads, replays included), ms.
    let cpuPerCall: Double
    let wallPerCall: Double
}

/// A minimal HTTP/1.1 client over a blocking loopback socket (one connection per request, on its own
/// thread). Benchmark-only: it shows the governed call without FoundationNetworking's cost, and is no
/// product transport (no TLS, no redirects, no size cap, no deadline, 127.0.0.1 only).
final class BlockingSocketTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            // A blocking read must not hold one of the cooperative pool's two threads.
            Thread { continuation.resume(with: Result { try Self.exchange(request) }) }.start()
        }
    }

    private static func exchange(_ request: HTTPRequest) throws -> HTTPResponse {
        guard request.url.host == "127.0.0.1", let port = request.url.port,
            let parts = URLComponents(url: request.url, resolvingAgainstBaseURL: false)
        else { throw HTTPTransportError(.invalidRequest, "loopback http://127.0.0.1:PORT only") }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HTTPTransportError(.cannotConnect, "socket failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw HTTPTransportError(.cannotConnect, "connect failed") }
        var noDelay: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))

        var target = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
        if let query = parts.percentEncodedQuery { target += "?" + query }
        var head = "\(request.method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for field in request.headers { head += "\(field.name): \(field.value)\r\n" }
        if !request.body.isEmpty { head += "Content-Length: \(request.body.count)\r\n" }
        let outgoing = Array((head + "\r\n").utf8) + request.body
        var offset = 0
        while offset < outgoing.count {
            let sent = outgoing[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard sent > 0 else { throw HTTPTransportError(.connectionLost, "write failed") }
            offset += sent
        }
        var incoming: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            guard count > 0 else { throw HTTPTransportError(.connectionLost, "read failed") }
            incoming += chunk[..<count]
            // Stop at the end of the message, as a client does, rather than waiting for the close.
            if isComplete(incoming) { break }
        }
        return try parse(incoming)
    }

    private static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard let end = headEnd(bytes) else { return false }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        let bodyCount = bytes.count - end - 4
        if head.contains("transfer-encoding: chunked") { return bytes.suffix(5).elementsEqual(Array("0\r\n\r\n".utf8)) }
        guard let range = head.range(of: "content-length:") else { return false }
        let digits = head[range.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)
        return Int(digits).map { bodyCount >= $0 } ?? false
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        return bytes.indices.first { bytes[$0...].starts(with: separator) }
    }

    private static func parse(_ bytes: [UInt8]) throws -> HTTPResponse {
        guard let end = headEnd(bytes) else {
            throw HTTPTransportError(.connectionLost, "no complete response head")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusWords = lines[0].split(separator: " ")
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
            throw HTTPTransportError(.other, "bad status line")
        }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(
                name: String(line[..<colon]),
                value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        var body = Array(bytes[(end + 4)...])
        if headers["Transfer-Encoding"]?.lowercased() == "chunked" {
            body = try dechunk(body)
        } else if let length = headers["Content-Length"].flatMap({ Int($0) }), length <= body.count {
            body = Array(body.prefix(length))
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// The body of a chunked transfer: hex size line, data, CRLF, until the zero chunk.
    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var body: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = bytes[index...].firstIndex(of: 10) else {
                throw HTTPTransportError(.connectionLost, "truncated chunk")
            }
            let sizeText =
                String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                .split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else {
                throw HTTPTransportError(.other, "bad chunk size")
            }
            if size == 0 { return body }
            let start = lineEnd + 1
            guard start + size <= bytes.count else { throw HTTPTransportError(.connectionLost, "truncated chunk") }
            body += bytes[start..<(start + size)]
            index = start + size + 2
            guard index <= bytes.count else { throw HTTPTransportError(.connectionLost, "truncated chunk") }
        }
    }
}

/// The printed report.
private struct Report {
    let passes: [Pass]
    let python: [String: Any]
    let count: Int
    let command: String

    var lines: [String] {
        var lines = [
            "Governed paid call: \(count) sequential calls per pass through ToolCallPipeline.call (release) against",
            "the official x402 SDK server on 127.0.0.1 (Flask middleware + x402FacilitatorSync + fake chain; every",
            "payment verified and settled). Each call: input check, Cedar call policy, 402, selection, Cedar pay",
            "policy, budget gates, durable reserve, sign + self-check, mark in doubt, paid retry, commit, receipt,",
            "audit record. Overhead = total − time inside the transport − signing (sign + self-check).",
        ]
        for pass in passes {
            let samples = pass.samples
            let totals = samples.map { $0.total }
            let number = (passes.firstIndex { $0.label == pass.label } ?? 0) + 1
            let title =
                switch pass.label {
                case "HTTPClient": "Pass \(number), the product transport (HTTPClient: POSIX sockets, poll, OpenSSL):"
                case "URLSession":
                    "Pass \(number), the transport it replaced (LazyURLSessionTransport, FoundationNetworking):"
                default: "Pass \(number), the same pipeline over a blocking loopback socket (benchmark-only transport):"
                }
            lines += [
                "",
                title,
                "                                              median      p99     mean   (ms)",
                row("  total per governed paid call", totals),
                row("    upstream (inside the transport)", samples.map { $0.upstream }),
                row("    signing (sign + self-check)", samples.map { $0.signing }),
                row("      of which the self-check", samples.map { $0.check }),
                row("    governance overhead", samples.map { $0.overhead }),
                row("    overhead with the self-check in it", samples.map { $0.overheadWithSelfCheck }),
                row("  ledger steps replayed (7 calls, 4 durable)", samples.map { $0.ledger }),
                row("  Cedar call + pay decisions replayed", samples.map { $0.policy }),
                "  server handler time per call (both requests)    mean \(f(pass.serverMs))",
                "  Purser's share, total − server                  mean \(f(mean(totals) - pass.serverMs))",
                "  this process's CPU per call (all threads)       \(f(pass.cpuPerCall)) of \(f(pass.wallPerCall)) wall",
            ]
        }
        guard let pythonMean = python["mean_ms"] as? Double, let pythonServer = python["server_mean_ms"] as? Double,
            let pythonMedian = python["p50_ms"] as? Double
        else {
            return lines + ["", "Official Python client: failed to run (is the x402 SDK in that venv?)", "", command]
        }
        lines += [
            "",
            "Official Python client (x402_requests + x402ClientSync + EthAccountSigner), ungoverned, same server:",
            "  total per paid call                             median \(f(pythonMedian))  mean \(f(pythonMean))",
            "  server handler time per call                    mean \(f(pythonServer))",
            "  client's share, total − server                  mean \(f(pythonMean - pythonServer))",
            "",
            "targets (median overhead < 1 ms; governed call faster than the Python client's bare payment):",
        ]
        for pass in passes {
            let totals = pass.samples.map { $0.total }
            let overhead = percentile(pass.samples.map { $0.overhead }, 50)
            lines += [
                "  \(pass.label.padding(toLength: 10, withPad: " ", startingAt: 0)) overhead median \(f(overhead)) ms: "
                    + verdict(overhead < 1) + "; total median \(f(percentile(totals, 50))) vs \(f(pythonMedian)) ms: "
                    + verdict(percentile(totals, 50) < pythonMedian) + "; share \(f(mean(totals) - pass.serverMs)) vs "
                    + "\(f(pythonMean - pythonServer)) ms: "
                    + verdict(mean(totals) - pass.serverMs < pythonMean - pythonServer)
            ]
        }
        return lines + ["", "reproduce: \(command)"]
    }

    private func row(_ label: String, _ values: [Double]) -> String {
        label.padding(toLength: 46, withPad: " ", startingAt: 0) + " "
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
