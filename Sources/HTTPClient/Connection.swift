import COpenSSL
import Glibc
import X402

/// One TCP connection (IPv4 or IPv6), plain or TLS, with non-blocking I/O that waits in `poll`.
///
/// `@unchecked Sendable`: a connection belongs to one request thread at a time, or to the pool under
/// its lock; it is never used from two threads at once.
final class Connection: @unchecked Sendable {
    let descriptor: Int32
    private var tls: OpaquePointer?
    /// When the connection was last returned to the pool.
    var idleSince = Deadline(milliseconds: 0)
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    private var closed = false

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let tls {
            SSL_free(tls)
            self.tls = nil
        }
        _ = Glibc.close(descriptor)
    }

    // MARK: Opening

    /// Resolves `host`, connects to the first address that answers, and runs the TLS handshake when
    /// `tls` is given. Every failure here happens before a request byte is sent: `cannotConnect`.
    /// `role` ("the proxy ") prefixes the host in error messages.
    static func open(
        host: String, port: Int, tls: TLSContext?, wait: Wait, role: String = ""
    ) throws(HTTPFailure) -> Connection {
        let addresses = try resolve(host: host, port: port, role: role)
        var lastProblem = "no address"
        var connection: Connection?
        for address in addresses {
            switch connect(address, wait: wait) {
            case .success(let opened):
                connection = opened
            case .failure(let failure):
                if failure.code != .cannotConnect { throw failure }
                lastProblem = failure.message
            }
            if connection != nil { break }
        }
        guard let connection else {
            throw HTTPFailure(.cannotConnect, "could not connect to \(role)\(host) port \(port): \(lastProblem)")
        }
        if let tls {
            do {
                try connection.handshake(context: tls, host: host, wait: wait)
            } catch {
                connection.close()
                throw error
            }
        }
        return connection
    }

    private struct Address {
        var family: Int32
        var bytes: [UInt8]
    }

    private static func resolve(host: String, port: Int, role: String) throws(HTTPFailure) -> [Address] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = String(cString: gai_strerror(status))
            throw HTTPFailure(.cannotConnect, "could not resolve \(role)\(host): \(reason)")
        }
        defer { freeaddrinfo(first) }
        var addresses: [Address] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let raw = entry.pointee.ai_addr {
                let bytes = UnsafeRawBufferPointer(start: raw, count: Int(entry.pointee.ai_addrlen))
                addresses.append(Address(family: entry.pointee.ai_family, bytes: Array(bytes)))
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }

    private static func connect(_ address: Address, wait: Wait) -> Result<Connection, HTTPFailure> {
        let descriptor = socket(
            address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0)
        guard descriptor >= 0 else {
            return .failure(HTTPFailure(.cannotConnect, "socket: \(describe(errno))"))
        }
        let connection = Connection(descriptor: descriptor)
        let started = address.bytes.withUnsafeBytes { raw in
            Glibc.connect(
                descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if started != 0 && errno != EINPROGRESS {
            return .failure(HTTPFailure(.cannotConnect, describe(errno)))
        }
        if started != 0 {
            do {
                try connection.wait(for: Int16(POLLOUT), wait)
            } catch {
                return .failure(error)
            }
            var problem: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &problem, &length)
            if problem != 0 {
                return .failure(HTTPFailure(.cannotConnect, describe(problem)))
            }
        }
        // Requests are written in one piece; Nagle would only delay a small body behind its head.
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return .success(connection)
    }

    func handshake(context: TLSContext, host: String, wait connectWait: Wait) throws(HTTPFailure) {
        var wait = connectWait
        wait.onTimeout = HTTPFailure(.cannotConnect, "TLS handshake with \(host) did not finish in time")
        ERR_clear_error()
        guard let tls = SSL_new(context.context) else {
            throw HTTPFailure(.cannotConnect, "could not create a TLS session: \(TLSContext.lastError())")
        }
        self.tls = tls
        SSL_set_fd(tls, descriptor)
        if Self.isIPAddress(host) {
            // Certificates name IP addresses in iPAddress SANs; SNI must not carry a literal address.
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls), host)
        } else {
            _ = purser_ssl_set_sni(tls, host)
            SSL_set_hostflags(tls, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard SSL_set1_host(tls, host) == 1 else {
                throw HTTPFailure(.cannotConnect, "could not set the TLS host name \(host)")
            }
        }
        SSL_set_verify(tls, SSL_VERIFY_PEER, nil)
        while true {
            let result = SSL_connect(tls)
            if result == 1 { break }
            let problem = SSL_get_error(tls, result)
            switch problem {
            case SSL_ERROR_WANT_READ:
                try self.wait(for: Int16(POLLIN), wait)
            case SSL_ERROR_WANT_WRITE:
                try self.wait(for: Int16(POLLOUT), wait)
            default:
                let verification = SSL_get_verify_result(tls)
                if verification != X509_V_OK {
                    let reason = String(cString: X509_verify_cert_error_string(verification))
                    ERR_clear_error()
                    throw HTTPFailure(
                        .cannotConnect, "TLS certificate of \(host) refused: \(reason) (X509 error \(verification))")
                }
                throw HTTPFailure(.cannotConnect, "TLS handshake with \(host) failed: \(TLSContext.lastError())")
            }
        }
        // Belt and braces: SSL_VERIFY_PEER already fails the handshake on a bad chain or name.
        guard SSL_get_verify_result(tls) == X509_V_OK else {
            throw HTTPFailure(.cannotConnect, "TLS certificate of \(host) was not verified")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    // MARK: Waiting

    /// Sleeps in `poll` until the socket is ready for `events`, the deadline passes, or the request is
    /// cancelled. A waiting request costs no CPU.
    func wait(for events: Int16, _ wait: Wait) throws(HTTPFailure) {
        while true {
            if wait.cancellation.isCancelled { throw HTTPFailure(.cancelled, "the request was cancelled") }
            let remaining = wait.deadline.remaining
            if remaining == 0 { throw wait.onTimeout }
            var descriptors = [
                pollfd(fd: descriptor, events: events, revents: 0),
                pollfd(fd: wait.cancellation.readDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, remaining)
            if ready < 0 {
                if errno == EINTR { continue }
                throw HTTPFailure(.other, "poll: \(Self.describe(errno))")
            }
            if descriptors[1].revents != 0 { throw HTTPFailure(.cancelled, "the request was cancelled") }
            // Errors and hang-ups are reported by the read or write that follows.
            if descriptors[0].revents != 0 { return }
        }
    }

    /// True when an idle connection has nothing to read: the server has not closed it or sent junk.
    var looksIdle: Bool {
        if let tls, SSL_pending(tls) > 0 { return false }
        var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    // MARK: Reading and writing

    /// Writes all of `bytes`; `written` counts what the kernel accepted (0 means nothing left this host).
    func write(_ bytes: [UInt8], written: inout Int, _ wait: Wait) throws(HTTPFailure) {
        while written < bytes.count {
            let count = min(bytes.count - written, 1 << 20)
            if let tls {
                ERR_clear_error()
                let result = bytes.withUnsafeBytes { SSL_write(tls, $0.baseAddress! + written, Int32(count)) }
                if result > 0 {
                    written += Int(result)
                    continue
                }
                switch SSL_get_error(tls, result) {
                case SSL_ERROR_WANT_READ: try self.wait(for: Int16(POLLIN), wait)
                case SSL_ERROR_WANT_WRITE: try self.wait(for: Int16(POLLOUT), wait)
                default:
                    throw HTTPFailure(
                        .connectionLost, "the TLS connection broke while sending: \(TLSContext.lastError())")
                }
            } else {
                let result = bytes.withUnsafeBytes {
                    send(descriptor, $0.baseAddress! + written, count, Int32(MSG_NOSIGNAL))
                }
                if result >= 0 {
                    written += result
                    continue
                }
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: try self.wait(for: Int16(POLLOUT), wait)
                default:
                    throw HTTPFailure(.connectionLost, "the connection broke while sending: \(Self.describe(errno))")
                }
            }
        }
    }

    /// Reads what is available (waiting if nothing is) and appends it to `buffer`; returns the count,
    /// 0 at a clean end of stream.
    func read(into buffer: inout [UInt8], _ wait: Wait) throws(HTTPFailure) -> Int {
        while true {
            if let tls {
                ERR_clear_error()
                let result = scratch.withUnsafeMutableBytes { SSL_read(tls, $0.baseAddress!, Int32($0.count)) }
                if result > 0 {
                    buffer.append(contentsOf: scratch[0..<Int(result)])
                    return Int(result)
                }
                let problem = SSL_get_error(tls, result)
                switch problem {
                case SSL_ERROR_WANT_READ: try self.wait(for: Int16(POLLIN), wait)
                case SSL_ERROR_WANT_WRITE: try self.wait(for: Int16(POLLOUT), wait)
                case SSL_ERROR_ZERO_RETURN: return 0
                default:
                    // Includes an end of stream without close_notify (a possible truncation).
                    throw HTTPFailure(
                        .connectionLost, "the TLS connection broke while receiving: \(TLSContext.lastError())")
                }
            } else {
                let result = scratch.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
                if result > 0 {
                    buffer.append(contentsOf: scratch[0..<result])
                    return result
                }
                if result == 0 { return 0 }
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: try self.wait(for: Int16(POLLIN), wait)
                default:
                    throw HTTPFailure(.connectionLost, "the connection broke while receiving: \(Self.describe(errno))")
                }
            }
        }
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
