import FoundationEssentials
import Glibc
import X402

/// Which requests go through a proxy: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`, read once per process
/// by `HTTPClient.Configuration` (or given explicitly, as tests do). The client core never reads the
/// environment.
///
/// - An `https://` origin goes through its proxy in an HTTP `CONNECT` tunnel: TLS runs end to end with the
///   origin (certificate, host name and SNI are the origin's, never the proxy's); the proxy sees only the
///   origin's name and port.
/// - An `http://` origin goes to its proxy as an absolute-form request (`GET http://host/path HTTP/1.1`),
///   the way curl, Go and Python send it and every forward proxy accepts it (many refuse `CONNECT` to
///   ports other than 443). The proxy sees the request, as anyone on the path of a plain-HTTP request does.
/// - A proxy URL is `http://[user:password@]host[:port]` (port 80 when absent; a URL without a scheme is
///   taken as `http://`). Credentials are sent as `Proxy-Authorization: Basic`, to the proxy only, and
///   never appear in errors or descriptions. `https://` proxies (TLS to the proxy) and SOCKS are refused:
///   requests that would use them fail with `invalidRequest`, nothing sent.
/// - Loopback origins (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) bypass the proxy unless
///   `bypassesLoopback` is false — as Go's `net/http` does and curl does not: a remote proxy would deliver
///   a request for "localhost" to its own host, so a payment meant for a local service would go elsewhere.
public struct ProxyConfiguration: Sendable, CustomStringConvertible {
    /// The proxy for `https://` origins (`https_proxy`, then `HTTPS_PROXY`).
    public var httpsProxy: ProxySetting
    /// The proxy for `http://` origins (`http_proxy`, then `HTTP_PROXY`).
    public var httpProxy: ProxySetting
    /// Origins that are always reached directly (`no_proxy`, then `NO_PROXY`).
    public var noProxy: NoProxyList
    /// Whether loopback origins bypass the proxy (true unless a test proxies them on purpose).
    public var bypassesLoopback: Bool

    /// No proxy at all.
    public static let direct = ProxyConfiguration()

    /// Creates a configuration from the variables' texts (nil or empty: no proxy).
    public init(
        httpsProxy: String? = nil, httpProxy: String? = nil, noProxy: String? = nil, bypassesLoopback: Bool = true
    ) {
        self.httpsProxy = ProxySetting(httpsProxy, variable: "HTTPS_PROXY")
        self.httpProxy = ProxySetting(httpProxy, variable: "HTTP_PROXY")
        self.noProxy = NoProxyList(noProxy ?? "")
        self.bypassesLoopback = bypassesLoopback
    }

    /// Reads `https_proxy`/`HTTPS_PROXY`, `http_proxy`/`HTTP_PROXY` and `no_proxy`/`NO_PROXY` from
    /// `variables`, the lower-case name first as curl does. `ALL_PROXY` is not read.
    public static func environment(_ variables: [String: String]) -> ProxyConfiguration {
        func value(_ name: String) -> String? { variables[name.lowercased()] ?? variables[name] }
        return ProxyConfiguration(
            httpsProxy: value("HTTPS_PROXY"), httpProxy: value("HTTP_PROXY"), noProxy: value("NO_PROXY"))
    }

    /// This process's environment, read once, on first use.
    public static let processEnvironment = environment(ProcessInfo.processInfo.environment)

    public var description: String {
        "ProxyConfiguration(https: \(httpsProxy), http: \(httpProxy), noProxy: \(noProxy.entries.count) entries, "
            + "bypassesLoopback: \(bypassesLoopback))"
    }

    /// The proxy `target` goes through, or nil for a direct connection.
    func proxy(for target: Target) throws(HTTPFailure) -> ProxyEndpoint? {
        let setting = target.secure ? httpsProxy : httpProxy
        if case .none = setting { return nil }
        // Bypasses come first: an origin that never uses the proxy is not refused for a bad proxy URL.
        if bypassesLoopback && Self.isLoopback(target.host) { return nil }
        if noProxy.matches(host: target.host, port: target.port) { return nil }
        switch setting {
        case .none:
            return nil
        case .proxy(let endpoint):
            return endpoint
        case .unusable(let variable, let reason):
            throw HTTPFailure(.invalidRequest, "\(variable) is not a usable proxy: \(reason); nothing was sent")
        }
    }

