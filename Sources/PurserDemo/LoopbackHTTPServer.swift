import CLinux
import Dispatch
import FoundationEssentials
import Glibc
import POSIXThread
import Synchronization
public import X402

/// One parsed HTTP/1.1 request, as the demo server hands it to its handler.
public struct DemoHTTPRequest: Sendable {
    /// The method, e.g. `GET` (case-sensitive, as RFC 9110 says).
    public let method: String
    /// The request target exactly as received (origin form: path and optional query).
    public let target: String
    /// The path part of the target, still percent-encoded.
    public let path: String
    /// The query part of the target (after `?`), still percent-encoded; nil when there is none.
    public let query: String?
    /// The header fields in order; lookups ignore case.
    public let headers: HTTPHeaders
    /// The body (`Content-Length` bytes; empty when there is none).
    public let body: [UInt8]

    /// Creates a request (the server does this; tests may too).
    public init(method: String, target: String, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.target = target
        if let mark = target.firstIndex(of: "?") {
            self.path = String(target[..<mark])
            self.query = String(target[target.index(after: mark)...])
        } else {
            self.path = target
            self.query = nil
        }
        self.headers = headers
        self.body = body
    }

    /// The query as decoded name/value pairs (`+` is a space, `%XX` a byte, UTF-8 required), in order;
    /// nil when a pair is malformed, so callers can refuse it rather than guess.
    public var queryItems: [(name: String, value: String)]? {
        guard let query, !query.isEmpty else { return [] }
        var items: [(name: String, value: String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusIsSpace: true), !name.isEmpty else { return nil }
            let value = parts.count == 2 ? PercentDecoding.decode(parts[1], plusIsSpace: true) : ""
            guard let value else { return nil }
            items.append((name: name, value: value))
        }
        return items
    }
}

/// One HTTP response from a demo handler. The server adds `Content-Length` and `Connection` itself.
public struct DemoHTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The header fields (any `Content-Length`, `Transfer-Encoding` or `Connection` given here is replaced).
    public var headers: HTTPHeaders
    /// The body.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why the demo server could not start.
public struct DemoServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable failure category.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// The socket could not be created or configured.
        public static let socket = Code("socket")
        /// The address could not be bound (port in use, not permitted).
        public static let bind = Code("bind")
        /// The socket could not listen.
        public static let listen = Code("listen")

        public var description: String { name }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What went wrong, in words.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 for the demo's stand-in upstream and its tests.
///
/// What it does: keep-alive (HTTP/1.1 default, `Connection: close` honoured), `Content-Length` bodies,
/// `Expect: 100-continue`, bounded header and body sizes, an idle timeout, a connection cap. What it
/// refuses: chunked or any other transfer coding (501), oversized heads (431) and bodies (413), malformed
/// requests (400), other HTTP versions (505). No TLS, no pipelining guarantees beyond in-order answers.
///
/// Threads, never the cooperative pool: one thread accepts, one thread per connection reads a request,
/// calls the handler synchronously and writes the answer. `stop()` shuts every socket down and waits for
/// those threads to end.
public final class LoopbackHTTPServer: Sendable {
    /// Limits and the port.
    public struct Configuration: Sendable {
        /// The port to bind on 127.0.0.1; 0 asks the kernel for an ephemeral port.
        public var port: UInt16
        /// The largest request head (request line and header fields) read.
        public var maximumHeaderBytes: Int
        /// The largest request body read.
        public var maximumBodyBytes: Int
        /// Connections served at once; more are answered 503 and closed.
        public var maximumConnections: Int
        /// Seconds a connection may stay silent (between or inside requests) before it is closed.
        public var idleTimeoutSeconds: Int

        /// Creates a configuration.
        public init(
            port: UInt16 = 0, maximumHeaderBytes: Int = 16 * 1024, maximumBodyBytes: Int = 1024 * 1024,
            maximumConnections: Int = 64, idleTimeoutSeconds: Int = 30
        ) {
            self.port = port
            self.maximumHeaderBytes = maximumHeaderBytes
            self.maximumBodyBytes = maximumBodyBytes
            self.maximumConnections = maximumConnections
            self.idleTimeoutSeconds = idleTimeoutSeconds
        }
    }

