import Foundation
import JSONCore
import Ledger

/// Reserve+commit throughput and latency with full durability (WAL, synchronous=FULL, BEGIN IMMEDIATE),
/// for 1 and for 4 processes sharing one session. Workers are this executable re-run with `--worker`.
///
/// `--postgres URL` adds the same rows on a PostgreSQL ledger in the same run (password from PGPASSWORD or
/// ~/.pgpass; use a throwaway database: the benchmark leaves its sessions there), for each of
/// `--postgres-modes lock,serializable` (default `lock`, the writer lock the ledger uses).
struct LedgerBenchmark: Benchmark {
    static let name = "ledger"
    static let summary = "reserve+commit latency and throughput, 1 and 4 processes (full durability)"

    static let limits = LimitsConfiguration(
        assets: [
            "USDC": .init(
                symbol: "USDC", decimals: 6, contracts: ["eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"])
        ],
        allowedNetworks: ["eip155:84532"], allowedAssets: ["USDC"], allowedPayees: .any)

    static func run(_ arguments: [String]) async throws -> Int32 {
        if arguments.first == "--worker" { return try await worker(Array(arguments.dropFirst())) }
        var operations = 1000
        var processCounts = [1, 4]
        var postgres: String?
        var postgresModes = ["lock"]
        var index = 0
        while index < arguments.count {
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch arguments[index] {
            case "--operations": operations = Int(value) ?? operations
            case "--processes": processCounts = value.split(separator: ",").compactMap { Int($0) }
            case "--postgres": postgres = value
            case "--postgres-modes": postgresModes = value.split(separator: ",").map(String.init)
            default: throw BenchmarkError("unknown option \(arguments[index])")
            }
            index += 2
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "purser-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        var lines = [
            "ledger: reserve+commit with full durability (WAL, synchronous=FULL, BEGIN IMMEDIATE), one shared session",
            "command: swift run -c release purser-bench ledger --operations \(operations) --processes "
                + processCounts.map { String($0) }.joined(separator: ",")
                + (postgres == nil ? "" : " --postgres URL --postgres-modes " + postgresModes.joined(separator: ",")),
            "",
            "backend                    processes  ops/process  total ops  throughput (ops/s)  median (ms)  p99 (ms)  max (ms)",
        ]
        var runs: [(backend: String, mode: String, processes: Int)] = processCounts.map { ("sqlite", "lock", $0) }
        if postgres != nil {
            for mode in postgresModes {
                guard mode == "lock" || mode == "serializable" else {
                    throw BenchmarkError("--postgres-modes takes lock and serializable")
                }
                runs += processCounts.map { ("postgres", mode, $0) }
            }
        }
        for run in runs {
            let processes = run.processes
            let path =
                run.backend == "postgres"
                ? postgres ?? "" : directory.appendingPathComponent("ledger-\(processes).sqlite").path
            let session = try await Ledger.open(path: path).grantSession(
                agent: "bench", asset: "USDC", decimals: 6, cap: Int64.max / 4, ttlMilliseconds: 86_400_000)
            let executable = URL(fileURLWithPath: CommandLine.arguments[0])
            var children: [(Process, Pipe)] = []
            for _ in 0..<processes {
                let process = Process()
                let pipe = Pipe()
                process.executableURL = executable
                process.arguments = [
                    name, "--worker", path, session.id, String(operations), run.mode,
                ]
                process.standardOutput = pipe
                try process.run()
                children.append((process, pipe))
            }
            var latencies: [Int64] = []
            var starts: [Int64] = []
            var ends: [Int64] = []
            var failed = 0
            for (process, pipe) in children {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                // A serializable worker gives up after its retries (`.busy`): that is a result to show
                // (the row says how many gave up), not a reason to stop measuring.
                guard process.terminationStatus == 0, let result = try? JSONParser.parse(Array(data)) else {
                    failed += 1
                    continue
                }
                latencies += result["latencies"]?.arrayValue?.compactMap { $0.int64Value } ?? []
                starts.append(result["start"]?.int64Value ?? 0)
                ends.append(result["end"]?.int64Value ?? 0)
            }
            latencies.sort()
            guard !latencies.isEmpty else { throw BenchmarkError("every worker failed") }
            let total = latencies.count
            let seconds = Double((ends.max() ?? 0) - (starts.min() ?? 0)) / 1e9
            let throughput = Int((Double(total) / seconds).rounded())
            func ms(_ nanoseconds: Int64) -> String { String(format: "%.3f", Double(nanoseconds) / 1e6) }
            let p50 = latencies[(latencies.count - 1) / 2]
            let p99 = latencies[min(latencies.count - 1, (latencies.count * 99 + 99) / 100 - 1)]
            let backend =
                run.backend == "sqlite" ? "sqlite" : "postgres (\(run.mode == "lock" ? "writer lock" : "serializable"))"
            let columns = [
                backend, String(processes), String(operations), String(total), String(throughput), ms(p50), ms(p99),
                ms(latencies.last ?? 0),
            ]
            let widths = [-25, 9, 11, 9, 18, 11, 8, 8]
            let note = failed == 0 ? "" : "  (\(failed) of \(processes) workers gave up: busy after retries)"
            lines.append(
                zip(columns, widths).map { column, width in
                    width < 0
                        ? column + String(repeating: " ", count: max(0, -width - column.count))
                        : String(repeating: " ", count: max(0, width - column.count)) + column
                }.joined(separator: "  ") + note)
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    /// One worker: `operations` reserve+commit pairs; prints its latencies (ns) and its start and end
    /// (CLOCK_MONOTONIC ns, comparable across processes on one machine).
    private static func worker(_ arguments: [String]) async throws -> Int32 {
        guard arguments.count == 4, let operations = Int(arguments[2]) else {
            throw BenchmarkError("bad worker arguments")
        }
        let ledger = try Ledger.open(
            path: arguments[0],
            configuration: .init(postgresConcurrency: arguments[3] == "serializable" ? .serializable : .writerLock))
        let session = arguments[1]
        var latencies: [JSONValue] = []
        latencies.reserveCapacity(operations)
        let start = monotonicNanoseconds()
        for operation in 0..<operations {
            let begin = monotonicNanoseconds()
            let request = ReservationRequest(
                sessionID: session, agent: "bench", tool: "bench", payee: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
                network: "eip155:84532", asset: "USDC", amount: 1_000, purpose: "bench",
                argumentsDigest: "op-\(operation)")
            guard case .reserved(let reservation, _) = try await ledger.reserve(request, limits: limits),
                case .applied = try await ledger.commit(
                    reservation.id, settledAmount: 1_000, transaction: "0xbench", payer: "0xpayer")
            else { throw BenchmarkError("reserve+commit did not apply") }
            latencies.append(.number(JSONNumber(monotonicNanoseconds() - begin)))
        }
        let end = monotonicNanoseconds()
        let result: JSONValue = [
            "start": .number(JSONNumber(start)), "end": .number(JSONNumber(end)), "latencies": .array(latencies),
        ]
        // The parent reads this from a pipe; if it has gone (interrupted, crashed), the write fails with
        // EPIPE (SIGPIPE is ignored). `write(_: Data)` traps on that; there is nobody left to tell, so the
        // worker exits with a status of its own instead of crashing.
        do {
            try FileHandle.standardOutput.write(contentsOf: Data(result.serialized().utf8))
        } catch {
            return workerOutputLost
        }
        return 0
    }

    /// The worker's exit status when its results could not be written (EX_IOERR).
    static let workerOutputLost: Int32 = 74

    private static func monotonicNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
