import Foundation
import HTTPClient
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Synchronization
import Testing
import X402

/// The governed call over the product's HTTP client and a loopback seller: how a transport failure of the
/// paid request reaches the ledger.
@Suite("Governed call over HTTPClient: a paid request that may have arrived stays held", .serialized)
struct PaidRequestTransportTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    @Test(
        "regression: the paid request sent on the kept-alive connection, then lost while new connections are refused: held, not released"
    )
    func paidRequestLostThenRefused() async throws {
        let challenge = FakeSeller().challenge
        // The seller answers the unpaid request with its 402 on a kept-alive connection. The paid request
        // arrives on a fresh connection of its own (paid requests never take a pooled one); the seller
        // stops listening and closes without an answer.
        let listening = Mutex<LoopbackServer?>(nil)
        let server = try LoopbackServer { request in
            guard request.header("PAYMENT-SIGNATURE") != nil else {
                return .init(
                    status: challenge.status, headers: challenge.headers.map { ($0.name, $0.value) },
                    body: challenge.body, keepAlive: true)
            }
            listening.withLock { $0?.stop() }
            return .init(status: 0, raw: [])
        }
        listening.withLock { $0 = server }
        defer { server.stop() }
        let manifest = World.weatherManifest.replacingOccurrences(
            of: "http://seller.test", with: server.baseURL.absoluteString)
        // Idle connections must not expire while a loaded machine runs the test.
        let world = try await World(
            manifestText: manifest, transport: HTTPClient(configuration: .init(idleTimeout: .seconds(600))))

        let outcome = try result(await world.call())
        #expect(outcome.isError)
        #expect(outcome.structuredContent?["error"] == "outcome_unknown")
        #expect(server.requests.filter { $0.header("PAYMENT-SIGNATURE") != nil }.count == 1)
        #expect(server.connections == 2)
        let reservation = try #require(try await world.ledger.reservations().first)
        #expect(reservation.state == .inDoubt)
        #expect(reservation.releaseReason == nil)
        #expect(try await world.ledger.sessions().first?.inFlight == 10_000)
    }
}
