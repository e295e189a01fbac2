import EVMSigning
public import JSONCore

/// One record of the hash-chained audit trail.
///
/// `hash` is the SHA-256 of `canonicalBytes`, which include `previousHash`, so every record commits to
/// the whole history before it. Payloads carry codes, amounts and digests, never raw arguments,
/// prompts or secrets.
public struct AuditRecord: Sendable, Hashable {
    /// Position in the chain, from 1, without gaps.
    public var sequence: Int64
    /// When it was appended, unix milliseconds.
    public var timestamp: Int64
    /// What it records, e.g. `reserve`, `commit`, `session.grant`, `call`.
    public var kind: String
    /// Canonical JSON text (sorted keys, compact).
    public var payload: String
    /// Hex SHA-256 of the previous record's canonical bytes (64 zeros for the first record).
    public var previousHash: String
    /// Hex SHA-256 of this record's canonical bytes.
    public var hash: String

    /// Creates a record from its stored fields (for independent checking; the ledger appends its own).
    public init(sequence: Int64, timestamp: Int64, kind: String, payload: String, previousHash: String, hash: String) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.kind = kind
        self.payload = payload
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash of "no previous record".
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The bytes hashed: `sequence|timestamp|kind|previousHash|payload` in UTF-8. Unambiguous because
    /// `kind` has no `|` and the payload comes last.
    public static func canonicalBytes(
        sequence: Int64, timestamp: Int64, kind: String, previousHash: String, payload: String
    ) -> [UInt8] {
        Array("\(sequence)|\(timestamp)|\(kind)|\(previousHash)|".utf8) + Array(payload.utf8)
    }

    /// The hash this record should have, recomputed from its fields.
    public var expectedHash: String {
        hexString(
            SHA256.hash(
                Self.canonicalBytes(
                    sequence: sequence, timestamp: timestamp, kind: kind, previousHash: previousHash, payload: payload))
        )
    }

    /// The payload parsed, or nil if it is not JSON.
    public var payloadJSON: JSONValue? { try? JSONParser.parse(payload) }
}

/// Well-known payload fields, so the pipeline and the reports agree.
public enum AuditField {
    /// `"refused"` marks a refusal of any kind (budget, policy, approval declined) for the refusal report.
    public static let outcome = "outcome"
    /// The stable reason code of a refusal, e.g. `session_remaining`, `policy_denied`.
    public static let reason = "reason"
    /// Whole-call latency in integer microseconds, recorded by the pipeline on its `call` record.
    public static let latencyMicroseconds = "latency_us"
    /// Purpose code of the tool.
    public static let purpose = "purpose"
    /// Digest of the call's arguments.
    public static let argumentsDigest = "argsDigest"
}

/// What `verify()` found.
public struct AuditVerification: Sendable, Hashable {
    /// The first bad record and why.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// Sequence number of the first record that does not check out (or the expected one, if missing).
        public var sequence: Int64
        /// What is wrong.
        public var message: String

        public var description: String { "record \(sequence): \(message)" }
    }

    /// Records checked.
    public var records: Int64
    /// Hash of the last record (the chain head), to be noted elsewhere as an external anchor.
    public var headHash: String
    /// Nil when the whole chain checks out.
    public var problem: Problem?
    /// The derived totals (`session_totals`, `window_totals`, `paid_destinations`) that do not match the
    /// reservations they are computed from, one line per table, e.g. `session_totals: 1 row(s) differ
    /// (first: ses_… / weather)`; empty when they all match.
    public var totalsProblems: [String] = []

    /// True when the chain is intact and the derived totals match the reservations.
    public var isValid: Bool { problem == nil && totalsProblems.isEmpty }
}

/// Lower-case hex of bytes (EVMSigning's encoder).
func hexString(_ bytes: [UInt8]) -> String {
    Hex.encode(bytes)
}
