import Foundation
import Glibc
import Synchronization

/// A tiny HTTP/1.1 server on a loopback address for transport, signer and pipeline tests.
///
/// One thread accepts, one thread per connection answers once and closes. `@unchecked Sendable`: the
/// descriptor is written once in `init`, the request log is behind a `Mutex`.
public final class LoopbackServer: @unchecked Sendable {
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

    public let host: String
    public let port: UInt16
    private let listener: Int32
    private let handler: @Sendable (Request) -> Reply
    private let log = Mutex<[Request]>([])
    private let connectionCount = Mutex(0)

    /// How many connections the server has accepted.
    public var connections: Int { connectionCount.withLock { $0 } }

    /// Every request received, in order.
    public var requests: [Request] { log.withLock { $0 } }
    /// `http://host:port`.
    public var baseURL: URL { URL(string: "http://\(host):\(port)")! }

    /// Listens on `host` (a loopback IPv4 address) at a port the kernel picks; `handler` answers each request.
    public init(host: String = "127.0.0.1", handler: @escaping @Sendable (Request) -> Reply) throws {
        self.host = host
        self.handler = handler
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        self.listener = descriptor
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private let stopped = Mutex(false)

    /// Stops accepting. Only `shutdown` here: the accept loop closes the descriptor when it exits, so the
    /// number cannot be reused by another test's socket while that loop may still call `accept` on it
    /// (which once made this server answer a parallel test's request).
    public func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit { stop() }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            if stopped.withLock({ $0 }) {
                close(connection)
                return
            }
            connectionCount.withLock { $0 += 1 }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
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
