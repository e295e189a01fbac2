import Foundation
import JSONCore
import Ledger
import MCP
import Purser
import PurserTesting
import Synchronization
import Testing
import X402

/// A wallet that refuses to sign, as a broken key file or a remote signer that is down would.
struct RefusingSigner: Signer {
    let address: EVMAddressText
    func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        throw X402Error(.signerFailed, "the test wallet refuses")
    }
}

/// An authorizer that is not the Cedar store: allows every call, denies every payment.
struct PayDenyingAuthorizer: CallAuthorizer {
    func authorizeCall(agent: String, tool: ToolManifest, arguments: JSONObject) async -> PolicyDecision {
        PolicyDecision(allowed: true, deciding: ["test-allow"], errors: [], refusal: nil)
    }
    func authorizePayment(agent: String, tool: ToolManifest, payment: PaymentFacts, arguments: JSONObject) async
        -> PolicyDecision
    {
        PolicyDecision(allowed: false, deciding: ["test-no-pay"], errors: [], refusal: nil)
    }
    func mayEverCall(agent: String, tool: ToolManifest) async -> Bool { true }
}

@Suite("Governed call: policy seam and ledger faults", .serialized)
struct GovernedCallFaultTests {
    // Regression: the pay step was reached through `authorizer as? PolicyStore`, so any other authorizer
    // skipped it and the payment went out.
    // Regression: only validBefore was checked against the hold. The reconciler bounds its log search by the
    // earliest validAfter the hold allows (SignedWindow); an authorization usable before that would be sent and
    // then never proved settled.
    @Test("an authorization whose validAfter is before the hold's window (clock set back) is never sent")
    func validAfterBeforeTheWindowIsNotSent() async throws {
        let now = Mutex<Int64>(1_900_000_000)
        let world = try await World(
            clock: { now.withLock { $0 } },
            ledger: { FaultyLedger($0, failAt: 0, afterReserve: { now.withLock { $0 -= 5000 } }) })
        let refused = try result(await world.call())
        #expect(refused.structuredContent?["error"] == "payment_failed")
        #expect(refused.structuredContent?["paymentMayHaveGoneThrough"] == false)
        #expect(world.seller.requests.count == 1 && world.seller.paidRequests.isEmpty)
        #expect(try await world.ledger.reservations().map(\.releaseReason) == ["not_sent"])
        #expect(try await world.ledger.sessions().first?.remaining == world.session.cap)
    }

    @Test("an authorizer other than the policy store is asked about the payment, and its denial holds")
    func customAuthorizerPayDenial() async throws {
        let world = try await World(authorizer: PayDenyingAuthorizer())
        let refused = try result(await world.call())
        #expect(refused.structuredContent?["error"] == "payment_policy_denied")
        #expect(refused.structuredContent?["policies"] == ["test-no-pay"])
        #expect(world.seller.requests.count == 1 && world.seller.paidRequests.isEmpty)
        #expect(try await world.reservationStates().isEmpty)
    }

    /// Runs one call with the `failAt`-th ledger operation failing; returns nil once no operation failed.
    private func faulted(
        _ afterPayment: FakeSeller.AfterPayment, failAt: Int, refusingSigner: Bool = false
    ) async throws -> (World, FaultyLedger, ToolResult)? {
        let box = FaultyLedgerBox()
        let world = try await World(
            seller: FakeSeller(afterPayment: afterPayment),
            ledger: { box.make($0, failAt: failAt) },
            signer: { refusingSigner ? RefusingSigner(address: $0.address) : $0 })
        let faulty = try #require(box.ledger)
        let outcome = try await world.call(meta: ["com.purser/idempotency-key": .string("fault-\(failAt)")])
        guard !faulty.failedOperations.isEmpty else { return nil }
        return (world, faulty, try result(outcome))
    }

