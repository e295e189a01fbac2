import Glibc
import JSONCore

/// Idempotency records: a call under a key runs once; a repeat replays its result or is refused.
extension Ledger {
    /// Starts a call under an idempotency key, or says why it must not run.
    ///
    /// A new key (or one whose record expired) is recorded as in progress with the tool and the arguments
    /// digest. The same key with another tool or other arguments is a conflict, never a replay.
    public func beginIdempotent(agent: String, key: String, tool: String, argumentsDigest: String)
        throws(LedgerError) -> IdempotencyBegin
    {
        try checkName(agent, "agent")
        try checkName(key, "idempotency key")
        try checkName(tool, "tool")
        try checkName(argumentsDigest, "arguments digest")
        let now = clock.now()
        return try database.transaction(immediate: true) { () throws(LedgerError) -> IdempotencyBegin in
            if let existing = try loadIdempotency(agent: agent, key: key), existing.expiresAt > now {
                guard existing.tool == tool, existing.argumentsDigest == argumentsDigest else { return .conflict }
                if existing.state == .completed, let result = existing.result { return .replay(result: result) }
                return .inProgress
            }
            try database.run(
                database.dialect.upsertIdempotency,
                [
                    .text(agent), .text(key), .text(tool), .text(argumentsDigest), .text(ownerID),
                    .integer(now), .integer(now &+ configuration.idempotencyTTLMilliseconds),
                ])
            return .started
        }
    }

    /// Stores the result of a call begun with `beginIdempotent`; later begins with the same arguments
    /// replay it. Returns false when there is no in-progress record for (agent, key).
    @discardableResult
    public func completeIdempotent(agent: String, key: String, result: String) throws(LedgerError) -> Bool {
        try database.transaction(immediate: true) { () throws(LedgerError) -> Bool in
            try database.run(
                "UPDATE idempotency SET state = 'completed', result = ? WHERE agent = ? AND key = ? AND state = 'in_progress'",
                [.text(result), .text(agent), .text(key)]) == 1
        }
    }

    /// Forgets an in-progress record when the call provably paid nothing, so the key may be retried.
    @discardableResult
    public func abandonIdempotent(agent: String, key: String) throws(LedgerError) -> Bool {
        try database.transaction(immediate: true) { () throws(LedgerError) -> Bool in
            try database.run(
                "DELETE FROM idempotency WHERE agent = ? AND key = ? AND state = 'in_progress'",
                [.text(agent), .text(key)]) == 1
        }
    }

    /// The record for (agent, key), if one exists and has not expired.
    public func lookupIdempotent(agent: String, key: String) throws(LedgerError) -> IdempotencyRecord? {
        guard let record = try loadIdempotency(agent: agent, key: key), record.expiresAt > clock.now() else {
            return nil
        }
        return record
    }

    private func loadIdempotency(agent: String, key: String) throws(LedgerError) -> IdempotencyRecord? {
        try database.first(
            """
            SELECT args_digest, state, result, created_ms, expires_ms, tool FROM idempotency
            WHERE agent = ? AND key = ?
            """,
            [.text(agent), .text(key)]
        ) {
            IdempotencyRecord(
                agent: agent, key: key, tool: $0.text(5), argumentsDigest: $0.text(0),
                state: IdempotencyRecord.State(rawValue: $0.text(1)) ?? .inProgress, result: $0.optionalText(2),
                createdAt: $0.int64(3), expiresAt: $0.int64(4))
        }
    }
}
