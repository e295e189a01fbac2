import X402

extension Connection {
    /// Opens a TLS connection to `target` through `proxy`'s HTTP `CONNECT` tunnel (RFC 9110 §9.3.6).
    ///
    /// The TLS handshake runs with the origin over the tunnel: certificate, host name and SNI are
    /// checked against `target`, never the proxy. Every failure here, a refusal by the proxy included,
    /// happens before a byte of the request: `cannotConnect`, definitely not sent. The proxy's answer is
    /// reduced to its status code (its body and reason phrase are not repeated), and the credentials never
    /// appear in an error.
    static func openTunnel(
        through proxy: ProxyEndpoint, to target: Target, tls: TLSContext, maximumHeaderBytes: Int, wait: Wait
    ) throws(HTTPFailure) -> Connection {
        var proxyWait = wait
        proxyWait.onTimeout = HTTPFailure(
            .cannotConnect, "the \(proxy) did not open a tunnel to \(target.hostAndPort) in time")
        let connection = try open(host: proxy.host, port: proxy.port, tls: nil, wait: proxyWait, role: "the proxy ")
        do throws(HTTPFailure) {
            var request = "CONNECT \(target.hostAndPort) HTTP/1.1\r\nHost: \(target.hostAndPort)\r\n"
            if let authorization = proxy.authorization { request += "Proxy-Authorization: \(authorization)\r\n" }
            request += "User-Agent: purser\r\n\r\n"
            var written = 0
            let head: ResponseReader.Head
            let trailingBytes: Bool
            do throws(HTTPFailure) {
                try connection.write(Array(request.utf8), written: &written, proxyWait)
                var reader = ResponseReader(
                    connection: connection, maximumHeaderBytes: maximumHeaderBytes, maximumBodyBytes: 0,
                    firstByte: proxyWait, total: proxyWait)
                (head, trailingBytes) = try reader.readTunnelHead()
            } catch {
                // A timeout here is already worded as the proxy's (cannotConnect); cancellation stays itself.
                if error.code == .cancelled || error.code == .cannotConnect { throw error }
                throw HTTPFailure(
                    .cannotConnect,
                    "the \(proxy) failed while opening a tunnel to \(target.hostAndPort): \(error.message)")
            }
            guard (200..<300).contains(head.status) else {
                throw HTTPFailure(
                    .cannotConnect,
                    "the \(proxy) refused a tunnel to \(target.hostAndPort): \(refusal(head.status, proxy)); "
                        + "nothing was sent to the origin")
            }
            guard !trailingBytes else {
                throw HTTPFailure(
                    .cannotConnect,
                    "the \(proxy) sent bytes after the answer to CONNECT, before the origin's TLS could begin; "
                        + "nothing was sent to the origin")
            }
            try connection.handshake(context: tls, host: target.host, wait: wait)
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    private static func refusal(_ status: Int, _ proxy: ProxyEndpoint) -> String {
        switch status {
        // tinyproxy answers wrong credentials with 401, missing ones with 407.
        case 401, 407:
            proxy.hasCredentials
                ? "\(status), the proxy did not accept the credentials in the proxy URL"
                : "\(status), the proxy requires credentials (http://user:password@host:port in HTTPS_PROXY)"
        case 403: "403, the proxy does not allow this destination"
        case 502, 504: "\(status), the proxy could not reach the origin"
        default: "status \(status)"
        }
    }
}