    @Test(
        "a ledger failing at each operation in turn never frees money that may have left",
        arguments: [FakeSeller.AfterPayment.settle, .timeout, .settlementFailed])
    func ledgerFaultAtEachStep(afterPayment: FakeSeller.AfterPayment) async throws {
        var failAt = 1
        while let (world, faulty, answer) = try await faulted(afterPayment, failAt: failAt) {
            let failed = faulty.failedOperations.joined()
            let signatureLeft = !world.seller.paidRequests.isEmpty
            let states = try await world.reservationStates()
            let mayHaveMoved = answer.structuredContent?["paymentMayHaveGoneThrough"] == true
            if signatureLeft {
                // Held or committed, never released; and never presented as nothing paid.
                #expect(!states.contains(.released), "fault in \(failed)")
                #expect(!answer.isError || mayHaveMoved, "fault in \(failed)")
            } else {
                #expect(answer.isError && !mayHaveMoved, "fault in \(failed)")
                #expect(!states.contains(.committed), "fault in \(failed)")
            }
            if answer.isError, case .settle = afterPayment, signatureLeft {
                // The seller settled but the ledger did not record it: unrecorded, held, reported to stderr.
                #expect(answer.structuredContent?["error"] == "outcome_unknown", "fault in \(failed)")
                #expect(states == [.inDoubt], "fault in \(failed)")
            }
            if failed == "commit" { #expect(world.logged.all.contains { $0.contains("commit") }) }
            // Healed: the next call flushes what was queued; a settled payment is then committed.
            faulty.failAt.withLock { $0 = 0 }
            _ = try await world.call(city: "Rome")
            let after = try await world.ledger.reservations()
            if case .settle = afterPayment, signatureLeft {
                #expect(after.allSatisfy { $0.state == .committed }, "fault in \(failed)")
            }
            #expect(try await world.ledger.verify().isValid)
            failAt += 1
        }
        #expect(failAt > 5, "the paid path makes at least five ledger operations")
    }

    @Test("a wallet that cannot sign releases the hold; if the release fails too, the hold stays until expiry")
    func signerFailure() async throws {
        var failAt = 1
        while let (world, faulty, answer) = try await faulted(.settle, failAt: failAt, refusingSigner: true) {
            #expect(answer.isError && answer.structuredContent?["paymentMayHaveGoneThrough"] == false)
            #expect(world.seller.paidRequests.isEmpty)
            let states = try await world.reservationStates()
            #expect(!states.contains(.committed))
            if faulty.failedOperations == ["release"] {
                #expect(states == [.inDoubt])
                #expect(world.logged.all.contains { $0.contains("release") })
            }
            failAt += 1
        }
        let world = try await World(signer: { RefusingSigner(address: $0.address) })
        #expect(try errorCode(await world.call()) == "payment_failed")
        #expect(try await world.reservationStates() == [.released])
    }

    @Test("a failed trace write is logged, queued, and appended once the ledger accepts writes again")
    func traceQueuedUntilHealed() async throws {
        let box = FaultyLedgerBox()
        // Free upstream answer (no 402): the ledger operations are the call policy's session read (the tool has
        // a price: active session, reservations) and the trace append, the third.
        let world = try await World(
            transport: ScriptedTransport { _ in HTTPResponse(status: 200, body: Array("ok".utf8)) },
            ledger: { box.make($0, failAt: 3) })
        #expect(try !result(await world.call()).isError)
        #expect(world.logged.all.count == 1)
        #expect(try await world.ledger.auditRecords().filter { $0.kind == "call" }.isEmpty)
        _ = try await world.call(city: "Rome")
        let kinds = try await world.ledger.auditRecords().map(\.kind).filter { $0 != "session.grant" }
        #expect(kinds == ["ledger_write_failed", "call", "call"])
    }
}

/// Lets `World.init` hand out the faulty ledger it wraps.
final class FaultyLedgerBox: @unchecked Sendable {
    var ledger: FaultyLedger?
    func make(_ inner: Ledger, failAt: Int) -> any PaymentLedger {
        let faulty = FaultyLedger(inner, failAt: failAt)
        ledger = faulty
        return faulty
    }
}

/// A transport answering from a closure.
struct ScriptedTransport: HTTPTransport {
    let answer: @Sendable (HTTPRequest) throws -> HTTPResponse
    init(_ answer: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) { self.answer = answer }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse { try answer(request) }
}
