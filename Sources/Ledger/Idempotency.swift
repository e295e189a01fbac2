/// A stored idempotency record: (agent, key) → the tool and the digest of the arguments it was first
/// used with and, once the call finished, its result.
public struct IdempotencyRecord: Sendable, Hashable {
    /// Where the call is.
    public enum State: String, Sendable, Hashable {
        /// Started and not finished (or its process died mid-call: fail closed, never run it again).
        case inProgress = "in_progress"
        /// Finished; `result` holds what to replay.
        case completed
    }

    /// The agent that used the key.
    public var agent: String
    /// The idempotency key.
    public var key: String
    /// The tool first called with the key (empty for records from before tools were recorded: those
    /// match no tool).
    public var tool: String
    /// Digest of the arguments first used with the key.
    public var argumentsDigest: String
    /// In progress or completed.
    public var state: State
    /// The stored result (JSON text), once completed.
    public var result: String?
    /// First use, unix milliseconds.
    public var createdAt: Int64
    /// When the record stops counting, unix milliseconds.
    public var expiresAt: Int64
}

/// The outcome of `beginIdempotent`.
public enum IdempotencyBegin: Sendable, Hashable {
    /// New key (or an expired one): the caller runs the call and then calls `completeIdempotent`.
    case started
    /// Same key, same arguments, finished: return this stored result and pay nothing.
    case replay(result: String)
    /// Same key, same arguments, not finished: refuse; the first attempt may still pay.
    case inProgress
    /// Same key, another tool or different arguments: refuse.
    case conflict
}
