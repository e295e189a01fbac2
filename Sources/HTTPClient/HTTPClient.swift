public import FoundationEssentials
import Glibc
import POSIXThread
public import X402

typealias HTTPFailure = HTTPTransportError

/// The product's HTTP/1.1 client, for every outgoing request (upstream tools, 402 retries, remote
/// signers, chain nodes): POSIX sockets, `poll`, and TLS through the system OpenSSL.
///
/// Guarantees the payment code relies on:
/// - **A waiting request costs no CPU.** Each request runs on its own small POSIX thread that sleeps in
///   `poll` (never on the cooperative pool); cancellation wakes it through a pipe.
/// - **No redirects are followed.** A 3xx comes back as a response (same-origin following, where wanted,
///   is the caller's decision), so payment headers never travel to another host.
/// - **Bounded size.** Head and body are capped while they stream; a larger announced Content-Length is
///   refused before its body is read. Past the caps: `HTTPTransportError.tooLarge`.
/// - **Bounded time.** Connect, first-byte and total deadlines, each giving a classified error.
/// - **Verified TLS.** TLS 1.2+, the peer's chain checked against the system trust store (or an injected
///   CA file), host name (or IP address) checked, SNI sent.
/// - **Classified failures.** `HTTPTransportError.Code.definitelyNotSent` separates "never left this
///   machine" (connect and TLS failures before any attempt wrote a byte) from "may have arrived". Once
///   a byte of the request has left, every failure of it is "may have arrived".
/// - **A payment is sent at most once.** A request with an x402 payment header (`PAYMENT-SIGNATURE`,
///   `X-PAYMENT`) is never retried automatically; other requests are retried once on a fresh
///   connection when a reused one fails before anything was sent (GET/HEAD also before any response).
///
/// Keep-alive connections are reused per origin and proxy, at most `maximumIdleConnectionsPerOrigin` idle
/// ones. Proxies (`HTTPS_PROXY` through a `CONNECT` tunnel, `HTTP_PROXY`, `NO_PROXY`) are described in
/// `ProxyConfiguration`; the configuration reads the environment once, the client never does.
public final class HTTPClient: HTTPTransport {
    /// Limits, deadlines, pool and trust settings.
    public struct Configuration: Sendable {
        /// The longest response body accepted, in bytes.
        public var maximumResponseBytes: Int
        /// The longest response head (status line and fields) accepted, in bytes.
        public var maximumHeaderBytes: Int
        /// The deadline for a whole exchange (connect, send, receive).
        public var timeout: Duration
        /// The deadline for resolving, connecting and the TLS handshake (never longer than `timeout`).
        public var connectTimeout: Duration
        /// The deadline from the request's last byte to the response's first one, if shorter than `timeout`.
        public var firstByteTimeout: Duration?
        /// Idle keep-alive connections kept per origin (0 disables reuse).
        public var maximumIdleConnectionsPerOrigin: Int
        /// How long an idle connection is kept; below common server keep-alive timeouts (uvicorn's 5 s).
        public var idleTimeout: Duration
        /// A PEM file of CA certificates to trust instead of the system store (tests, private CAs).
        public var trustedCertificatesFile: String?
        /// Which requests go through which proxy; by default this process's environment, read once.
        public var proxy: ProxyConfiguration

        /// Creates a configuration.
        public init(
            maximumResponseBytes: Int = 10 * 1024 * 1024, maximumHeaderBytes: Int = 64 * 1024,
            timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(10),
            firstByteTimeout: Duration? = nil, maximumIdleConnectionsPerOrigin: Int = 4,
            idleTimeout: Duration = .seconds(4), trustedCertificatesFile: String? = nil,
            proxy: ProxyConfiguration = .processEnvironment
        ) {
            self.maximumResponseBytes = maximumResponseBytes
            self.maximumHeaderBytes = maximumHeaderBytes
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.firstByteTimeout = firstByteTimeout
            self.maximumIdleConnectionsPerOrigin = maximumIdleConnectionsPerOrigin
            self.idleTimeout = idleTimeout
            self.trustedCertificatesFile = trustedCertificatesFile
            self.proxy = proxy
        }
    }