    /// `localhost`, a name under `.localhost` (RFC 6761), an address in 127.0.0.0/8, `::1`, or an
    /// IPv4-mapped loopback address.
    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingTrailingDot
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        guard let address = IPAddress(name) else { return false }
        return address.isLoopback
    }
}

/// One proxy variable's meaning: none, a usable proxy, or a value that must not be used (and why).
public enum ProxySetting: Sendable, CustomStringConvertible {
    /// The variable is unset or empty.
    case none
    /// Requests go through this proxy.
    case proxy(ProxyEndpoint)
    /// The variable names a proxy this client does not speak, or is malformed; requests that would
    /// use it fail closed. `reason` never contains the URL's credentials.
    case unusable(variable: String, reason: String)

    init(_ text: String?, variable: String) {
        guard let text = text?.trimmingSpaces, !text.isEmpty else {
            self = .none
            return
        }
        do throws(ProxyEndpoint.ParseError) {
            self = .proxy(try ProxyEndpoint(parsing: text))
        } catch {
            self = .unusable(variable: variable, reason: error.reason)
        }
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .proxy(let endpoint): endpoint.description
        case .unusable(let variable, let reason): "unusable \(variable) (\(reason))"
        }
    }
}

/// A plain-HTTP forward proxy: host, port and, when the URL carried them, Basic credentials.
///
/// Its descriptions name the host and port only; the credentials are reachable only as the header value
/// the client sends to the proxy.
public struct ProxyEndpoint: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The proxy's host (IPv6 without brackets), lower-cased.
    public let host: String
    /// The proxy's port.
    public let port: Int
    /// The `Proxy-Authorization` value (`Basic …`), or nil.
    let authorization: String?

    struct ParseError: Error {
        var reason: String
    }

    init(parsing text: String) throws(ParseError) {
        var rest = Substring(text)
        if let separator = rest.firstRange(of: "://") {
            let scheme = rest[..<separator.lowerBound].lowercased()
            switch scheme {
            case "http": break
            case "https": throw ParseError(reason: "TLS to the proxy (an https:// proxy URL) is not supported")
            default: throw ParseError(reason: "the proxy scheme \(scheme.prefix(16)) is not supported (only http://)")
            }
            rest = rest[separator.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains(where: { $0 == "/" || $0 == "?" || $0 == "#" }) else {
            throw ParseError(reason: "a proxy URL has no path, query or fragment")
        }
        var authorization: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at].utf8
            rest = rest[rest.index(after: at)...]
            // User and password part at the first ":" byte, as curl and Go split them: as Characters, a password
            // starting with a combining mark glued it to the ":" and the whole userinfo became the user name.
            let colon = userinfo.firstIndex(of: UInt8(ascii: ":"))
            let passwordText = colon.map { userinfo[userinfo.index(after: $0)...] } ?? userinfo[userinfo.endIndex...]
            guard let user = Self.percentDecoded(userinfo[..<(colon ?? userinfo.endIndex)]),
                let password = Self.percentDecoded(passwordText)
            else { throw ParseError(reason: "the proxy credentials are not validly percent-encoded") }
            authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw ParseError(reason: "an unclosed [ in the host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ParseError(reason: "text after the bracketed host") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "@") }) else {
            throw ParseError(reason: "the proxy URL has no usable host")
        }
        var port = 80
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit),
                let number = Int(portText),
                number > 0, number < 65536
            else { throw ParseError(reason: "the proxy port is not a number from 1 to 65535") }
            port = number
        }
        self.host = host.lowercased()
        self.port = port
        self.authorization = authorization
    }

    /// Creates an endpoint without credentials (tests, explicit configuration).
    public init(host: String, port: Int) {
        self.host = host.lowercased()
        self.port = port
        self.authorization = nil
    }

    /// `host:port` as it goes in a pool key and in errors (IPv6 in brackets).
    var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether credentials are sent to the proxy.
    public var hasCredentials: Bool { authorization != nil }

    public var description: String { "proxy \(authority)\(hasCredentials ? " (with credentials)" : "")" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["proxy": description]) }

    private static func percentDecoded(_ utf8: Substring.UTF8View) -> String? {
        var bytes: [UInt8] = []
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex, utf8.index(after: first) < utf8.endIndex,
                    let high = hexValue(utf8[first]), let low = hexValue(utf8[utf8.index(after: first)])
                else { return nil }
                bytes.append(high << 4 | low)
                index = utf8.index(first, offsetBy: 2)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

/// `NO_PROXY`: origins reached directly, with curl's semantics.
///
/// A comma-separated list (spaces around entries ignored), matched case-insensitively:
/// - `*` alone matches every host;
/// - a name matches itself and every name under it: `example.com` and `.example.com` both match
///   `example.com` and `api.example.com`, never `badexample.com`;
/// - an IP address matches that address; `10.0.0.0/8` or `fd00::/8` (CIDR) matches a network. Names are
///   never resolved: an IP entry matches only origins written as addresses;
/// - an IPv6 address may be written bare (`::1`) or in brackets (`[::1]`, needed with a port);
/// - `:port` after an entry limits it to that port (`example.com:8443`, `[::1]:8080`).
/// Entries that are none of these are ignored, as curl ignores them.
public struct NoProxyList: Sendable {
    enum Entry: Sendable, Equatable {
        case everything
        case domain(String, port: Int?)
        case network(IPAddress, prefixLength: Int, port: Int?)
    }

    let entries: [Entry]

    /// Parses the variable's text.
    public init(_ text: String) {
        entries = text.split(separator: ",").compactMap { Self.entry(String($0).trimmingSpaces) }
    }

    private static func entry(_ raw: String) -> Entry? {
        var text = Substring(raw.lowercased())
        if text.isEmpty { return nil }
        if text == "*" { return .everything }
        var port: Int?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let after = text[text.index(after: close)...]
            let inside = text[text.index(after: text.startIndex)..<close]
            if after.hasPrefix(":") {
                guard let number = portNumber(after.dropFirst()) else { return nil }
                port = number
                text = inside
            } else if after.isEmpty || after.hasPrefix("/") {
                text = inside + after
            } else {
                return nil
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.lastIndex(of: ":") {
            // One colon: a name or IPv4 address with a port. More colons: a bare IPv6 address.
            guard let number = portNumber(text[text.index(after: colon)...]) else { return nil }
            port = number
            text = text[..<colon]
        }
        var prefixLength: Int?
        if let slash = text.firstIndex(of: "/") {
            guard let number = Int(text[text.index(after: slash)...]), number >= 0 else { return nil }
            prefixLength = number
            text = text[..<slash]
        }
        if let address = IPAddress(String(text)) {
            let length = prefixLength ?? address.bitCount
            guard length <= address.bitCount else { return nil }
            return .network(address, prefixLength: length, port: port)
        }
        guard prefixLength == nil else { return nil }
        while text.hasPrefix(".") { text = text.dropFirst() }
        let name = String(text).trimmingTrailingDot
        guard !name.isEmpty else { return nil }
        return .domain(name, port: port)
    }

    private static func portNumber(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCIIDigit), let number = Int(text),
            number > 0, number < 65536
        else { return nil }
        return number
    }

    /// Whether an origin at `host` (lower-case, IPv6 without brackets) and `port` bypasses the proxy.
    public func matches(host: String, port: Int) -> Bool {
        let name = host.lowercased().trimmingTrailingDot
        let address = IPAddress(name)
        return entries.contains { entry in
            switch entry {
            case .everything:
                return true
            case .domain(let domain, let entryPort):
                guard entryPort == nil || entryPort == port, address == nil else { return false }
                return name == domain || name.hasSuffix("." + domain)
            case .network(let network, let prefixLength, let entryPort):
                guard entryPort == nil || entryPort == port, let address else { return false }
                return address.isIn(network, prefixLength: prefixLength)
            }
        }
    }
}

/// An IPv4 or IPv6 address as bytes (4 or 16), parsed with `inet_pton` (dotted quads only).
struct IPAddress: Sendable, Equatable {
    let bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    var bitCount: Int { bytes.count * 8 }

    /// 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104.
    var isLoopback: Bool {
        if bytes.count == 4 { return bytes[0] == 127 }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
        return bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] && bytes[12] == 127
    }

    func isIn(_ network: IPAddress, prefixLength: Int) -> Bool {
        guard bytes.count == network.bytes.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[index] & mask != network.bytes[index] & mask { return false }
            remaining -= bits
        }
        return true
    }
}

extension String {
    fileprivate var trimmingTrailingDot: String { hasSuffix(".") ? String(dropLast()) : self }
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
