import Foundation
import HTTPClient
import PurserTesting
import Testing
import X402

@Suite("HTTPClient against loopback listeners", .serialized)
struct HTTPClientTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    @Test("returns a 402 with its headers and body, looked up in any case")
    func plainResponse() async throws {
        let server = try LoopbackServer { _ in
            .init(status: 402, headers: [("Payment-Required", "abc")], body: Array("{}".utf8))
        }
        defer { server.stop() }
        let transport = HTTPClient()
        let request = HTTPRequest(
            method: "POST", url: server.baseURL.appendingPathComponent("x"), headers: ["X-Custom": "1"],
            body: Array("hello".utf8))
        let response = try await transport.send(request)
        #expect(response.status == 402)
        #expect(response.headers["PAYMENT-REQUIRED"] == "abc")
        #expect(response.headers["payment-required"] == "abc")
        #expect(response.body == Array("{}".utf8))
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.header("x-custom") == "1")
        #expect(seen.body == Array("hello".utf8))
    }

    @Test("never follows a cross-host redirect: the 302 comes back and the other host sees nothing")
    func noRedirect() async throws {
        let target = try LoopbackServer(host: "127.0.0.2") { _ in .init(status: 200, body: Array("secret".utf8)) }
        defer { target.stop() }
        let location = target.baseURL.appendingPathComponent("steal").absoluteString
        let origin = try LoopbackServer { _ in .init(status: 302, headers: [("Location", location)]) }
        defer { origin.stop() }
        let transport = HTTPClient()
        let request = HTTPRequest(url: origin.baseURL, headers: ["PAYMENT-SIGNATURE": "c2lnbmVk"])
        let response = try await transport.send(request)
        #expect(response.status == 302)
        #expect(response.headers["location"] == location)
        try await Task.sleep(for: .milliseconds(100))
        #expect(target.requests.isEmpty)
        #expect(origin.requests.count == 1)
    }

    @Test("cancels a body larger than the cap while it streams")
    func bodyCap() async throws {
        let server = try LoopbackServer { _ in .init(status: 200, streamedBytes: 4 * 1024 * 1024) }
        defer { server.stop() }
        let transport = HTTPClient(configuration: .init(maximumResponseBytes: 64 * 1024))
        await #expect(throws: HTTPTransportError.self) {
            _ = try await transport.send(HTTPRequest(url: server.baseURL))
        }
        do {
            _ = try await transport.send(HTTPRequest(url: server.baseURL))
            Issue.record("expected tooLarge")
        } catch let error as HTTPTransportError {
            #expect(error.code == .tooLarge)
            #expect(!error.code.definitelyNotSent)
        }
    }

    @Test("a body exactly at the cap is delivered")
    func bodyAtCap() async throws {
        let server = try LoopbackServer { _ in .init(status: 200, streamedBytes: 64 * 1024) }
        defer { server.stop() }
        let transport = HTTPClient(configuration: .init(maximumResponseBytes: 64 * 1024))
        let response = try await transport.send(HTTPRequest(url: server.baseURL))
        #expect(response.body.count == 64 * 1024)
    }

    @Test("enforces a sub-second deadline by cancellation, as a timeout")
    func deadline() async throws {
        // The server answers after 10 s; the 300 ms deadline must end the call long before. The upper bound
        // is loose on purpose (a loaded 2-core CI machine), but far below the server's delay.
        let server = try LoopbackServer { _ in .init(status: 200, delay: 10) }
        defer { server.stop() }
        let transport = HTTPClient(configuration: .init(timeout: .milliseconds(300)))
        let started = ContinuousClock.now
        do {
            _ = try await transport.send(HTTPRequest(url: server.baseURL))
            Issue.record("expected a timeout")
        } catch let error as HTTPTransportError {
            #expect(error.code == .timeout)
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(250))
        #expect(elapsed < .seconds(5))
    }

    @Test("a refused connection is classified as definitely not sent")
    func refused() async throws {
        let server = try LoopbackServer { _ in .init(status: 200) }
        let url = server.baseURL
        server.stop()
        let transport = HTTPClient()
        do {
            _ = try await transport.send(HTTPRequest(url: url))
            Issue.record("expected cannotConnect")
        } catch let error as HTTPTransportError {
            #expect(error.code == .cannotConnect)
            #expect(error.code.definitelyNotSent)
        }
    }

    @Test("refuses non-HTTP schemes and header injection without sending anything")
    func invalidRequests() async throws {
        let transport = HTTPClient()
        for request in [
            HTTPRequest(url: URL(string: "file:///etc/passwd")!),
            HTTPRequest(url: URL(string: "http://127.0.0.1:9/")!, headers: ["X-A": "1\r\nX-B: 2"]),
        ] {
            do {
                _ = try await transport.send(request)
                Issue.record("expected invalidRequest")
            } catch let error as HTTPTransportError {
                #expect(error.code == .invalidRequest)
            }
        }
    }

    @Test("task cancellation ends the request as cancelled")
    func cancellation() async throws {
        let server = try LoopbackServer { _ in .init(status: 200, delay: 2) }
        defer { server.stop() }
        let transport = HTTPClient()
        let task = Task { try await transport.send(HTTPRequest(url: server.baseURL)) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        do {
            _ = try await task.value
            Issue.record("expected cancelled")
        } catch let error as HTTPTransportError {
            #expect(error.code == .cancelled)
        }
    }
}
