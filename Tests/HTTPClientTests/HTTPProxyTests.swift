import Foundation
import HTTPClient
import PurserTesting
import Synchronization
import Testing
import X402

/// Requests through a forward proxy: `CONNECT` tunnels for https origins, absolute-form requests for http
/// ones, refusals classified as never sent, credentials kept out of every message.
@Suite("HTTPClient through a proxy", .serialized)
struct HTTPProxyTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    private static let user = "agent%40corp"  // percent-encoded "agent@corp"
    private static let password = "s3cr%3At"  // percent-encoded "s3cr:t"
    /// base64("agent@corp:s3cr:t"), worked out by hand from the decoded pair.
    private static let expectedBasic = "Basic YWdlbnRAY29ycDpzM2NyOnQ="

    private func client(_ proxy: ProxyConfiguration, connectTimeout: Duration = .seconds(10)) -> HTTPClient {
        HTTPClient(configuration: .init(connectTimeout: connectTimeout, proxy: proxy))
    }

    private func failure(_ client: HTTPClient, _ request: HTTPRequest) async -> HTTPTransportError? {
        do {
            let response = try await client.send(request)
            Issue.record("expected a failure, got status \(response.status)")
            return nil
        } catch let error as HTTPTransportError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    private func assertNoSecrets(_ error: HTTPTransportError) {
        for secret in ["s3cr", "agent", String(Self.expectedBasic.dropFirst(6).prefix(12))] {
            #expect(!error.message.contains(secret), "\(error.message)")
            #expect(!error.description.contains(secret))
        }
    }

    @Test("an https origin is reached through CONNECT host:port, with Basic credentials for the proxy only")
    func connectRequest() async throws {
        let proxy = try ScriptedProxy { _ in .status(407) }
        defer { proxy.stop() }
        let configuration = ProxyConfiguration(
            httpsProxy: proxy.url(credentials: "\(Self.user):\(Self.password)"), bypassesLoopback: false)
        let error = try #require(
            await failure(
                client(configuration),
                HTTPRequest(url: URL(string: "https://localhost:8443/pay")!, headers: ["PAYMENT-SIGNATURE": "sig"])))
        let head = try #require(proxy.requests.first).components(separatedBy: "\r\n")
        #expect(head.first == "CONNECT localhost:8443 HTTP/1.1")
        #expect(head.contains("Host: localhost:8443"))
        #expect(head.contains("Proxy-Authorization: \(Self.expectedBasic)"))
        // Nothing of the request itself (path, payment header) went to the proxy.
        #expect(!head.joined().contains("/pay"))
        #expect(!head.joined().lowercased().contains("payment-signature"))
        #expect(error.code == .cannotConnect)
        #expect(error.code.definitelyNotSent)
        #expect(error.message.contains("407"))
        #expect(error.message.contains("did not accept the credentials"))
        assertNoSecrets(error)
    }

    @Test("a 407 without configured credentials says how to give them; nothing was sent")
    func proxyAuthenticationRequired() async throws {
        let proxy = try ScriptedProxy { _ in .status(407, "Proxy-Authenticate: Basic realm=\"corp\"\r\n") }
        defer { proxy.stop() }
        let error = try #require(
            await failure(
                client(ProxyConfiguration(httpsProxy: proxy.url(), bypassesLoopback: false)),
                HTTPRequest(url: URL(string: "https://localhost:8443/")!)))
        #expect(error.code == .cannotConnect)
        #expect(error.message.contains("407, the proxy requires credentials"))
        #expect(!(proxy.requests.first ?? "").contains("Proxy-Authorization"))
    }

    @Test("a proxy's 502 to CONNECT is a refusal, never sent, its reason and body not repeated")
    func badGateway() async throws {
        let proxy = try ScriptedProxy { _ in
            .init(raw: Array("HTTP/1.1 502 upstream-said-this\r\nContent-Length: 4\r\n\r\nboom".utf8))
        }
        defer { proxy.stop() }
        let error = try #require(
            await failure(
                client(ProxyConfiguration(httpsProxy: proxy.url(), bypassesLoopback: false)),
                HTTPRequest(url: URL(string: "https://localhost:8443/")!)))
        #expect(error.code == .cannotConnect)
        #expect(error.message.contains("502"))
        #expect(!error.message.contains("upstream-said-this"))
        #expect(!error.message.contains("boom"))
    }

    @Test("TLS runs with the origin inside the tunnel: SNI names the origin, not the proxy")
    func tunnelCarriesOriginTLS() async throws {
        let proxy = try ScriptedProxy { _ in
            .init(raw: Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8), captureTunnel: true)
        }
        defer { proxy.stop() }
        let origin = "origin.purser.test"
        let error = try #require(
            await failure(
                client(ProxyConfiguration(httpsProxy: proxy.url(), bypassesLoopback: false)),
                HTTPRequest(url: URL(string: "https://\(origin)/pay")!, headers: ["PAYMENT-SIGNATURE": "sig"])))
        let hello = proxy.tunnelBytes
        // A TLS handshake record (0x16) carrying a ClientHello (0x01)...
        #expect(hello.first == 0x16)
        #expect(hello.count > 5 && hello[5] == 0x01)
        // ...whose server_name extension holds the origin's name (the proxy is 127.0.0.1).
        #expect(hello.firstRange(of: Array(origin.utf8)) != nil)
        #expect(hello.firstRange(of: Array("PAYMENT".utf8)) == nil)
        // The handshake never finished: the request was not sent.
        #expect(error.code == .cannotConnect)
        #expect(error.message.contains(origin))
    }

    @Test("bytes after the proxy's 200 and before the origin's TLS answer are refused, nothing sent")
    func bytesAfterConnectAnswer() async throws {
        let proxy = try ScriptedProxy { _ in
            .init(raw: Array("HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n".utf8))
        }
        defer { proxy.stop() }
        let error = try #require(
            await failure(
                client(ProxyConfiguration(httpsProxy: proxy.url(), bypassesLoopback: false)),
                HTTPRequest(url: URL(string: "https://localhost:8443/")!)))
        #expect(error.code == .cannotConnect)
        #expect(error.message.contains("bytes after the answer to CONNECT"))
    }

    @Test("a proxy that never answers CONNECT is cut at the connect deadline, classified as not sent")
    func silentProxy() async throws {
        let proxy = try ScriptedProxy { _ in .init(raw: nil) }
        defer { proxy.stop() }
        let error = try #require(
            await failure(
                client(
                    ProxyConfiguration(httpsProxy: proxy.url(), bypassesLoopback: false),
                    connectTimeout: .milliseconds(300)),
                HTTPRequest(url: URL(string: "https://localhost:8443/")!)))
        #expect(error.code == .cannotConnect)
        #expect(error.message.contains("did not open a tunnel"))
    }

    @Test("an unreachable proxy is a connect failure that names the proxy, without its credentials")
    func unreachableProxy() async throws {
        let closed = try ScriptedProxy { _ in .status(200) }
        let port = closed.port
        closed.stop()
        try await Task.sleep(for: .milliseconds(50))
        let configuration = ProxyConfiguration(
            httpsProxy: "http://\(Self.user):\(Self.password)@127.0.0.1:\(port)", bypassesLoopback: false)
        let error = try #require(
            await failure(client(configuration), HTTPRequest(url: URL(string: "https://localhost:8443/")!)))
        #expect(error.code == .cannotConnect)
        #expect(error.message.contains("proxy 127.0.0.1"))
        assertNoSecrets(error)
    }

    @Test("an http origin goes to its proxy in absolute form, with the credentials; kept alive per (origin, proxy)")
    func absoluteForm() async throws {
        let proxy = try LoopbackServer { _ in .init(status: 200, body: Array("via proxy".utf8), keepAlive: true) }
        defer { proxy.stop() }
        let origin = URL(string: "http://origin.purser.test:8080/tool?q=1")!
        let transport = client(
            ProxyConfiguration(
                httpProxy: "http://\(Self.user):\(Self.password)@127.0.0.1:\(proxy.port)", bypassesLoopback: false))
        for _ in 0..<2 {
            let response = try await transport.send(HTTPRequest(url: origin))
            #expect(response.body == Array("via proxy".utf8))
        }
        let seen = proxy.requests
        #expect(seen.count == 2)
        #expect(seen.first?.path == "http://origin.purser.test:8080/tool?q=1")
        #expect(seen.first?.header("Host") == "origin.purser.test:8080")
        #expect(seen.first?.header("Proxy-Authorization") == Self.expectedBasic)
        #expect(proxy.connections == 1)
        #expect(transport.idleConnections(to: origin) == 1)
    }

    @Test("the proxy password starts after the first colon byte, even when a combining mark follows it")
    func credentialsSplitOnBytes() async throws {
        let proxy = try LoopbackServer { _ in .init(status: 200, body: Array("ok".utf8)) }
        defer { proxy.stop() }
        // User "u", password U+0301 + "p", as curl and Go split it: base64("u:\u{301}p") is dTrMgXA= (by hand).
        let transport = client(
            ProxyConfiguration(httpProxy: "http://u:\u{301}p@127.0.0.1:\(proxy.port)", bypassesLoopback: false))
        _ = try await transport.send(HTTPRequest(url: URL(string: "http://origin.purser.test/x")!))
        #expect(proxy.requests.first?.header("Proxy-Authorization") == "Basic dTrMgXA=")
    }

    @Test("a plain-HTTP proxy or origin that echoes the proxy credentials gets them back redacted")
    func echoedCredentialsAreRedacted() async throws {
        // "u:??" encodes as dTo/Pw== (worked out by hand), so the JSON-escaped echo has a "\/" in it.
        let proxy = try LoopbackServer { request in
            let value = request.header("Proxy-Authorization") ?? "none"
            let escaped = value.replacingOccurrences(of: "/", with: "\\/")
            return .init(
                status: 200, headers: [("X-Echo", value)],
                body: Array("{\"raw\":\"\(value)\",\"json\":\"\(escaped)\"}".utf8))
        }
        defer { proxy.stop() }
        let transport = client(
            ProxyConfiguration(httpProxy: "http://u:%3F%3F@127.0.0.1:\(proxy.port)", bypassesLoopback: false))
        let response = try await transport.send(HTTPRequest(url: URL(string: "http://origin.purser.test/echo")!))
        #expect(proxy.requests.first?.header("Proxy-Authorization") == "Basic dTo/Pw==")
        #expect(
            String(decoding: response.body, as: UTF8.self) == #"{"raw":"Basic [redacted]","json":"Basic [redacted]"}"#)
        #expect(response.headers["X-Echo"] == "Basic [redacted]")
    }

    @Test("a caller cannot set Proxy-Authorization: only the configured proxy's credentials are sent")
    func callerProxyAuthorizationRefused() async throws {
        let error = try #require(
            await failure(
                client(.direct),
                HTTPRequest(url: URL(string: "http://127.0.0.1:9/")!, headers: ["Proxy-Authorization": "Basic eA=="])))
        #expect(error.code == .invalidRequest)
    }

    @Test("loopback origins bypass the proxy by default; NO_PROXY entries bypass it too")
    func bypasses() async throws {
        let origin = try LoopbackServer { _ in .init(status: 200, body: Array("direct".utf8)) }
        defer { origin.stop() }
        let proxy = try ScriptedProxy { _ in .status(403) }
        defer { proxy.stop() }
        let loopbackDefault = client(ProxyConfiguration(httpProxy: proxy.url()))
        #expect(try await loopbackDefault.send(HTTPRequest(url: origin.baseURL)).body == Array("direct".utf8))
        let listed = client(
            ProxyConfiguration(httpProxy: proxy.url(), noProxy: "example.com, 127.0.0.0/8", bypassesLoopback: false))
        #expect(try await listed.send(HTTPRequest(url: origin.baseURL)).body == Array("direct".utf8))
        #expect(proxy.requests.isEmpty)
        // Without a bypass the proxy is used (and its 403 comes back as the response of an http request).
        let proxied = client(ProxyConfiguration(httpProxy: proxy.url(), bypassesLoopback: false))
        #expect(try await proxied.send(HTTPRequest(url: origin.baseURL)).status == 403)
        #expect(proxy.requests.count == 1)
    }

    @Test("an https:// or socks proxy URL fails closed: invalidRequest, nothing sent, no credentials echoed")
    func unsupportedProxyURLs() async throws {
        for url in [
            "https://\(Self.user):\(Self.password)@proxy.corp:3128", "socks5://proxy.corp:1080",
            "http://proxy.corp:99999", "http://proxy.corp/path",
        ] {
            let transport = client(ProxyConfiguration(httpsProxy: url))
            let error = try #require(await failure(transport, HTTPRequest(url: URL(string: "https://api.example/")!)))
            #expect(error.code == .invalidRequest)
            #expect(error.code.definitelyNotSent)
            #expect(error.message.contains("HTTPS_PROXY is not a usable proxy"))
            assertNoSecrets(error)
        }
        let https = ProxyConfiguration(httpsProxy: "https://proxy.corp:3128")
        let error = try #require(
            await failure(client(https), HTTPRequest(url: URL(string: "https://api.example/")!)))
        #expect(error.message.contains("TLS to the proxy"))
        // A bypassed origin never meets the unusable proxy.
        let bypassed = ProxyConfiguration(httpsProxy: "https://proxy.corp:3128", noProxy: "api.example")
        let refused = await failure(
            client(bypassed, connectTimeout: .milliseconds(200)), HTTPRequest(url: URL(string: "https://api.example/")!)
        )
        #expect(refused?.code == .cannotConnect)
    }

    @Test("descriptions of a proxy configuration never show its credentials")
    func descriptionsHideCredentials() {
        let configuration = ProxyConfiguration(httpsProxy: "http://\(Self.user):\(Self.password)@proxy.corp:3128")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in [
            String(describing: configuration), String(reflecting: configuration), dumped,
            String(describing: HTTPClient.Configuration(proxy: configuration)),
        ] {
            #expect(text.contains("proxy.corp:3128"))
            #expect(!text.contains("s3cr"))
            #expect(!text.contains("YWdlbnRAY29ycDpzM2NyOnQ"))
        }
    }
}
