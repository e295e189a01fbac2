import EVMSigning
import Foundation
import HTTPClient
import Purser
import Synchronization
import X402

/// `purser-bench x402`: the full pay round trip (402 → select → sign → retry → settlement) against the
/// official x402 SDK server on loopback, beside the official Python client paying the same server.
///
/// The client's own share is reported three ways: total minus the server's measured handler time,
/// total minus the time spent inside the transport, and the client steps alone against an in-memory
/// transport (parse, select, build, sign, recover-check, encode, classify).
struct X402Benchmark: Benchmark {
    static let name = "x402"
    static let summary = "x402 pay round trip vs the official Python client, and the client's own share"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var count = 200
        var python = (ProcessInfo.processInfo.environment["PURSER_VENV"] ?? ".venv") + "/bin/python"
        var peerScript = "Tests/Interop/x402/bench_peer.py"
        var index = 0
        while index + 1 < arguments.count {
            switch arguments[index] {
            case "--count": count = Int(arguments[index + 1]) ?? count
            case "--python": python = arguments[index + 1]
            case "--peer": peerScript = arguments[index + 1]
            default: break
            }
            index += 2
        }
        let command = "swift run -c release purser-bench x402 --count \(count) --python \(python)"

        // The official SDK server (Flask middleware, real facilitator, fake chain) on 127.0.0.1.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: python)
        server.arguments = [peerScript, "serve"]
        let input = Pipe()
        let output = Pipe()
        server.standardInput = input
        server.standardOutput = output
        try server.run()
        defer {
            try? input.fileHandleForWriting.close()
            server.waitUntilExit()
        }
        guard let base = readLine(output.fileHandleForReading), let url = URL(string: base + "/weather") else {
            throw X402Error(.configuration, "the peer did not start")
        }

