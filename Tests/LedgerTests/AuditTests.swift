import EVMSigning
import Foundation
import JSONCore
import Ledger
import Testing

@Suite("Audit trail: hash chain and verify")
struct AuditTests {
    let clock = ManualClock()

    /// A ledger with a grant, a reservation, a commit and two pipeline records: six records in all.
    func populated(_ directory: any LedgerStore) async throws -> Ledger {
        let ledger = try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
        let session = try await ledger.grantSession(
            agent: "agent-1", asset: "USDC", decimals: 6, cap: 1_000_000, ttlMilliseconds: 3_600_000)
        let reservation = try #require(
            try await ledger.reserve(Fixtures.request(session: session.id, amount: 1_000), limits: Fixtures.limits())
                .reservation)
        _ = try await ledger.commit(reservation.id, settledAmount: 1_000, transaction: "0xt", payer: "0xp")
        _ = try await ledger.appendAudit(kind: "policy.call", payload: ["outcome": "allowed", "policies": ["p1"]])
        _ = try await ledger.appendAudit(kind: "call", payload: ["latency_us": 1234])
        return ledger
    }

    @Test("records chain by SHA-256 of the previous record's canonical bytes", arguments: LedgerBackend.all)
    func chaining(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try await populated(directory)
        let records = try await ledger.auditRecords()
        #expect(records.map { $0.kind } == ["session.grant", "reserve", "commit", "policy.call", "call"])
        #expect(records.map { $0.sequence } == [1, 2, 3, 4, 5])
        #expect(records[0].previousHash == String(repeating: "0", count: 64))
        for (previous, record) in zip(records, records.dropFirst()) {
            #expect(record.previousHash == previous.hash)
        }
        // Recompute one hash independently of AuditRecord.expectedHash.
        let fourth = records[3]
        let bytes =
            Array("4|\(fourth.timestamp)|policy.call|\(records[2].hash)|".utf8)
            + Array(#"{"outcome":"allowed","policies":["p1"]}"#.utf8)
        let digest = SHA256.hash(bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(fourth.hash == digest)
        let verification = try await ledger.verify()
        #expect(verification.isValid && verification.records == 5 && verification.headHash == records[4].hash)
    }

    @Test(
        "the reserve record carries codes, amounts, digests and the gate arithmetic, not arguments",
        arguments: LedgerBackend.all)
    func reservePayload(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try await populated(directory)
        let reserve = try #require(try await ledger.auditRecords().first { $0.kind == "reserve" }?.payloadJSON)
        #expect(reserve["outcome"] == "reserved")
        #expect(reserve["amount"] == 1000)
        #expect(reserve["purpose"] == "data.weather")
        #expect(reserve["argsDigest"]?.stringValue?.count == 64)
        let checks = try #require(reserve["checks"]?.arrayValue)
        let remaining = try #require(checks.first { $0["gate"] == "session_remaining" })
        #expect(remaining["limit"] == 1_000_000 && remaining["requested"] == 1000 && remaining["used"] == 0)
    }

    @Test("an edited record is named", arguments: LedgerBackend.all)
    func edited(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        _ = try await populated(directory)
        try directory.execute("UPDATE audit SET payload = replace(payload, '1000', '1') WHERE seq = 3")
        let ledger = try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
        let verification = try await ledger.verify()
        #expect(verification.problem?.sequence == 3)
        #expect(verification.problem?.message.contains("edited") == true)
    }

    @Test("an edit that also recomputes its own hash is caught at the next record", arguments: LedgerBackend.all)
    func editedAndRehashed(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try await populated(directory)
        let records = try await ledger.auditRecords()
        let target = records[1]
        let payload = target.payload.replacingOccurrences(of: "\"amount\":1000", with: "\"amount\":1")
        let forged = AuditRecord(
            sequence: 2, timestamp: target.timestamp, kind: target.kind, payload: payload,
            previousHash: target.previousHash, hash: "")
        let escaped = payload.replacingOccurrences(of: "'", with: "''")
        try directory.execute("UPDATE audit SET payload = '\(escaped)', hash = '\(forged.expectedHash)' WHERE seq = 2")
        let verification = try await ledger.verify()
        #expect(verification.problem?.sequence == 3)
        #expect(verification.problem?.message.contains("does not link") == true)
    }

    @Test("a removed record is named", arguments: LedgerBackend.all)
    func removed(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try await populated(directory)
        try directory.execute("DELETE FROM audit WHERE seq = 2")
        let verification = try await ledger.verify()
        #expect(verification.problem?.sequence == 2)
        #expect(verification.problem?.message.contains("removed") == true)
    }

    @Test("removing the last records is caught by the head", arguments: LedgerBackend.all)
    func truncated(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try await populated(directory)
        try directory.execute("DELETE FROM audit WHERE seq >= 4")
        let verification = try await ledger.verify()
        #expect(verification.problem?.sequence == 4)
        #expect(verification.problem?.message.contains("removed from the end") == true)
    }

    @Test("reordered records are named", arguments: LedgerBackend.all)
    func reordered(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try await populated(directory)
        // Swap records 2 and 3 wholesale (content and hashes), keeping the sequence numbers in place.
        try directory.execute(
            """
            UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;
            UPDATE audit SET seq = 3 WHERE seq = -2;
            """)
        let verification = try await ledger.verify()
        #expect(verification.problem?.sequence == 2)
        #expect(verification.problem?.message.contains("reordered") == true)
    }

    @Test("an empty trail verifies; bad kinds are refused", arguments: LedgerBackend.all)
    func emptyAndKinds(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try Ledger.open(path: directory.databasePath, clock: clock.ledgerClock)
        #expect(try await ledger.verify().isValid)
        await #expect(throws: LedgerError.self) { try await ledger.appendAudit(kind: "Bad|Kind", payload: [:]) }
        #expect(try await ledger.verify().records == 0)
    }
}
