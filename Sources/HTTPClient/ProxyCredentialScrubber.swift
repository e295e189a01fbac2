import X402

/// Removes the proxy's Basic credentials from a response that came back through a plain-HTTP proxy.
///
/// In absolute form the proxy receives `Proxy-Authorization` with the request; a proxy that relays it
/// (RFC 9110 §11.7.1 allows that between cooperating proxies) lets the origin see it, and an origin that
/// echoes request headers would hand the proxy's password to the agent as a tool result. What was sent is
/// what can come back: the base64 token, raw or with JSON's `\/` escape, is replaced by `[redacted]` in
/// the body and header values. Through a `CONNECT` tunnel the origin never sees the credentials.
struct ProxyCredentialScrubber {
    private let needles: [[UInt8]]
    private static let replacement = Array("[redacted]".utf8)

    /// A scrubber for `authorization` ("Basic <token>").
    init(authorization: String) {
        let token = String(authorization.dropFirst("Basic ".count))
        var needles = [Array(token.utf8)]
        if token.contains("/") {
            needles.append(token.utf8.flatMap { $0 == UInt8(ascii: "/") ? Array("\\/".utf8) : [$0] })
        }
        self.needles = needles
    }

    func scrub(_ response: HTTPResponse) -> HTTPResponse {
        var scrubbed = response
        scrubbed.body = scrub(response.body)
        var headers = HTTPHeaders()
        for field in response.headers.fields {
            headers.add(name: field.name, value: String(decoding: scrub(Array(field.value.utf8)), as: UTF8.self))
        }
        scrubbed.headers = headers
        return scrubbed
    }

    private func scrub(_ bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        for needle in needles where !needle.isEmpty {
            guard result.firstRange(of: needle) != nil else { continue }
            var output: [UInt8] = []
            output.reserveCapacity(result.count)
            var index = 0
            while index < result.count {
                if result.count - index >= needle.count, result[index..<(index + needle.count)].elementsEqual(needle) {
                    output.append(contentsOf: Self.replacement)
                    index += needle.count
                } else {
                    output.append(result[index])
                    index += 1
                }
            }
            result = output
        }
        return result
    }
}
