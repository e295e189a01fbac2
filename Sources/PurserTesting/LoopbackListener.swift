import CLinux
import Foundation
import Glibc
import Synchronization

/// A listening TCP socket on a loopback IPv4 address at a port the kernel picks, with one thread that
/// accepts and one thread per accepted connection: the part every loopback test server shares.
///
/// `@unchecked Sendable`: the descriptor is written once in `init`; the flags are behind `Mutex`es.
public final class LoopbackListener: @unchecked Sendable {
    /// The address listened on.
    public let host: String
    /// The port the kernel picked.
    public let port: UInt16
    private let descriptor: Int32
    private let stopped = Mutex(false)
    private let acceptedCount = Mutex(0)

    /// How many connections have been accepted.
    public var accepted: Int { acceptedCount.withLock { $0 } }

    /// Binds and listens; nothing is accepted until `start`.
    /// - Throws: `POSIXError` when no socket can be made or the address cannot be bound.
    public init(host: String = "127.0.0.1", backlog: Int32 = 64) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
        guard bound == 0, listen(descriptor, backlog) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.host = host
        self.port = UInt16(bigEndian: actual.sin_port)
        self.descriptor = descriptor
    }

    /// Starts the accept thread; `serve` runs on its own thread for each connection and must not close it
    /// (the listener closes it when `serve` returns).
    public func start(_ serve: @escaping @Sendable (Int32) -> Void) {
        Thread { [self] in acceptLoop(serve) }.start()
    }

    /// Stops accepting. Only `shutdown` here: the accept loop closes the descriptor when it exits, so the
    /// number cannot be reused by another test's socket while that loop may still call `accept` on it
    /// (which once made a test server answer a parallel test's request).
    public func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    deinit { stop() }

    private func acceptLoop(_ serve: @escaping @Sendable (Int32) -> Void) {
        defer { close(descriptor) }
        while true {
            let connection = purser_accept_cloexec(descriptor)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            if stopped.withLock({ $0 }) {
                close(connection)
                return
            }
            acceptedCount.withLock { $0 += 1 }
            Thread {
                defer { close(connection) }
                serve(connection)
            }.start()
        }
    }
}
