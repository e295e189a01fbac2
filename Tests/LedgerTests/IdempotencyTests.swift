import Ledger
import Testing

@Suite("Idempotency records")
struct IdempotencyTests {
    let clock = ManualClock()

    func open(_ directory: any LedgerStore, ttl: Int64 = 600_000) throws -> Ledger {
        try Ledger.open(
            path: directory.databasePath, clock: clock.ledgerClock,
            configuration: .init(idempotencyTTLMilliseconds: ttl))
    }

    @Test(
        "same key and arguments replays the stored result; different arguments conflict", arguments: LedgerBackend.all)
    func replay(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k1", tool: "t", argumentsDigest: "d1") == .started)
        #expect(
            try await ledger.beginIdempotent(agent: "a", key: "k1", tool: "t", argumentsDigest: "d1") == .inProgress)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k1", tool: "t", argumentsDigest: "d2") == .conflict)
        #expect(try await ledger.completeIdempotent(agent: "a", key: "k1", result: #"{"content":[]}"#))
        #expect(
            try await ledger.beginIdempotent(agent: "a", key: "k1", tool: "t", argumentsDigest: "d1")
                == .replay(result: #"{"content":[]}"#))
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k1", tool: "t", argumentsDigest: "d2") == .conflict)
        // Completing twice does not overwrite the stored result.
        #expect(try await ledger.completeIdempotent(agent: "a", key: "k1", result: "other") == false)
        let record = try #require(try await ledger.lookupIdempotent(agent: "a", key: "k1"))
        #expect(record.state == .completed && record.result == #"{"content":[]}"# && record.argumentsDigest == "d1")
    }

    @Test(
        "the same key and arguments with another tool is a conflict, never a replay (issue 16)",
        arguments: LedgerBackend.all)
    func boundToTool(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "toolA", argumentsDigest: "d") == .started)
        #expect(
            try await ledger.beginIdempotent(agent: "a", key: "k", tool: "toolB", argumentsDigest: "d") == .conflict)
        #expect(try await ledger.completeIdempotent(agent: "a", key: "k", result: "resultA"))
        #expect(
            try await ledger.beginIdempotent(agent: "a", key: "k", tool: "toolB", argumentsDigest: "d") == .conflict)
        #expect(
            try await ledger.beginIdempotent(agent: "a", key: "k", tool: "toolA", argumentsDigest: "d")
                == .replay(result: "resultA"))
        #expect(try await ledger.lookupIdempotent(agent: "a", key: "k")?.tool == "toolA")
    }

    @Test("keys are scoped per agent", arguments: LedgerBackend.all)
    func perAgent(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d1") == .started)
        #expect(try await ledger.beginIdempotent(agent: "b", key: "k", tool: "t", argumentsDigest: "d2") == .started)
        #expect(try await ledger.lookupIdempotent(agent: "c", key: "k") == nil)
    }

    @Test("records expire after the configured time and the key can be used afresh", arguments: LedgerBackend.all)
    func expiry(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory, ttl: 10_000)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d1") == .started)
        try await ledger.completeIdempotent(agent: "a", key: "k", result: "r")
        clock.advance(9_999)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d2") == .conflict)
        clock.advance(1)
        #expect(try await ledger.lookupIdempotent(agent: "a", key: "k") == nil)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d2") == .started)
    }

    @Test(
        "an abandoned in-progress call may be retried; a completed one cannot be abandoned",
        arguments: LedgerBackend.all)
    func abandon(backend: LedgerBackend) async throws {
        let directory = try backend.store()
        defer { directory.remove() }
        let ledger = try open(directory)
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d") == .started)
        #expect(try await ledger.abandonIdempotent(agent: "a", key: "k"))
        #expect(try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d") == .started)
        try await ledger.completeIdempotent(agent: "a", key: "k", result: "r")
        #expect(try await ledger.abandonIdempotent(agent: "a", key: "k") == false)
        #expect(
            try await ledger.beginIdempotent(agent: "a", key: "k", tool: "t", argumentsDigest: "d")
                == .replay(result: "r"))
    }
}