        let key = [UInt8](repeating: 0x05, count: 32)
        let signer = try KeyFileSigner(privateKey: key)
        let timing = TimingTransport(HTTPClient())
        let client = X402Client(transport: timing, signer: signer)
        let policy = SelectionPolicy(
            allowedAssets: [AllowedAsset(chainId: 84532, address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e")!],
            maximumAmount: AtomicAmount("1000000")!)

        for _ in 0..<5 { try await payOnce(client, url, policy) }
        _ = try await fetch(URL(string: base + "/_stats/reset")!)
        timing.reset()
        var totals: [Double] = []
        for _ in 0..<count {
            let started = ContinuousClock.now
            try await payOnce(client, url, policy)
            totals.append(milliseconds(ContinuousClock.now - started))
        }
        let transportMs = timing.total / Double(count)
        let serverMs = try await serverMean(base, count)

        // The client steps alone: the same 402 and settlement, replayed from memory.
        let canned = try await cannedResponses(url)
        let memory = X402Client(transport: CannedTransport(canned), signer: signer)
        var steps: [Double] = []
        for _ in 0..<count {
            let started = ContinuousClock.now
            guard case .paid = await memory.pay(HTTPRequest(url: url), policy: policy) else {
                throw X402Error(.invalidState, "in-memory exchange did not pay")
            }
            steps.append(milliseconds(ContinuousClock.now - started))
        }
        let typedData = try await sampleTypedData(signer)
        var signing: [Double] = []
        for _ in 0..<count {
            let started = ContinuousClock.now
            _ = try await SignatureCheck.verified(typedData, by: signer)
            signing.append(milliseconds(ContinuousClock.now - started))
        }

        // The official Python client against the same server, in the same run.
        let pythonClient = Process()
        pythonClient.executableURL = URL(fileURLWithPath: python)
        pythonClient.arguments = [peerScript, "client", url.absoluteString, String(count)]
        let pythonOutput = Pipe()
        pythonClient.standardOutput = pythonOutput
        try pythonClient.run()
        let pythonData = pythonOutput.fileHandleForReading.readDataToEndOfFile()
        pythonClient.waitUntilExit()
        let pythonStats =
            (try? JSONSerialization.jsonObject(with: pythonData) as? [String: Any]) ?? [:]

        let mean = totals.reduce(0, +) / Double(totals.count)
        var lines = [
            "x402 pay round trip, \(count) sequential paid GETs against the official x402 SDK server on 127.0.0.1",
            "(Flask middleware + x402FacilitatorSync + fake chain; every payment verified and settled)",
            "",
            "Purser X402Client (release, HTTPClient, pure-Swift secp256k1):",
            "  total per paid call      mean \(f(mean)) ms  p50 \(f(percentile(totals, 50))) ms  p99 \(f(percentile(totals, 99))) ms",
            "  server handler time      mean \(f(serverMs)) ms (both requests of the call)",
            "  client share (total − server)     \(f(mean - serverMs)) ms",
            "  client share (total − transport)  \(f(mean - transportMs)) ms",
            "  client steps alone, in memory     mean \(f(average(steps))) ms  p50 \(f(percentile(steps, 50))) ms",
            "    of which sign + recover-check   mean \(f(average(signing))) ms",
        ]
        if let pythonMean = pythonStats["mean_ms"] as? Double,
            let pythonServer = pythonStats["server_mean_ms"] as? Double
        {
            lines += [
                "",
                "Official Python client (x402_requests + x402ClientSync + EthAccountSigner), same server, same run:",
                "  total per paid call      mean \(f(pythonMean)) ms  p50 \(f(pythonStats["p50_ms"] as? Double ?? 0)) ms",
                "  server handler time      mean \(f(pythonServer)) ms",
                "  client share (total − server)     \(f(pythonMean - pythonServer)) ms",
            ]
        } else {
            lines += ["", "Official Python client: failed to run (\(String(decoding: pythonData, as: UTF8.self)))"]
        }
        lines += ["", "reproduce: \(command)"]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    private static func payOnce(_ client: X402Client, _ url: URL, _ policy: SelectionPolicy) async throws {
        let outcome = await client.pay(HTTPRequest(url: url), policy: policy)
        guard case .paid = outcome else { throw X402Error(.invalidState, "payment did not settle: \(outcome)") }
    }

    private static func fetch(_ url: URL) async throws -> HTTPResponse {
        try await HTTPClient().send(HTTPRequest(url: url))
    }

    private static func serverMean(_ base: String, _ count: Int) async throws -> Double {
        let response = try await fetch(URL(string: base + "/_stats")!)
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let total = (object?["total_ns"] as? NSNumber)?.doubleValue ?? 0
        return total / 1e6 / Double(count)
    }

    /// One real 402 and one real paid 200 from the peer, for the in-memory run.
    private static func cannedResponses(_ url: URL) async throws -> [HTTPResponse] {
        let first = try await fetch(url)
        let settlement = HTTPResponse(
            status: 200,
            headers: [
                "PAYMENT-RESPONSE": Base64.encode(
                    Array(#"{"success": true, "transaction": "0x01", "network": "eip155:84532"}"#.utf8))
            ], body: Array(#"{"report":{}}"#.utf8))
        return [first, settlement]
    }

    private static func sampleTypedData(_ signer: KeyFileSigner) async throws -> TransferTypedData {
        TransferTypedData(
            domain: EIP712Domain(
                name: "USDC", version: "2", chainID: UInt256(84532),
                verifyingContract: EthereumAddress(hex: "0x036CbD53842c5426634e7929541eC2318f3dCF7e")!),
            message: TransferAuthorization(
                from: EIP3009Crypto.checksummed(signer.address.bytes), to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
                value: AtomicAmount("10000")!, validAfter: 0, validBefore: 1_900_000_000,
                nonce: [UInt8](repeating: 0x11, count: 32)))
    }

    private static func readLine(_ handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        while true {
            let chunk = handle.readData(ofLength: 1)
            guard let byte = chunk.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    private static func average(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }

    private static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((p / 100) * Double(sorted.count - 1)))]
    }

    private static func f(_ value: Double) -> String { String(format: "%.3f", value) }
}

/// Wraps a transport and adds up the time spent inside it.
private final class TimingTransport: HTTPTransport {
    private let inner: any HTTPTransport
    private let elapsed = Mutex<Double>(0)

    init(_ inner: any HTTPTransport) { self.inner = inner }

    var total: Double { elapsed.withLock { $0 } }
    func reset() { elapsed.withLock { $0 = 0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        defer {
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            let ms = Double(seconds) * 1000 + Double(attoseconds) / 1e15
            elapsed.withLock { $0 += ms }
        }
        return try await inner.send(request)
    }
}

/// Answers unpaid requests with the recorded 402 and paid ones with the recorded settlement.
private struct CannedTransport: HTTPTransport {
    let responses: [HTTPResponse]
    init(_ responses: [HTTPResponse]) { self.responses = responses }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        request.headers["PAYMENT-SIGNATURE"] == nil ? responses[0] : responses[1]
    }
}
