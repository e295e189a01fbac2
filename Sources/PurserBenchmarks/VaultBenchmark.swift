import Foundation

/// What the vault's socket hop adds to a warm `tools/call`: the same requests to `purser serve` in
/// single-user mode and to `purser serve --vault` in front of `purser vault run`, in the same run.
struct VaultBenchmark: Benchmark {
    static let name = "vault"
    static let summary = "warm tools/call: single-user serve vs serve --vault → vault (the socket hop)"

    static func run(_ arguments: [String]) async throws -> Int32 {
        let iterations = arguments.first.flatMap(Int.init) ?? 2000
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let purser = binDirectory.appendingPathComponent("purser").path
        guard FileManager.default.isExecutableFile(atPath: purser) else {
            throw BenchmarkError("build purser first: swift build -c release --product purser")
        }
        let upstream = try LoopbackUpstream.start()
        defer { upstream.stop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("purser-bench-vault-\(getpid())")
        let tools = root.appendingPathComponent("tools")
        let policies = root.appendingPathComponent("policies")
        let home = root.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: home.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: root) }
        let manifest = """
            {"name":"lookup","description":"Loopback lookup.","inputSchema":{"type":"object","properties":{"q":{"type":"string","minLength":1}},"required":["q"]},
             "upstream":{"url":"http://127.0.0.1:\(upstream.port)/lookup","query":{"q":"q"}}}
            """
        try manifest.write(to: tools.appendingPathComponent("lookup.json"), atomically: true, encoding: .utf8)
        try "permit (principal, action, resource);\n".write(
            to: policies.appendingPathComponent("allow.cedar"), atomically: true, encoding: .utf8)
        // This user may act as the default agent.
        try #"{"version":1,"users":{"uid:\#(getuid())":["default"]}}"#.write(
            to: home.appendingPathComponent("agents.json"), atomically: true, encoding: .utf8)
        let socket = root.appendingPathComponent("vault.sock").path

        let vault = try ChildProcess([
            purser, "vault", "run", "--home", home.path, "--socket", socket, "--tools", tools.path, "--policies",
            policies.path,
        ])
        defer { vault.finish(terminate: true) }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: socket) {
            guard Date() < deadline else { throw BenchmarkError("the vault did not start listening") }
            try await Task.sleep(for: .milliseconds(20))
        }

        let single = try ChildProcess([
            // The same home (and so the same ledger) as the vault: the two differ by the socket hop only.
            purser, "serve", "--tools", tools.path, "--policies", policies.path, "--home", home.path,
        ])
        let front = try ChildProcess([purser, "serve", "--vault", socket])
        let initialize =
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#
        for server in [single, front] {
            server.send(initialize)
            _ = server.receive()
        }
        var nextID = 100
        func measure(_ server: ChildProcess, _ line: String, count: Int) -> [Double] {
            var samples: [Double] = []
            samples.reserveCapacity(count)
            for _ in 0..<count {
                // A fresh id per request: reusing one can race the server's bookkeeping of the previous request
                // ("request id … is already in use"), which would time an error instead of the call.
                nextID += 1
                let request = line.replacingOccurrences(of: "\"id\":0,", with: "\"id\":\(nextID),")
                let started = DispatchTime.now().uptimeNanoseconds
                server.send(request)
                let response = String(decoding: server.receive(), as: UTF8.self)
                // Time only what was meant: a refused call must be an isError result, an upstream call a success.
                let refusedCall = line.contains("\"q\":\"\"")
                if refusedCall != response.contains("\"isError\":true") || response.contains("\"error\":{") {
                    FileHandle.standardError.write(Data("purser-bench vault: unexpected response: \(response)\n".utf8))
                    exit(1)
                }
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1000)
            }
            return samples
        }
        let refused =
            #"{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"name":"lookup","arguments":{"q":""}}}"#
        let upstreamCall =
            #"{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"name":"lookup","arguments":{"q":"x"}}}"#
        for server in [single, front] {
            _ = measure(server, upstreamCall, count: 200)
        }
        // Interleaved in blocks so both modes see the same machine load.
        var results: [String: [Double]] = [:]
        let block = max(1, iterations / 10)
        for _ in 0..<10 {
            results["single refused", default: []] += measure(single, refused, count: block)
            results["vault refused", default: []] += measure(front, refused, count: block)
            results["single upstream", default: []] += measure(single, upstreamCall, count: block)
            results["vault upstream", default: []] += measure(front, upstreamCall, count: block)
        }
        // The front was spawned after `single` and inherited its stdin pipe (ChildProcess does not mark pipes
        // close-on-exec): only once the front has exited does `single` see end of input.
        front.finish()
        single.finish()

        func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }
        var lines = [
            "purser-bench vault (release; \(block * 10) sequential requests per row, interleaved; command: swift build -c release --product purser --product purser-bench && .build/release/purser-bench vault \(iterations))"
        ]
        for (label, key) in [
            ("single-user serve, tools/call refused at the input check (µs)", "single refused"),
            ("serve --vault → vault, tools/call refused at the input check (µs)", "vault refused"),
            ("single-user serve, tools/call with loopback upstream (µs)", "single upstream"),
            ("serve --vault → vault, tools/call with loopback upstream (µs)", "vault upstream"),
        ] {
            lines.append(MCPBenchmark.row(label, results[key]!))
        }
        lines.append(
            String(
                format: "socket hop (difference of medians): %.1f µs (refused call), %.1f µs (upstream call)",
                median(results["vault refused"]!) - median(results["single refused"]!),
                median(results["vault upstream"]!) - median(results["single upstream"]!)))
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        return 0
    }
}
