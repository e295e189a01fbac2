import CLinux
import Foundation

/// Cold start, warm round trips and peak memory of `purser serve`, driven over pipes like an MCP client.
struct MCPBenchmark: Benchmark {
    static let name = "mcp"
    static let summary = "cold start to first tools/list, warm tools/call round trips, peak memory of purser serve"

    static func run(_ arguments: [String]) async throws -> Int32 {
        let iterations = arguments.first.flatMap(Int.init) ?? 2000
        // `--baseline PATH`: another `purser` build (e.g. main before a change), measured in the same run.
        var baseline: String?
        if let flag = arguments.firstIndex(of: "--baseline"), flag + 1 < arguments.count {
            baseline = arguments[flag + 1]
        }
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let purser = binDirectory.appendingPathComponent("purser").path
        guard FileManager.default.isExecutableFile(atPath: purser) else {
            throw BenchmarkError("build purser first: swift build -c release --product purser")
        }
        let upstream = try LoopbackUpstream.start()
        defer { upstream.stop() }
        let tools = FileManager.default.temporaryDirectory.appendingPathComponent("purser-bench-\(getpid())")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tools) }
        let manifest = """
            {"name":"lookup","description":"Loopback lookup.","inputSchema":{"type":"object","properties":{"q":{"type":"string","minLength":1}},"required":["q"]},
             "outputSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]},
             "upstream":{"url":"http://127.0.0.1:\(upstream.port)/lookup","query":{"q":"q"}}}
            """
        try manifest.write(to: tools.appendingPathComponent("lookup.json"), atomically: true, encoding: .utf8)
        let policies = tools.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try "permit (principal, action, resource);\n".write(
            to: policies.appendingPathComponent("allow.cedar"), atomically: true, encoding: .utf8)

        var lines: [String] = []
        lines.append(
            "purser-bench mcp (release; \(iterations) sequential requests per row; command: swift build -c release --product purser && swift run -c release purser-bench mcp \(iterations)\(baseline.map { " --baseline " + $0 } ?? ""))"
        )
        var binaries = [("this build", purser)]
        if let baseline { binaries.append(("baseline \(baseline)", baseline)) }
        // Alternate the binaries so machine load drifts hit both alike.
        for (label, binary) in (baseline == nil ? binaries : binaries + binaries) {
            lines.append("")
            lines.append("\(label):")
            lines += try measure(purser: binary, tools: tools, iterations: iterations)
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }

    private static func measure(purser: String, tools: URL, iterations: Int) throws -> [String] {
        // Cold start: process launch to the first tools/list response.
        var coldStarts: [Double] = []
        for _ in 0..<20 {
            let started = DispatchTime.now().uptimeNanoseconds
            let server = try ServerProcess(purser: purser, tools: tools.path)
            server.send(
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#
            )
            server.send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            server.send(#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#)
            _ = server.receive()
            _ = server.receive()
            coldStarts.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
            server.finish()
        }

        let server = try ServerProcess(purser: purser, tools: tools.path)
        server.send(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#
        )
        _ = server.receive()
        func measure(_ line: String, count: Int) -> [Double] {
            var samples: [Double] = []
            samples.reserveCapacity(count)
            for _ in 0..<count {
                let started = DispatchTime.now().uptimeNanoseconds
                server.send(line)
                _ = server.receive()
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1000)
            }
            return samples
        }
        _ = measure(
            #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"lookup","arguments":{"q":"warm"}}}"#,
            count: 200)
        let ping = measure(#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#, count: iterations)
        let refused = measure(
            #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"lookup","arguments":{"q":""}}}"#,
            count: iterations)
        let upstreamCalls = measure(
            #"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"lookup","arguments":{"q":"x"}}}"#,
            count: iterations)
        let peakKiB = server.peakResidentKiB()
        server.finish()

        var lines: [String] = []
        lines.append(row("cold start to first tools/list (ms), 20 launches", coldStarts))
        lines.append(row("ping round trip (µs)", ping))
        lines.append(row("tools/call refused at the input check, no upstream (µs)", refused))
        lines.append(row("tools/call with loopback upstream + outputSchema (µs)", upstreamCalls))
        lines.append(
            "peak resident memory of purser serve: \(String(format: "%.1f", Double(peakKiB) / 1024)) MiB (VmHWM)")
        return lines
    }

    static func row(_ label: String, _ samples: [Double]) -> String {
        let sorted = samples.sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return
            "\(label): median \(String(format: "%.1f", percentile(0.5)))  p99 \(String(format: "%.1f", percentile(0.99)))  min \(String(format: "%.1f", sorted[0]))"
    }
}

/// A child process with pipes on stdin and stdout, spawned with posix_spawn (Foundation's Process
/// stalled here when driven from async code).
final class ChildProcess {
    let pid: pid_t
    private let stdinWrite: Int32
    private let stdoutRead: Int32
    private var buffer: [UInt8] = []

    init(_ arguments: [String]) throws {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        // Close-on-exec: only the dup2'd copies reach this child, and no end reaches another one.
        guard purser_pipe_cloexec(&toChild, 0) == 0, purser_pipe_cloexec(&fromChild, 0) == 0 else {
            throw BenchmarkError("pipe failed")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        for descriptor in toChild + fromChild { posix_spawn_file_actions_addclose(&actions, descriptor) }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        // Children start with no blocked signals and default dispositions: the calling pool thread may
        // block signals, and a child that inherits a blocked SIGTERM cannot be stopped.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        posix_spawnattr_destroy(&attributes)
        posix_spawn_file_actions_destroy(&actions)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else { throw BenchmarkError("cannot start \(arguments[0])") }
        self.pid = pid
        self.stdinWrite = toChild[1]
        self.stdoutRead = fromChild[0]
    }

    func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(stdinWrite, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            offset += written
        }
    }

    func receive() -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            let count = chunk.withUnsafeMutableBytes { read(stdoutRead, $0.baseAddress, $0.count) }
            if count <= 0 { return [] }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    func peakResidentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// Closes stdin (the MCP shutdown signal) and reaps the child.
    func finish(terminate: Bool = false) {
        if terminate { kill(pid, SIGTERM) }
        close(stdinWrite)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(stdoutRead)
    }
}

/// `purser serve` over pipes.
typealias ServerProcess = ChildProcess

extension ChildProcess {
    convenience init(purser: String, tools: String) throws {
        try self.init([purser, "serve", "--tools", tools, "--policies", tools + "/policies"])
    }
}

/// A keep-alive HTTP/1.1 upstream on 127.0.0.1, run by the system Python (test tooling, not product).
final class LoopbackUpstream {
    let port: Int
    private let child: ChildProcess

    private init(child: ChildProcess, port: Int) {
        self.child = child
        self.port = port
    }

    static func start() throws -> LoopbackUpstream {
        let script = """
            import http.server, sys, time
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                disable_nagle_algorithm = True
                def log_message(self, *a): pass
                def do_GET(self):
                    if self.path.startswith("/slow"): time.sleep(3)
                    body = b'{"ok": true}'
                    self.send_response(200); self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            http.server.ThreadingHTTPServer.request_queue_size = 128
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            sys.stdout.write(str(server.server_address[1]) + chr(10)); sys.stdout.flush()
            server.serve_forever()
            """
        let child = try ChildProcess(["python3", "-c", script])
        guard let port = Int(String(decoding: child.receive(), as: UTF8.self)) else {
            child.finish(terminate: true)
            throw BenchmarkError("the loopback upstream did not start (needs python3)")
        }
        return LoopbackUpstream(child: child, port: port)
    }

    func stop() {
        child.finish(terminate: true)
    }
}