    private struct State {
        var stopped = false
        /// Open connection descriptors. A descriptor leaves this set (under the lock) before it is closed,
        /// so `stop()` never shuts down a number the kernel has already handed to someone else.
        var connections: Set<Int32> = []
    }

    /// The bound port.
    public let port: Int
    /// The settings in use.
    public let configuration: Configuration
    private let listener: Int32
    private let handler: @Sendable (DemoHTTPRequest) -> DemoHTTPResponse
    private let state = Mutex(State())
    private let threads = DispatchGroup()

    /// Binds 127.0.0.1 and starts accepting.
    ///
    /// - Throws: `DemoServerError` (`socket`, `bind`, `listen`); nothing is left open after a throw.
    public init(
        configuration: Configuration = Configuration(),
        handler: @escaping @Sendable (DemoHTTPRequest) -> DemoHTTPResponse
    ) throws(DemoServerError) {
        self.configuration = configuration
        self.handler = handler
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw DemoServerError(.socket, "socket() failed (errno \(errno))") }
        var one: Int32 = 1
        guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            close(descriptor)
            throw DemoServerError(.socket, "SO_REUSEADDR failed (errno \(errno))")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian  // 127.0.0.1 and nothing else, ever
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw DemoServerError(.bind, "cannot bind 127.0.0.1:\(configuration.port) (errno \(code))")
        }
        guard listen(descriptor, 128) == 0 else {
            let code = errno
            close(descriptor)
            throw DemoServerError(.listen, "listen() failed (errno \(code))")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else {
            let code = errno
            close(descriptor)
            throw DemoServerError(.socket, "getsockname() failed (errno \(code))")
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.listener = descriptor
        threads.enter()
        do {
            try POSIXThread.detach { [self] in
                acceptLoop()
                close(listener)
                threads.leave()
            }
        } catch {
            threads.leave()
            close(descriptor)
            throw DemoServerError(.socket, error.message)
        }
    }

    /// Stops accepting, shuts down every open connection, and waits (up to 5 s) for the server's threads
    /// to finish. Safe to call more than once.
    public func stop() {
        let first = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.stopped = true
            // Wakes the accept() and recv() calls; each thread then closes its own descriptor.
            shutdown(listener, Int32(SHUT_RDWR))
            for connection in state.connections { shutdown(connection, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        _ = threads.wait(timeout: .now() + .seconds(5))
    }

    deinit { stop() }

    // MARK: Accepting

    private func acceptLoop() {
        while true {
            // Close-on-exec from birth (accept4): a connection is never inherited by a spawned command.
            let connection = purser_accept_cloexec(listener)
            if connection < 0 {
                let code = errno
                if state.withLock({ $0.stopped }) { return }
                if code == EINTR || code == ECONNABORTED { continue }
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    usleep(50_000)
                    continue
                }
                return
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.connections.count < configuration.maximumConnections else { return false }
                state.connections.insert(connection)
                return true
            }
            guard admitted else {
                _ = Self.writeAll(connection, Self.head(status: 503, fields: [], bodyLength: 0, close: true))
                close(connection)
                continue
            }
            configure(connection)
            threads.enter()
            do {
                try POSIXThread.detach { [self] in
                    serve(connection)
                    state.withLock { _ = $0.connections.remove(connection) }
                    close(connection)
                    threads.leave()
                }
            } catch {
                // Out of threads: this connection is dropped, the server keeps accepting.
                state.withLock { _ = $0.connections.remove(connection) }
                close(connection)
                threads.leave()
            }
        }
    }

    private func configure(_ connection: Int32) {
        var one: Int32 = 1
        _ = setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: configuration.idleTimeoutSeconds, tv_usec: 0)
        _ = setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    // MARK: Serving one connection

    private func serve(_ connection: Int32) {
        var reader = RequestReader(connection: connection, configuration: configuration)
        while true {
            switch reader.next() {
            case .closed:
                return
            case .refused(let status, let message):
                let body = Array("{\"error\":\"\(message)\"}".utf8)
                let fields = [(name: "Content-Type", value: "application/json")]
                _ = Self.writeAll(
                    connection, Self.head(status: status, fields: fields, bodyLength: body.count, close: true) + body)
                Self.lingeringClose(connection)
                return
            case .request(let request, let keepAlive):
                var response = handler(request)
                if !Self.isSafe(response) {
                    response = DemoHTTPResponse(status: 500)
                }
                let close = !keepAlive || state.withLock { $0.stopped }
                let fields = response.headers.fields.filter { field in
                    !["content-length", "transfer-encoding", "connection"].contains(field.name.lowercased())
                }
                let bytes =
                    Self.head(status: response.status, fields: fields, bodyLength: response.body.count, close: close)
                    + response.body
                guard Self.writeAll(connection, bytes), !close else { return }
            }
        }
    }

    /// A handler's status must be a three-digit code and its fields must not smuggle line breaks.
    private static func isSafe(_ response: DemoHTTPResponse) -> Bool {
        guard (100...999).contains(response.status) else { return false }
        return response.headers.fields.allSatisfy { field in
            !field.name.isEmpty && field.name.utf8.allSatisfy(HTTPSyntax.isTokenByte)
                && field.value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
        }
    }

    static func head(status: Int, fields: [(name: String, value: String)], bodyLength: Int, close: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(HTTPSyntax.reason(status))\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        text += "Content-Length: \(bodyLength)\r\n"
        if close { text += "Connection: close\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Half-closes and drains what the peer still sends (bounded), so closing with unread bytes does not
    /// turn into a TCP reset that could destroy the answer before the peer reads it.
    private static func lingeringClose(_ connection: Int32) {
        shutdown(connection, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var drained = 0
        while drained < 1024 * 1024 {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            drained += count
        }
    }

    static func writeAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}

/// Reads requests off one connection, keeping bytes that arrived early for the next request.
private struct RequestReader {
    enum Outcome {
        /// The peer closed, went silent past the idle timeout, or the socket failed: close quietly.
        case closed
        /// Answer with this status and close (the stream can no longer be trusted to be in sync).
        case refused(Int, String)
        /// A complete request; `keepAlive` says whether the connection may carry another.
        case request(DemoHTTPRequest, keepAlive: Bool)
    }

    let connection: Int32
    let configuration: LoopbackHTTPServer.Configuration
    private var buffer: [UInt8] = []

    init(connection: Int32, configuration: LoopbackHTTPServer.Configuration) {
        self.connection = connection
        self.configuration = configuration
    }

    mutating func next() -> Outcome {
        // The head: up to the first CRLF CRLF, within the size limit.
        var searchFrom = 0
        var headEnd: Int?
        while true {
            if let end = Self.findTerminator(buffer, from: searchFrom) {
                headEnd = end
                break
            }
            searchFrom = max(0, buffer.count - 3)
            if buffer.count > configuration.maximumHeaderBytes {
                return .refused(431, "request header fields too large")
            }
            guard receive() else { return .closed }
        }
        guard let headEnd else { return .closed }
        guard headEnd <= configuration.maximumHeaderBytes else {
            return .refused(431, "request header fields too large")
        }
        let head = Array(buffer[0..<headEnd])
        buffer.removeFirst(headEnd + 4)

        let parsed: ParsedHead
        switch ParsedHead.parse(head) {
        case .success(let value): parsed = value
        case .failure(let refusal): return .refused(refusal.status, refusal.message)
        }

        // The body: Content-Length bytes only; any transfer coding is refused.
        if !parsed.headers.values(for: "Transfer-Encoding").isEmpty {
            return .refused(501, "transfer codings are not supported; send Content-Length")
        }
        let lengths = parsed.headers.values(for: "Content-Length")
        var bodyLength = 0
        if !lengths.isEmpty {
            guard Set(lengths).count == 1, let length = HTTPSyntax.contentLength(lengths[0]) else {
                return .refused(400, "invalid Content-Length")
            }
            bodyLength = length
        }
        guard bodyLength <= configuration.maximumBodyBytes else {
            return .refused(413, "request body too large")
        }
        if bodyLength > buffer.count, let expect = parsed.headers["Expect"] {
            guard expect.lowercased() == "100-continue" else { return .refused(417, "unsupported expectation") }
            guard LoopbackHTTPServer.writeAll(connection, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else {
                return .closed
            }
        }
        while buffer.count < bodyLength {
            guard receive() else { return .closed }
        }
        let body = Array(buffer[0..<bodyLength])
        buffer.removeFirst(bodyLength)

        let tokens = parsed.headers.values(for: "Connection").flatMap { value in
            value.split(separator: ",").map { token in
                // Optional whitespace around list elements (RFC 9110 §5.6.1).
                let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
                return String(token.drop(while: isSpace).reversed().drop(while: isSpace).reversed()).lowercased()
            }
        }
        let keepAlive = parsed.version == "HTTP/1.1" ? !tokens.contains("close") : tokens.contains("keep-alive")
        let request = DemoHTTPRequest(method: parsed.method, target: parsed.target, headers: parsed.headers, body: body)
        return .request(request, keepAlive: keepAlive)
    }

    /// Appends what the socket has; false on end of stream, timeout or error.
    private mutating func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    private static func findTerminator(_ bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= 4, start <= bytes.count - 4 else { return nil }
        for index in start...(bytes.count - 4)
        where bytes[index] == 0x0D && bytes[index + 1] == 0x0A && bytes[index + 2] == 0x0D && bytes[index + 3] == 0x0A {
            return index
        }
        return nil
    }
}

/// The request line and header fields of one request.
private struct ParsedHead {
    struct Refusal: Error {
        let status: Int
        let message: String
    }

    let method: String
    let target: String
    let version: String
    let headers: HTTPHeaders

    static func parse(_ head: [UInt8]) -> Result<ParsedHead, Refusal> {
        // Only HTAB and visible bytes (obs-text included) inside lines; CR only as part of CRLF.
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index < head.count {
            let byte = head[index]
            if byte == 0x0D {
                guard index + 1 < head.count, head[index + 1] == 0x0A else {
                    return .failure(Refusal(status: 400, message: "bare CR in the request head"))
                }
                lines.append(head[start..<index])
                index += 2
                start = index
                continue
            }
            guard byte == 0x09 || byte >= 0x20, byte != 0x7F else {
                return .failure(Refusal(status: 400, message: "control character in the request head"))
            }
            index += 1
        }
        lines.append(head[start..<head.count])

        let requestLine = lines[0].split(separator: 0x20, omittingEmptySubsequences: false)
        guard requestLine.count == 3 else { return .failure(Refusal(status: 400, message: "malformed request line")) }
        let method = String(decoding: requestLine[0], as: UTF8.self)
        let target = String(decoding: requestLine[1], as: UTF8.self)
        let version = String(decoding: requestLine[2], as: UTF8.self)
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPSyntax.isTokenByte) else {
            return .failure(Refusal(status: 400, message: "malformed method"))
        }
        guard target.hasPrefix("/"), target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(Refusal(status: 400, message: "the request target must be an origin-form path"))
        }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .failure(Refusal(status: 505, message: "only HTTP/1.1 and HTTP/1.0 are supported"))
        }

        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(Refusal(status: 400, message: "header field without a colon"))
            }
            let name = line[line.startIndex..<colon]
            // An empty name, or whitespace before the colon or at the line start (obs-fold), is refused
            // (RFC 9112 §5.1, §5.2).
            guard !name.isEmpty, name.allSatisfy(HTTPSyntax.isTokenByte) else {
                return .failure(Refusal(status: 400, message: "malformed header field name"))
            }
            var value = line[(colon + 1)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
            headers.add(
                name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        return .success(ParsedHead(method: method, target: target, version: version, headers: headers))
    }
}

/// Small pieces of HTTP syntax shared by the server and the seller.
enum HTTPSyntax {
    /// `tchar` of RFC 9110 §5.6.2.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// A `Content-Length` value: 1 to 18 ASCII digits (RFC 9110 §8.6); nil otherwise.
    static func contentLength(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 400: return "Bad Request"
        case 402: return "Payment Required"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 417: return "Expectation Failed"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

/// Percent-decoding of URL components.
enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as a space when asked); nil on a malformed escape or invalid UTF-8.
    static func decode<Text: StringProtocol>(_ text: Text, plusIsSpace: Bool) -> String? {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < input.count, let high = hexValue(input[index + 1]),
                    let low = hexValue(input[index + 2])
                else { return nil }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(plusIsSpace && byte == UInt8(ascii: "+") ? 0x20 : byte)
                index += 1
            }
        }
        return String(validating: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
