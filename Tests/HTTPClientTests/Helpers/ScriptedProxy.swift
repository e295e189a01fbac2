import Foundation
import Glibc
import PurserTesting
import Synchronization

/// A loopback stand-in for a forward proxy that answers `CONNECT` as a test scripts it, records each
/// request head, and keeps the bytes the client sends into an accepted tunnel (the TLS ClientHello meant
/// for the origin) instead of relaying them, so a test can see what would have reached the origin.
///
/// The socket and its threads are a `LoopbackListener`'s; the logs are behind `Mutex`es.
final class ScriptedProxy: Sendable {
    struct Answer: Sendable {
        /// Bytes written after the request head; nil writes nothing and holds the connection open.
        var raw: [UInt8]?
        /// After `raw`, read what the client sends next (until it stops or 2 s pass) into `tunnelBytes`.
        var captureTunnel = false

        static func status(_ code: Int, _ extra: String = "") -> Answer {
            Answer(raw: Array("HTTP/1.1 \(code) Scripted\r\n\(extra)Content-Length: 0\r\n\r\n".utf8))
        }
    }

    var port: UInt16 { listener.port }
    private let listener: LoopbackListener
    private let handler: @Sendable (String) -> Answer
    private let heads = Mutex<[String]>([])
    private let captured = Mutex<[UInt8]>([])

    /// The request heads received (request line and fields, without the final blank line).
    var requests: [String] { heads.withLock { $0 } }
    /// What the client wrote into accepted tunnels.
    var tunnelBytes: [UInt8] { captured.withLock { $0 } }

    init(handler: @escaping @Sendable (String) -> Answer) throws {
        self.handler = handler
        listener = try LoopbackListener(backlog: 16)
        listener.start { [self] connection in serve(connection) }
    }

    /// The proxy URL, with `credentials` ("user:password", already percent-encoded) when given.
    func url(credentials: String? = nil) -> String {
        "http://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)"
    }

    func stop() { listener.stop() }

    private func serve(_ connection: Int32) {
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
