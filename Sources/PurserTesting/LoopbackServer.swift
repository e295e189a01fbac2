public import Foundation
import Glibc
import Synchronization

/// A tiny HTTP/1.1 server on a loopback address for transport, signer and pipeline tests.
///
/// One thread accepts, one thread per connection answers (once, or again while replies keep it alive)
/// and closes (`LoopbackListener`). The request log is behind a `Mutex`.
public final class LoopbackServer: Sendable {
    /// One request as received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// The first header named `name`, case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// What the handler answers.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// Seconds to wait before answering.
        public var delay: Double
        /// Bytes of body to stream in chunks (for size caps), instead of `body`.
        public var streamedBytes: Int
        /// Bytes sent verbatim instead of a generated response (for framing tests).
        public var raw: [UInt8]?
        /// Keep the connection open and answer the next request on it (no `Connection: close`).
        public var keepAlive: Bool

        /// Creates a reply; every field but the status has a default.
        public init(
            status: Int, headers: [(String, String)] = [], body: [UInt8] = [], delay: Double = 0,
            streamedBytes: Int = 0, raw: [UInt8]? = nil, keepAlive: Bool = false
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
            self.streamedBytes = streamedBytes
            self.raw = raw
            self.keepAlive = keepAlive
        }
    }

    /// The address listened on.
    public var host: String { listener.host }
    /// The port the kernel picked.
    public var port: UInt16 { listener.port }
    private let listener: LoopbackListener
    private let handler: @Sendable (Request) -> Reply
    private let log = Mutex<[Request]>([])

    /// How many connections the server has accepted.
    public var connections: Int { listener.accepted }

    /// Every request received, in order.
    public var requests: [Request] { log.withLock { $0 } }
    /// `http://host:port`.
    public var baseURL: URL { URL(string: "http://\(host):\(port)")! }

    /// Listens on `host` (a loopback IPv4 address) at a port the kernel picks; `handler` answers each request.
    public init(host: String = "127.0.0.1", handler: @escaping @Sendable (Request) -> Reply) throws {
        self.handler = handler
        listener = try LoopbackListener(host: host)
        listener.start { [self] connection in serve(connection) }
    }

    /// Stops accepting (see `LoopbackListener.stop`).
    public func stop() { listener.stop() }

    private func serve(_ connection: Int32) {
        while answer(connection) {}
    }

    /// Answers one request; true when the connection stays open for another.
    private func answer(_ connection: Int32) -> Bool {
        guard let request = readRequest(connection) else { return false }
        log.withLock { $0.append(request) }
        let reply = handler(request)
        if reply.delay > 0 { Thread.sleep(forTimeInterval: reply.delay) }
        if let raw = reply.raw {
            return writeAll(connection, raw) && reply.keepAlive
        }
        var head = "HTTP/1.1 \(reply.status) X\r\n" + (reply.keepAlive ? "" : "Connection: close\r\n")
        for (name, value) in reply.headers { head += "\(name): \(value)\r\n" }
        let length = reply.streamedBytes > 0 ? reply.streamedBytes : reply.body.count
        head += "Content-Length: \(length)\r\n\r\n"
        guard writeAll(connection, Array(head.utf8)) else { return false }
        if reply.streamedBytes > 0 {
            let chunk = [UInt8](repeating: 0x61, count: 16 * 1024)
            var sent = 0
            while sent < reply.streamedBytes {
                let size = min(chunk.count, reply.streamedBytes - sent)
                guard writeAll(connection, Array(chunk[0..<size])) else { return false }
                sent += size
            }
        } else {
            guard writeAll(connection, reply.body) else { return false }
        }
        return reply.keepAlive
    }

    private func writeAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    private func readRequest(_ connection: Int32) -> Request? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        var headerEnd: Int?
        while headerEnd == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<count])
            if let range = find(buffer, Array("\r\n\r\n".utf8)) { headerEnd = range }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let contentLength = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        var body = Array(buffer[(headerEnd! + 4)...])
        while body.count < contentLength {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            body.append(contentsOf: chunk[0..<count])
        }
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body)
    }

    private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
