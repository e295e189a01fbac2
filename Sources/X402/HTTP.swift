public import FoundationEssentials

/// HTTP header fields in order, with case-insensitive lookup (RFC 9110 §5.1).
///
/// Order is kept so requests go out as written; lookups ignore ASCII case because servers differ
/// (`PAYMENT-REQUIRED`, `Payment-Required`, `payment-required` are the same field).
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields in order, names as given.
    public private(set) var fields: [(name: String, value: String)]

    /// Creates headers from ordered fields.
    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The first value of the field `name` (any case), or nil.
    public subscript(name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    /// Every value of the field `name` (any case), in order.
    public func values(for name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map { $0.value }
    }

    /// Appends a field, keeping any existing ones with the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` (any case) with one field.
    public mutating func set(name: String, value: String) {
        remove(name: name)
        fields.append((name: name, value: value))
    }

    /// Removes every field named `name` (any case).
    public mutating func remove(name: String) {
        fields.removeAll { Self.sameName($0.name, name) }
    }

    /// The number of fields.
    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// ASCII case-insensitive comparison of field names.
    public static func sameName(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8
        let right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { lowercase($0) == lowercase($1) }
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { sameName($0.name, $1.name) && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name.lowercased())
            hasher.combine(field.value)
        }
    }
}

/// An HTTP request as a value: method, absolute URL, ordered headers, body bytes.
public struct HTTPRequest: Sendable, Hashable {
    /// The method, e.g. `GET`.
    public var method: String
    /// The absolute URL.
    public var url: URL
    /// The header fields to send.
    public var headers: HTTPHeaders
    /// The body (empty for none).
    public var body: [UInt8]

    /// Creates a request.
    public init(method: String = "GET", url: URL, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// An HTTP response as a value: status, ordered headers, body bytes.
public struct HTTPResponse: Sendable, Hashable {
    /// The status code, e.g. 200 or 402.
    public var status: Int
    /// The header fields received.
    public var headers: HTTPHeaders
    /// The body received.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends one HTTP request and returns the response, whatever its status.
///
/// Implementations must not follow redirects (a 3xx comes back as a response), must bound time and
/// response size, and must throw `HTTPTransportError` so callers can tell "never sent" from
/// "sent, outcome unknown".
public protocol HTTPTransport: Sendable {
    /// Sends `request`. Non-2xx statuses are responses, not errors.
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// A transport failure, classified by whether the request may have reached the server.
public struct HTTPTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable failure category.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let name: String
        /// True when the request can not have reached the server (safe to treat as never sent).
        public let definitelyNotSent: Bool

        private init(_ name: String, definitelyNotSent: Bool) {
            self.name = name
            self.definitelyNotSent = definitelyNotSent
        }

        /// The deadline passed before a complete response arrived.
        public static let timeout = Code("timeout", definitelyNotSent: false)
        /// The response body exceeded the size cap; the transfer was cancelled.
        public static let tooLarge = Code("tooLarge", definitelyNotSent: false)
        /// No connection could be opened (refused, unreachable, name not resolved).
        public static let cannotConnect = Code("cannotConnect", definitelyNotSent: true)
        /// The connection broke after it was opened.
        public static let connectionLost = Code("connectionLost", definitelyNotSent: false)
        /// The caller cancelled the request.
        public static let cancelled = Code("cancelled", definitelyNotSent: false)
        /// The request itself is unusable (bad URL or scheme, not allowed host); nothing was sent.
        public static let invalidRequest = Code("invalidRequest", definitelyNotSent: true)
        /// Anything else the underlying client reported.
        public static let other = Code("other", definitelyNotSent: false)

        public var description: String { name }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What went wrong, in words (no header values, no body).
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
