import X402

/// Reads one HTTP/1.1 response from a connection: head, then a body framed by Content-Length, chunked
/// coding or the end of the stream, never holding more than the configured caps.
struct ResponseReader {
    /// The head of a response: status, headers, and whether the server speaks HTTP/1.1.
    struct Head {
        var status: Int
        var headers: HTTPHeaders
        var isHTTP11: Bool
    }

    /// A response and whether its connection can carry another request.
    struct Outcome {
        var response: HTTPResponse
        var reusable: Bool
    }

    let connection: Connection
    let maximumHeaderBytes: Int
    let maximumBodyBytes: Int
    /// Until the first response byte arrives, waits use `firstByte`; then `total`.
    let firstByte: Wait
    let total: Wait
    private var buffer: [UInt8] = []
    private var start = 0
    private(set) var receivedAny = false

    init(connection: Connection, maximumHeaderBytes: Int, maximumBodyBytes: Int, firstByte: Wait, total: Wait) {
        self.connection = connection
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumBodyBytes = maximumBodyBytes
        self.firstByte = firstByte
        self.total = total
    }

    private static func malformed(_ what: String) -> HTTPFailure {
        HTTPFailure(.connectionLost, "the server's response was malformed: \(what)")
    }

    /// Reads the whole response to a request made with `method`.
    mutating func read(method: String) throws(HTTPFailure) -> Outcome {
        var head = try readHead()
        // Interim 1xx responses (100 Continue, 103 Early Hints) precede the real one.
        while head.status >= 100 && head.status < 200 {
            if head.status == 101 { throw Self.malformed("an unrequested protocol switch (101)") }
            head = try readHead()
        }
        var reusable = head.isHTTP11 && !Self.hasToken(head.headers, "Connection", "close")
        let body: [UInt8]
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            body = []
        } else {
            let codings = head.headers.values(for: "Transfer-Encoding")
            let lengths = head.headers.values(for: "Content-Length")
            if !codings.isEmpty {
                // Request smuggling and truncation both hide in ambiguous framing: refuse it.
                guard lengths.isEmpty else { throw Self.malformed("both Transfer-Encoding and Content-Length") }
                // Coding names are ASCII tokens compared without ASCII case; Unicode `lowercased()` would turn
                // "chun\u{212A}ed" (KELVIN SIGN) into "chunked", a framing no other reader of the bytes sees.
                let list = codings.flatMap { $0.split(separator: ",") }.map {
                    $0.trimmingOWS().asciiLowercased()
                }
                guard list == ["chunked"] else {
                    throw Self.malformed("unsupported transfer coding \(list.joined(separator: ", "))")
                }
                body = try readChunked()
            } else if !lengths.isEmpty {
                let length = try Self.contentLength(lengths)
                guard length <= maximumBodyBytes else {
                    throw HTTPFailure(
                        .tooLarge, "the response announces \(length) bytes, more than the \(maximumBodyBytes) allowed")
                }
                try fill(toHold: length)
                body = Array(buffer[start..<(start + length)])
                start += length
            } else {
                body = try readToEnd()
                reusable = false
            }
        }
        // Bytes after the response that nobody asked for: do not trust this connection again.
        if start != buffer.count { reusable = false }
        return Outcome(
            response: HTTPResponse(status: head.status, headers: head.headers, body: body), reusable: reusable)
    }

    /// Reads the head of the answer to a `CONNECT`. After a 2xx nothing may follow before the client
    /// speaks (the tunnel's first bytes are the client's TLS hello): `trailingBytes` says whether any did.
    mutating func readTunnelHead() throws(HTTPFailure) -> (head: Head, trailingBytes: Bool) {
        let head = try readHead()
        return (head, start != buffer.count)
    }

    // MARK: Head

    private mutating func readHead() throws(HTTPFailure) -> Head {
        var searchFrom = start
        while true {
            if let end = Self.find(crlfcrlf, in: buffer, from: searchFrom) {
                let headBytes = buffer[start..<end]
                guard end - start <= maximumHeaderBytes else { throw headerTooLarge() }
                start = end + 4
                return try Self.parseHead(headBytes)
            }
            guard buffer.count - start <= maximumHeaderBytes + 3 else { throw headerTooLarge() }
            searchFrom = max(start, buffer.count - 3)
            if try more() == 0 {
                throw HTTPFailure(
                    .connectionLost,
                    receivedAny
                        ? "the connection closed inside the response head" : "the connection closed before a response")
            }
        }
    }

    private func headerTooLarge() -> HTTPFailure {
        HTTPFailure(.tooLarge, "the response head exceeds \(maximumHeaderBytes) bytes")
    }

    static func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPFailure) -> Head {
        let lines = Self.splitLines(bytes)
        guard let statusLine = lines.first else { throw malformed("an empty head") }
        // "HTTP/1.1 200 OK": version, three-digit status, optional reason.
        let prefix = Array("HTTP/1.".utf8)
        guard statusLine.count >= 12, Array(statusLine.prefix(7)) == prefix else {
            throw malformed("not an HTTP/1.x status line")
        }
        let minor = statusLine[statusLine.startIndex + 7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"),
            statusLine[statusLine.startIndex + 8] == UInt8(ascii: " ")
        else { throw malformed("an unsupported HTTP version") }
        let digits = statusLine[(statusLine.startIndex + 9)..<(statusLine.startIndex + 12)]
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            statusLine.count == 12 || statusLine[statusLine.startIndex + 12] == UInt8(ascii: " ")
        else { throw malformed("a bad status code") }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard status >= 100 else { throw malformed("a bad status code") }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let first = line.first, first != 0x20, first != 0x09 else {
                throw malformed("an obsolete folded header line")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw malformed("a header line without a colon")
            }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw malformed("a bad header name") }
            let value = line[(colon + 1)...]
            guard !value.contains(where: { $0 == 0 || $0 == 0x0D || $0 == 0x0A }) else {
                throw malformed("a control character in a header value")
            }
            headers.add(
                name: String(decoding: name, as: UTF8.self),
                value: String(decoding: value, as: UTF8.self).trimmingOWS())
        }
        return Head(status: status, headers: headers, isHTTP11: minor == UInt8(ascii: "1"))
    }

    private static func splitLines(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = bytes.startIndex
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == 0x0D, index + 1 < bytes.endIndex, bytes[index + 1] == 0x0A {
                lines.append(bytes[lineStart..<index])
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        lines.append(bytes[lineStart..<bytes.endIndex])
        return lines
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private static func isHexDigitByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x46, 0x61...0x66: return true
        default: return false
        }
    }

    static func contentLength(_ values: [String]) throws(HTTPFailure) -> Int {
        // "Content-Length: 5, 5" and repeated equal fields are allowed; anything else is ambiguous.
        let parts = values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map {
            $0.trimmingOWS()
        }
        guard let first = parts.first, !first.isEmpty, first.utf8.count <= 18,
            first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), parts.allSatisfy({ $0 == first }),
            let length = Int(first)
        else { throw malformed("an invalid Content-Length") }
        return length
    }

    static func hasToken(_ headers: HTTPHeaders, _ name: String, _ token: String) -> Bool {
        headers.values(for: name).contains { value in
            value.split(separator: ",").contains { $0.trimmingOWS().lowercased() == token }
        }
    }

    // MARK: Body

    private mutating func readChunked() throws(HTTPFailure) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let line = try readLine(limit: 4096)
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }.trimmingOWSBytes()
            // chunk-size is 1*HEXDIG (RFC 9112 §7.1): `Int(_:radix:)` alone also takes "+5" and "-0".
            guard !sizeText.isEmpty, sizeText.count <= 15, sizeText.allSatisfy(Self.isHexDigitByte),
                let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16),
                size >= 0
            else { throw Self.malformed("a bad chunk size") }
            if size == 0 { break }
            guard body.count + size <= maximumBodyBytes else {
                throw HTTPFailure(.tooLarge, "the response body exceeds \(maximumBodyBytes) bytes")
            }
            try fill(toHold: size + 2)
            body.append(contentsOf: buffer[start..<(start + size)])
            guard buffer[start + size] == 0x0D, buffer[start + size + 1] == 0x0A else {
                throw Self.malformed("a chunk not followed by CRLF")
            }
            start += size + 2
            compact()
        }
        // Trailer fields end with an empty line; they are read and dropped.
        var trailerBytes = 0
        while true {
            let line = try readLine(limit: 4096)
            if line.isEmpty { break }
            trailerBytes += line.count
            guard trailerBytes <= maximumHeaderBytes else { throw headerTooLarge() }
        }
        return body
    }

    private mutating func readLine(limit: Int) throws(HTTPFailure) -> [UInt8] {
        var searchFrom = start
        while true {
            if let end = Self.find(crlf, in: buffer, from: searchFrom) {
                let line = Array(buffer[start..<end])
                start = end + 2
                return line
            }
            guard buffer.count - start <= limit else { throw Self.malformed("a chunk line too long") }
            searchFrom = max(start, buffer.count - 1)
            if try more() == 0 { throw HTTPFailure(.connectionLost, "the connection closed inside a chunked body") }
        }
    }

    private mutating func readToEnd() throws(HTTPFailure) -> [UInt8] {
        // Checked before every read: the head's last read may already have brought the whole body.
        repeat {
            guard buffer.count - start <= maximumBodyBytes else {
                throw HTTPFailure(.tooLarge, "the response body exceeds \(maximumBodyBytes) bytes")
            }
        } while try more() > 0
        guard buffer.count - start <= maximumBodyBytes else {
            throw HTTPFailure(.tooLarge, "the response body exceeds \(maximumBodyBytes) bytes")
        }
        let body = Array(buffer[start...])
        start = buffer.count
        return body
    }

    /// Reads until `count` unread bytes are buffered.
    private mutating func fill(toHold count: Int) throws(HTTPFailure) {
        while buffer.count - start < count {
            if try more() == 0 { throw HTTPFailure(.connectionLost, "the connection closed inside the response body") }
        }
    }

    private mutating func more() throws(HTTPFailure) -> Int {
        let count = try connection.read(into: &buffer, receivedAny ? total : firstByte)
        if count > 0 { receivedAny = true }
        return count
    }

    /// Drops consumed bytes once they dominate the buffer, so a long chunked body is not held twice.
    private mutating func compact() {
        if start > 64 * 1024 && start * 2 > buffer.count {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var index = from
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}

private let crlf: [UInt8] = [0x0D, 0x0A]
private let crlfcrlf: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingOWS() -> String {
        let bytes = Array(utf8)
        return String(decoding: bytes[...].trimmingOWSBytes(), as: UTF8.self)
    }
}

extension String {
    /// The text with ASCII `A`–`Z` lower-cased and every other byte kept: HTTP's case-insensitive tokens.
    func asciiLowercased() -> String {
        String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}

extension ArraySlice<UInt8> {
    func trimmingOWSBytes() -> ArraySlice<UInt8> {
        var slice = self
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }
}

extension Array<UInt8> {
    func trimmingOWSBytes() -> ArraySlice<UInt8> { self[...].trimmingOWSBytes() }
}
