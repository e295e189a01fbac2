import Foundation
import HTTPClient
import X402

/// `purser-interop http-fetch --url URL [options]`: requests through `HTTPClient`, one JSON line per
/// request on stdout (`status`, `body_length`, `body_sha_prefix`, `headers`, or `error` and `message`), then
/// a summary line with the peak resident memory (`vmhwm_kib`), so the suites can check that a refused body
/// was not buffered.
///
/// Options: `--ca-file PATH` (trust only this CA), `--timeout-ms N`, `--first-byte-ms N`, `--max-body N`,
/// `--max-header N`, `--repeat N`, `--method M`, `--body TEXT`, `--header NAME:VALUE` (repeatable),
/// `--cancel-after-ms N`, `--proxy-loopback 1` (loopback origins go through the proxy too, so the suites can
/// put a real proxy in front of their loopback servers). Proxies come from the environment (`HTTPS_PROXY`,
/// `HTTP_PROXY`, `NO_PROXY`), read as the product reads them.
struct HTTPTool: InteropTool {
    static let name = "http-fetch"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var options: [String: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            guard word.hasPrefix("--"), index + 1 < arguments.count else {
                throw HTTPTransportError(.invalidRequest, "unexpected argument \(word)")
            }
            options[String(word.dropFirst(2)), default: []].append(arguments[index + 1])
            index += 2
        }
        func number(_ key: String) -> Int? { options[key]?.first.flatMap { Int($0) } }
        guard let urlText = options["url"]?.first, let url = URL(string: urlText) else {
            throw HTTPTransportError(.invalidRequest, "--url is required")
        }
        var configuration = HTTPClient.Configuration(trustedCertificatesFile: options["ca-file"]?.first)
        if let value = number("timeout-ms") { configuration.timeout = .milliseconds(value) }
        if let value = number("first-byte-ms") { configuration.firstByteTimeout = .milliseconds(value) }
        if let value = number("max-body") { configuration.maximumResponseBytes = value }
        if let value = number("max-header") { configuration.maximumHeaderBytes = value }
        if options["proxy-loopback"]?.first == "1" { configuration.proxy.bypassesLoopback = false }
        let client = HTTPClient(configuration: configuration)
        var headers = HTTPHeaders()
        for field in options["header"] ?? [] {
            let parts = field.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw HTTPTransportError(.invalidRequest, "--header must be NAME:VALUE") }
            headers.add(name: parts[0], value: parts[1])
        }
        let request = HTTPRequest(
            method: options["method"]?.first ?? "GET", url: url, headers: headers,
            body: Array((options["body"]?.first ?? "").utf8))
        for _ in 0..<(number("repeat") ?? 1) {
            let started = ContinuousClock.now
            var line: [String: Any] = [:]
            do {
                let task = Task { try await client.send(request) }
                if let cancelAfter = number("cancel-after-ms") {
                    Task {
                        try await Task.sleep(for: .milliseconds(cancelAfter))
                        task.cancel()
                    }
                }
                let response = try await task.value
                var fields: [String: String] = [:]
                for field in response.headers { fields[field.name.lowercased()] = field.value }
                line["status"] = response.status
                line["body_length"] = response.body.count
                line["body_prefix"] = String(decoding: response.body.prefix(64), as: UTF8.self)
                line["headers"] = fields
            } catch let error as HTTPTransportError {
                line["error"] = error.code.name
                line["message"] = error.message
                line["definitely_not_sent"] = error.code.definitelyNotSent
            }
            let elapsed = ContinuousClock.now - started
            line["elapsed_ms"] = Int(
                elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            line["idle_connections"] = client.idleConnections(to: url)
            try emit(line)
        }
        try emit(["vmhwm_kib": peakResidentKiB()])
        return 0
    }

    private static func emit(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    private static func peakResidentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        return -1
    }
}
