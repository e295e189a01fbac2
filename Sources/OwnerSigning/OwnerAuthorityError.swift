/// Why an owner request or an owner key record was refused: a stable `code`, a human `message`.
///
/// Messages never contain the passphrase, the derived key or a signature's secret inputs.
public struct OwnerAuthorityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal.
    public enum Code: String, Sendable, Hashable {
        /// The request is not a well-formed owner request (shape, types, unknown fields).
        case malformed = "malformed_request"
        /// The signature does not come from the owner's key (wrong passphrase, altered request, other signer).
        case badSignature = "bad_signature"
        /// The request's timestamp is outside the accepted window.
        case stale = "stale_request"
        /// The nonce was used before: a replay.
        case replay = "replayed_request"
        /// The owner key record (`owner.json`) is missing, malformed or too weak.
        case badRecord = "bad_owner_record"
        /// The passphrase could not be read, or is too short.
        case passphrase = "passphrase"
        /// Storing the used nonce failed; the request is refused rather than left replayable.
        case storage = "nonce_storage"
    }

    /// What went wrong, for programs.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