    /// The settings in use.
    public let configuration: Configuration
    private let pool: ConnectionPool

    /// Creates a client with its own connection pool; nothing is opened until the first request.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.pool = ConnectionPool(
            maximumPerOrigin: configuration.maximumIdleConnectionsPerOrigin, idleTimeout: configuration.idleTimeout)
        _ = Self.ignoreBrokenPipes
    }

    /// OpenSSL writes to sockets with `write(2)`, so a peer that resets would raise SIGPIPE and kill the
    /// process; the error is handled as `connectionLost` instead.
    private static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Idle connections held for `url`'s origin, through the proxy it would use (for tests of keep-alive reuse).
    public func idleConnections(to url: URL) -> Int {
        do throws(HTTPFailure) {
            let target = try Target(url)
            let proxy = try configuration.proxy.proxy(for: target)  // nil: a direct connection
            return pool.idleCount(target.origin(configuration.trustedCertificatesFile, via: proxy))
        } catch {
            return 0
        }
    }

    /// Sends `request` and returns the response, whatever its status (3xx included).
    ///
    /// - Throws: `HTTPTransportError` (`invalidRequest`, `cannotConnect`, `timeout`, `tooLarge`,
    ///   `connectionLost`, `cancelled`, `other`).
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let prepared = try PreparedRequest(request, proxies: configuration.proxy)
        if Task.isCancelled { throw HTTPFailure(.cancelled, "the request was cancelled") }
        let cancellation = try Cancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                do throws(POSIXThread.StartError) {
                    // The request blocks in `poll` on its own thread: a call waiting minutes for a slow upstream
                    // costs a sleeping thread, no CPU. OpenSSL's handshake and our parser need well under 512 KiB
                    // of stack (the default 8 MiB is only address space).
                    try POSIXThread.detach(stackSize: 512 * 1024) {
                        let result = self.perform(prepared, cancellation)
                        cancellation.close()
                        continuation.resume(with: result.mapError { $0 as any Error })
                    }
                } catch {
                    cancellation.close()
                    continuation.resume(throwing: HTTPFailure(.cannotConnect, error.message))
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    // MARK: On the request thread

    private func perform(_ prepared: PreparedRequest, _ cancellation: Cancellation) -> Result<HTTPResponse, HTTPFailure>
    {
        do throws(HTTPFailure) {
            return .success(try exchange(prepared, cancellation))
        } catch {
            return .failure(error)
        }
    }

    private func exchange(_ prepared: PreparedRequest, _ cancellation: Cancellation) throws(HTTPFailure) -> HTTPResponse
    {
        let timeout = configuration.timeout
        let total = Wait(
            deadline: Deadline.after(timeout),
            onTimeout: HTTPFailure(.timeout, "no complete response within \(timeout)"), cancellation: cancellation)
        let trustFile = configuration.trustedCertificatesFile
        let tls = prepared.target.secure ? try TLSContext.shared(caFile: trustFile) : nil
        let origin = prepared.target.origin(trustFile, via: prepared.proxy)

        // Once any attempt has handed a byte of the request to the kernel, the server may have it: from
        // then on no failure of this request may say "definitely not sent" (a payment would be released
        // as never delivered while its signature is out).
        var requestLeft = false
        do throws(HTTPFailure) {
            var attempt = 0
            while true {
                attempt += 1
                // The retry always opens a new connection: another pooled one may be as stale as the first.
                // A request carrying a payment never takes a pooled connection: one the server (or a proxy
                // such as tinyproxy, which closes after every response without saying so) closed a moment
                // ago would lose the signature in flight and leave the payment in doubt, and it is never
                // retried. A fresh connection costs one handshake per paid call; the pool stays for the rest.
                let pooled = attempt == 1 && !prepared.carriesPayment ? pool.checkOut(origin) : nil
                let connection: Connection
                if let pooled {
                    connection = pooled
                } else {
                    // Each attempt gets its own connect deadline, within the request's total one: a retry
                    // after a slow first attempt must not find its deadline already past.
                    let connectWait = Wait(
                        deadline: min(total.deadline, Deadline.after(configuration.connectTimeout)),
                        onTimeout: HTTPFailure(
                            .cannotConnect,
                            "could not connect to \(prepared.target.host) port \(prepared.target.port) in time"),
                        cancellation: cancellation)
                    connection = try open(prepared, tls: tls, wait: connectWait)
                }
                // A reused connection the server closed a moment ago fails before anything is processed:
                // retried once on a fresh one when nothing left this host, or for a GET/HEAD (RFC 9112
                // §9.3.1). Never a request carrying a payment: sending a signature again is the x402
                // client's decision, not the transport's.
                let mayRetry = pooled != nil && attempt == 1 && !prepared.carriesPayment
                var written = 0
                do {
                    defer { if written > 0 { requestLeft = true } }
                    try connection.write(prepared.bytes, written: &written, total)
                } catch {
                    connection.close()
                    if mayRetry && written == 0 && error.code == .connectionLost { continue }
                    throw error
                }
                var firstByte = total
                if let limit = configuration.firstByteTimeout {
                    let deadline = Deadline.after(limit)
                    if deadline < total.deadline {
                        firstByte = Wait(
                            deadline: deadline, onTimeout: HTTPFailure(.timeout, "no response began within \(limit)"),
                            cancellation: cancellation)
                    }
                }
                var reader = ResponseReader(
                    connection: connection, maximumHeaderBytes: configuration.maximumHeaderBytes,
                    maximumBodyBytes: configuration.maximumResponseBytes, firstByte: firstByte, total: total)
                let outcome: ResponseReader.Outcome
                do {
                    outcome = try reader.read(method: prepared.method)
                } catch {
                    connection.close()
                    if mayRetry && prepared.idempotent && !reader.receivedAny && error.code == .connectionLost {
                        continue
                    }
                    throw error
                }
                if outcome.reusable {
                    pool.checkIn(connection, origin)
                } else {
                    connection.close()
                }
                if let proxy = prepared.proxy, !prepared.target.secure, let authorization = proxy.authorization {
                    return ProxyCredentialScrubber(authorization: authorization).scrub(outcome.response)
                }
                return outcome.response
            }
        } catch {
            guard requestLeft && error.code.definitelyNotSent else { throw error }
            throw HTTPFailure(
                .connectionLost,
                "the request was sent, then its connection failed and a retry could not be made (\(error.message)); "
                    + "the server may have received it")
        }
    }
}

