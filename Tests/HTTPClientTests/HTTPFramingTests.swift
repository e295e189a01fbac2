import Foundation
import HTTPClient
import PurserTesting
import Testing
import X402

/// Scripted responses, byte for byte, for the framing rules a server can get wrong or abuse.
@Suite("HTTPClient framing, caps and keep-alive against scripted responses", .serialized)
struct HTTPFramingTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    private func answer(
        _ raw: String, configuration: HTTPClient.Configuration = .init(), method: String = "GET"
    ) async throws -> HTTPResponse {
        let server = try LoopbackServer { _ in .init(status: 0, raw: Array(raw.utf8)) }
        defer { server.stop() }
        return try await HTTPClient(configuration: configuration).send(HTTPRequest(method: method, url: server.baseURL))
    }

    private func failure(
        _ raw: String, configuration: HTTPClient.Configuration = .init()
    ) async throws -> HTTPTransportError {
        do {
            let response = try await answer(raw, configuration: configuration)
            Issue.record("expected a failure, got status \(response.status)")
            return HTTPTransportError(.other, "none")
        } catch let error as HTTPTransportError {
            return error
        }
    }

    @Test("a chunked body with extensions and trailers is decoded")
    func chunked() async throws {
        let response = try await answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        #expect(response.status == 200)
        #expect(response.body == Array("Wikipedia".utf8))
    }

    @Test("an HTTP/1.0 body without a length is read to the end of the stream")
    func closeDelimited() async throws {
        let response = try await answer("HTTP/1.0 200 OK\r\nX-A: b\r\n\r\nuntil close")
        #expect(response.body == Array("until close".utf8))
        #expect(response.headers["x-a"] == "b")
    }

    @Test("an interim 100 Continue is skipped")
    func interim() async throws {
        let response = try await answer(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        #expect(response.status == 201)
        #expect(response.body == Array("ok".utf8))
    }

    @Test("a HEAD response has no body even with a Content-Length")
    func head() async throws {
        let response = try await answer("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", method: "HEAD")
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
    }

    @Test(
        "ambiguous or broken framing is refused as malformed, never guessed",
        arguments: [
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\n folded: header\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
            "HTTP/2 200\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            // KELVIN SIGN: Unicode lower-casing makes it "chunked"; as an HTTP token it is an unknown coding.
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\u{212A}ed\r\n\r\n0\r\n\r\n",
            // chunk-size is 1*HEXDIG: a sign is not part of it (Int(_:radix:) alone takes both).
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-0\r\n\r\n",
        ])
    func malformed(raw: String) async throws {
        let error = try await failure(raw)
        #expect(error.code == .connectionLost)
        #expect(error.message.contains("malformed"))
        #expect(!error.code.definitelyNotSent)
    }

    @Test("a body cut short by the server is a lost connection, not a short success")
    func truncated() async throws {
        let error = try await failure("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        #expect(error.code == .connectionLost)
    }

    @Test("a server that closes without answering: lost, and the request may have arrived")
    func noAnswer() async throws {
        let error = try await failure("")
        #expect(error.code == .connectionLost)
        #expect(!error.code.definitelyNotSent)
    }

    @Test("the head is capped while it streams")
    func headerCap() async throws {
        let filler = String(repeating: "a", count: 8 * 1024)
        let error = try await failure(
            "HTTP/1.1 200 OK\r\nX-Filler: \(filler)\r\n\r\n", configuration: .init(maximumHeaderBytes: 4096))
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("head exceeds 4096"))
    }

    @Test("chunked and close-delimited bodies are capped while they stream")
    func streamedCaps() async throws {
        let big = String(repeating: "b", count: 5000)
        let chunk = String(5000, radix: 16)
        let configuration = HTTPClient.Configuration(maximumResponseBytes: 4096)
        let chunked = try await failure(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\r\n\(big)\r\n0\r\n\r\n",
            configuration: configuration)
        #expect(chunked.code == .tooLarge)
        let closing = try await failure("HTTP/1.0 200 OK\r\n\r\n\(big)", configuration: configuration)
        #expect(closing.code == .tooLarge)
    }

    @Test("an announced length above the cap is refused before the body is read")
    func announcedCap() async throws {
        let error = try await failure(
            "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n", configuration: .init(maximumResponseBytes: 4096))
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("announces 104857600"))
    }

    @Test("the first-byte deadline ends a silent server before the total deadline")
    func firstByteDeadline() async throws {
        // A server silent for 8 s, a total deadline of 30 s: only the first-byte deadline can end it early.
        let server = try LoopbackServer { _ in .init(status: 200, delay: 8) }
        defer { server.stop() }
        let client = HTTPClient(configuration: .init(timeout: .seconds(30), firstByteTimeout: .milliseconds(200)))
        let started = ContinuousClock.now
        do {
            _ = try await client.send(HTTPRequest(url: server.baseURL))
            Issue.record("expected a timeout")
        } catch let error as HTTPTransportError {
            #expect(error.code == .timeout)
            #expect(error.message.contains("began"))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("keep-alive: sequential requests share one connection, kept idle in the pool")
    func keepAlive() async throws {
        let server = try LoopbackServer { _ in .init(status: 200, body: Array("k".utf8), keepAlive: true) }
        defer { server.stop() }
        let client = HTTPClient()
        for _ in 0..<3 {
            let response = try await client.send(HTTPRequest(url: server.baseURL))
            #expect(response.body == Array("k".utf8))
        }
        #expect(server.connections == 1)
        #expect(client.idleConnections(to: server.baseURL) == 1)
    }

    @Test("a pooled connection the server has closed is not reused")
    func staleConnection() async throws {
        // HTTP/1.1 without `Connection: close`, then the server closes anyway (as servers do at their
        // keep-alive timeout): the client must notice before writing the next request into it.
        let server = try LoopbackServer { _ in
            .init(status: 0, raw: Array("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz".utf8))
        }
        defer { server.stop() }
        let client = HTTPClient()
        _ = try await client.send(HTTPRequest(url: server.baseURL))
        #expect(client.idleConnections(to: server.baseURL) == 1)
        try await Task.sleep(for: .milliseconds(100))
        let second = try await client.send(HTTPRequest(method: "POST", url: server.baseURL, body: [1]))
        #expect(second.body == Array("z".utf8))
        #expect(server.connections == 2)
        #expect(server.requests.count == 2)
    }

    @Test("a full pool keeps only its bound of idle connections per origin")
    func poolBound() async throws {
        let server = try LoopbackServer { _ in .init(status: 200, delay: 0.2, keepAlive: true) }
        defer { server.stop() }
        let client = HTTPClient(configuration: .init(maximumIdleConnectionsPerOrigin: 2))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<5 { group.addTask { _ = try await client.send(HTTPRequest(url: server.baseURL)) } }
            try await group.waitForAll()
        }
        #expect(server.connections == 5)
        #expect(client.idleConnections(to: server.baseURL) == 2)
    }

    @Test("User-Agent and Accept are sent by default, and the caller's own values win")
    func defaultFields() async throws {
        let server = try LoopbackServer { _ in .init(status: 200, keepAlive: true) }
        defer { server.stop() }
        let client = HTTPClient()
        _ = try await client.send(HTTPRequest(url: server.baseURL))
        _ = try await client.send(
            HTTPRequest(url: server.baseURL, headers: ["user-agent": "agent/2", "Accept": "a/b"]))
        let requests = server.requests
        try #require(requests.count == 2)
        #expect(requests[0].header("User-Agent") == "purser")
        #expect(requests[0].header("Accept") == "*/*")
        #expect(requests[0].header("Host") == "127.0.0.1:\(server.port)")
        #expect(requests[1].headers.filter { $0.name.lowercased() == "user-agent" }.map { $0.value } == ["agent/2"])
        #expect(requests[1].headers.filter { $0.name.lowercased() == "accept" }.map { $0.value } == ["a/b"])
    }

    @Test("fields the client frames itself cannot be set by the caller")
    func managedFields() async throws {
        let client = HTTPClient()
        for name in ["Host", "content-length", "Transfer-Encoding", "Connection"] {
            do {
                _ = try await client.send(HTTPRequest(url: URL(string: "http://127.0.0.1:9/")!, headers: [name: "1"]))
                Issue.record("expected invalidRequest for \(name)")
            } catch let error as HTTPTransportError {
                #expect(error.code == .invalidRequest)
                #expect(error.code.definitelyNotSent)
            }
        }
    }

    @Test("an unreadable trust file is a clear connect failure, before anything is sent")
    func missingTrustFile() async throws {
        let server = try LoopbackServer { _ in .init(status: 200) }
        defer { server.stop() }
        let client = HTTPClient(configuration: .init(trustedCertificatesFile: "/nonexistent/ca.pem"))
        let url = URL(string: "https://127.0.0.1:\(server.port)/")!
        do {
            _ = try await client.send(HTTPRequest(url: url))
            Issue.record("expected cannotConnect")
        } catch let error as HTTPTransportError {
            #expect(error.code == .cannotConnect)
            #expect(error.message.contains("/nonexistent/ca.pem"))
        }
        #expect(server.requests.isEmpty)
    }

    @Test("TLS to a plain-HTTP server fails the handshake as cannotConnect")
    func tlsToPlain() async throws {
        let server = try LoopbackServer { _ in .init(status: 200) }
        defer { server.stop() }
        let url = URL(string: "https://127.0.0.1:\(server.port)/")!
        do {
            _ = try await HTTPClient(configuration: .init(timeout: .seconds(1))).send(HTTPRequest(url: url))
            Issue.record("expected cannotConnect")
        } catch let error as HTTPTransportError {
            #expect(error.code == .cannotConnect)
            #expect(error.message.contains("TLS"))
        }
    }
}
