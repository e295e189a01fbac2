import Foundation
import Glibc
import Synchronization

/// A loopback stand-in for a forward proxy that answers `CONNECT` as a test scripts it, records each
/// request head, and keeps the bytes the client sends into an accepted tunnel (the TLS ClientHello meant
/// for the origin) instead of relaying them, so a test can see what would have reached the origin.
///
/// `@unchecked Sendable`: the descriptor is written once in `init`; the logs are behind `Mutex`es.
final class ScriptedProxy: @unchecked Sendable {
    struct Answer: Sendable {
        /// Bytes written after the request head; nil writes nothing and holds the connection open.
        var raw: [UInt8]?
        /// After `raw`, read what the client sends next (until it stops or 2 s pass) into `tunnelBytes`.
        var captureTunnel = false

        static func status(_ code: Int, _ extra: String = "") -> Answer {
            Answer(raw: Array("HTTP/1.1 \(code) Scripted\r\n\(extra)Content-Length: 0\r\n\r\n".utf8))
        }
    }

    let port: UInt16
    private let listener: Int32
    private let handler: @Sendable (String) -> Answer
    private let heads = Mutex<[String]>([])
    private let captured = Mutex<[UInt8]>([])
    private let stopped = Mutex(false)

    /// The request heads received (request line and fields, without the final blank line).
    var requests: [String] { heads.withLock { $0 } }
    /// What the client wrote into accepted tunnels.
    var tunnelBytes: [UInt8] { captured.withLock { $0 } }

    init(handler: @escaping @Sendable (String) -> Answer) throws {
        self.handler = handler
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = UInt16(bigEndian: actual.sin_port)
        listener = descriptor
        Thread { [self] in acceptLoop() }.start()
    }

    /// The proxy URL, with `credentials` ("user:password", already percent-encoded) when given.
    func url(credentials: String? = nil) -> String {
        "http://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)"
    }

    func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { shutdown(listener, Int32(SHUT_RDWR)) }
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
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while !buffer.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
            let count = recv(connection, &chunk, 1, 0)  // byte by byte: nothing past the head is consumed
            if count <= 0 { return }
            buffer.append(chunk[0])
        }
        heads.withLock { $0.append(String(decoding: buffer.dropLast(4), as: UTF8.self)) }
        let answer = handler(String(decoding: buffer.dropLast(4), as: UTF8.self))
        guard let raw = answer.raw else {
            // Hold the connection without answering until the client gives up.
            while recv(connection, &chunk, chunk.count, 0) > 0 {}
            return
        }
        _ = raw.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard answer.captureTunnel else { return }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { break }
            captured.withLock { $0.append(contentsOf: chunk[0..<count]) }
            // Stop once one whole TLS record (the ClientHello) has arrived; closing then fails the
            // client's handshake.
            let bytes = captured.withLock { $0 }
            if bytes.count >= 5 && bytes.count >= 5 + (Int(bytes[3]) << 8 | Int(bytes[4])) { break }
        }
    }
}