extension HTTPClient {
    /// A new connection for `prepared`: to the origin, to its HTTP proxy, or through its proxy's
    /// `CONNECT` tunnel with TLS to the origin. Everything here happens before a byte of the request.
    private func open(_ prepared: PreparedRequest, tls: TLSContext?, wait: Wait) throws(HTTPFailure) -> Connection {
        let target = prepared.target
        guard let proxy = prepared.proxy else {
            return try Connection.open(host: target.host, port: target.port, tls: tls, wait: wait)
        }
        if let tls {
            return try Connection.openTunnel(
                through: proxy, to: target, tls: tls, maximumHeaderBytes: configuration.maximumHeaderBytes,
                wait: wait)
        }
        var proxyWait = wait
        proxyWait.onTimeout = HTTPFailure(.cannotConnect, "could not connect to the \(proxy) in time")
        return try Connection.open(host: proxy.host, port: proxy.port, tls: nil, wait: proxyWait, role: "the proxy ")
    }
}

/// Where a request goes: scheme, host (without IPv6 brackets) and port.
struct Target: Sendable {
    var secure: Bool
    var host: String
    var port: Int

    init(_ url: URL) throws(HTTPFailure) {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw HTTPFailure(.invalidRequest, "only http and https URLs are sent")
        }
        guard var host = url.host, !host.isEmpty else {
            throw HTTPFailure(.invalidRequest, "the URL has no host")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw HTTPFailure(.invalidRequest, "the URL's host is not usable")
        }
        secure = scheme == "https"
        host = host.lowercased()
        self.host = host
        let port = url.port ?? (secure ? 443 : 80)
        guard port > 0 && port < 65536 else { throw HTTPFailure(.invalidRequest, "the URL's port is out of range") }
        self.port = port
    }

    /// The Host field: the name (IPv6 in brackets), with the port unless it is the scheme's default.
    var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// `host:port` with the port always present, as a `CONNECT` request names its target.
    var hostAndPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The pool key: connections are shared only for the same scheme, host, port, trust store and proxy.
    func origin(_ trustFile: String?, via proxy: ProxyEndpoint?) -> String {
        "\(secure ? "https" : "http")://\(authority)#\(trustFile ?? "")#\(proxy?.authority ?? "direct")"
    }
}

