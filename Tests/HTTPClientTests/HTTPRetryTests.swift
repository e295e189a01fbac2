import Foundation
import HTTPClient
import PurserTesting
import Synchronization
import Testing
import X402

/// What happens when a reused keep-alive connection fails after the request was written: the request may
/// have arrived, so it is never reported as "definitely not sent", and a payment is never sent twice.
@Suite("HTTPClient retries on a reused connection", .serialized)
struct HTTPRetryTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    /// A client whose idle connections do not expire while a loaded machine runs the test.
    private func client(connectTimeout: Duration = .seconds(10)) -> HTTPClient {
        HTTPClient(configuration: .init(connectTimeout: connectTimeout, idleTimeout: .seconds(600)))
    }

    /// Answers `/first` and keeps the connection; any other request is read, then the connection closed
    /// without an answer, except that the `answerAfter`-th and later such requests get a 200.
    private func server(answerAfter: Int = .max, delay: Double = 0) throws -> LoopbackServer {
        let unanswered = Mutex(0)
        return try LoopbackServer { request in
            if request.path == "/first" { return .init(status: 200, body: Array("k".utf8), keepAlive: true) }
            let count = unanswered.withLock { count in
                count += 1
                return count
            }
            if count >= answerAfter { return .init(status: 200, body: Array("retried".utf8)) }
            return .init(status: 0, delay: delay, raw: [])
        }
    }

    /// Sends `/first` so one idle connection is pooled, then `/second` with `headers` on it.
    private func secondOnReusedConnection(
        _ server: LoopbackServer, client: HTTPClient, headers: HTTPHeaders = [:], stopFirst: Bool = false
    ) async throws -> Result<HTTPResponse, HTTPTransportError> {
        _ = try await client.send(HTTPRequest(url: server.baseURL.appendingPathComponent("first")))
        #expect(client.idleConnections(to: server.baseURL) == 1)
        // From here new connections are refused; the pooled one is still served.
        if stopFirst { server.stop() }
        let second = HTTPRequest(url: server.baseURL.appendingPathComponent("second"), headers: headers)
        do {
            return .success(try await client.send(second))
        } catch let error as HTTPTransportError {
            return .failure(error)
        }
    }

    @Test(
        "regression: a GET written on a reused connection that then closes may have arrived, even if the retry cannot connect"
    )
    func sentThenRetryRefused() async throws {
        let server = try server()
        defer { server.stop() }
        let outcome = try await secondOnReusedConnection(server, client: client(), stopFirst: true)
        guard case .failure(let error) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(error.code == .connectionLost)
        #expect(!error.code.definitelyNotSent)
        #expect(server.requests.map(\.path) == ["/first", "/second"])
    }

    @Test(
        "regression: a request with a payment header is sent once, never retried by the transport",
        arguments: ["PAYMENT-SIGNATURE", "payment-signature", "X-PAYMENT", "x-Payment"])
    func paymentNotRetried(header: String) async throws {
        let server = try server(answerAfter: 2)
        defer { server.stop() }
        let outcome = try await secondOnReusedConnection(server, client: client(), headers: [header: "c2lnbmVk"])
        if case .failure(let error) = outcome {
            #expect(error.code == .connectionLost)
            #expect(!error.code.definitelyNotSent)
        } else {
            Issue.record("expected a failure, got \(outcome)")
        }
        #expect(server.requests.filter { $0.header(header) != nil }.count == 1)
        // The paid request never rides the pooled connection: it opens its own, once, and is not retried
        // on a third (a stale pooled connection would leave the payment in doubt; CI saw it via tinyproxy).
        #expect(server.connections == 2)
    }

    @Test("a GET without a payment header is still retried once on a fresh connection")
    func plainGetRetried() async throws {
        let server = try server(answerAfter: 2)
        defer { server.stop() }
        let outcome = try await secondOnReusedConnection(server, client: client())
        guard case .success(let response) = outcome else {
            Issue.record("expected the retry's answer, got \(outcome)")
            return
        }
        #expect(response.body == Array("retried".utf8))
        #expect(server.requests.map(\.path) == ["/first", "/second", "/second"])
        #expect(server.connections == 2)
    }

    @Test("regression: the retry gets its own connect deadline, not what is left of the first attempt's")
    func retryConnectDeadline() async throws {
        // The first attempt of /second waits 1.5 s before the server closes it: longer than the whole
        // connect deadline. The retry must still be allowed to connect.
        let server = try server(answerAfter: 2, delay: 1.5)
        defer { server.stop() }
        let outcome = try await secondOnReusedConnection(server, client: client(connectTimeout: .seconds(1)))
        guard case .success(let response) = outcome else {
            Issue.record("expected the retry's answer, got \(outcome)")
            return
        }
        #expect(response.body == Array("retried".utf8))
        #expect(server.connections == 2)
    }
}