/// A validated request, already serialized: nothing of it is sent unless every check passes.
struct PreparedRequest: Sendable {
    let target: Target
    /// The proxy the request goes through, or nil for a direct connection.
    let proxy: ProxyEndpoint?
    let method: String
    let idempotent: Bool
    /// Whether the request carries an x402 payment header (either version's, in any case).
    let carriesPayment: Bool
    let bytes: [UInt8]

    /// The x402 payment header names, lower-cased.
    private static let paymentFields = Set([X402Version.v1, .v2].map { $0.paymentHeader.lowercased() })

    /// Fields the client writes itself; a caller's value could desynchronise framing.
    /// `Proxy-Authorization` carries the configured proxy's credentials and nothing else.
    private static let managed = ["host", "content-length", "transfer-encoding", "connection", "proxy-authorization"]

    init(_ request: HTTPRequest, proxies: ProxyConfiguration) throws(HTTPFailure) {
        target = try Target(request.url)
        guard request.url.user == nil && request.url.password == nil else {
            throw HTTPFailure(.invalidRequest, "credentials in the URL are not sent")
        }
        guard !request.method.isEmpty, request.method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPFailure(.invalidRequest, "the method is not a token")
        }
        method = request.method
        idempotent = method == "GET" || method == "HEAD"
        carriesPayment = request.headers.contains { Self.paymentFields.contains($0.name.lowercased()) }
        guard let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false) else {
            throw HTTPFailure(.invalidRequest, "the URL is not usable")
        }
        var path = components.percentEncodedPath
        if path.isEmpty { path = "/" }
        if let query = components.percentEncodedQuery { path += "?" + query }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPFailure(.invalidRequest, "the URL's path is not usable")
        }
        proxy = try proxies.proxy(for: target)
        // Through a tunnel the origin sees an ordinary request; a plain-HTTP proxy needs the absolute form
        // (RFC 9112 §3.2.2) and is the only party the credentials go to.
        var head: String
        if let proxy, !target.secure {
            head = "\(method) http://\(target.authority)\(path) HTTP/1.1\r\nHost: \(target.authority)\r\n"
            if let authorization = proxy.authorization { head += "Proxy-Authorization: \(authorization)\r\n" }
        } else {
            head = "\(method) \(path) HTTP/1.1\r\nHost: \(target.authority)\r\n"
        }
        for field in request.headers {
            // Header injection: CR, LF or NUL in a name or value would split the request.
            guard !field.name.isEmpty, !Self.hasLineBreak(field.name), !Self.hasLineBreak(field.value),
                field.name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") })
            else {
                throw HTTPFailure(.invalidRequest, "a header name or value contains a line break")
            }
            guard !Self.managed.contains(field.name.lowercased()) else {
                throw HTTPFailure(.invalidRequest, "the \(field.name) field is set by the client")
            }
            head += "\(field.name): \(field.value)\r\n"
        }
        // Some APIs refuse requests without these (GitHub's needs a User-Agent); libcurl sent both before.
        if request.headers["User-Agent"] == nil { head += "User-Agent: purser\r\n" }
        if request.headers["Accept"] == nil { head += "Accept: */*\r\n" }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
            head += "Content-Length: \(request.body.count)\r\n"
        }
        head += "\r\n"
        bytes = Array(head.utf8) + request.body
    }

    private static func hasLineBreak(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }
}
