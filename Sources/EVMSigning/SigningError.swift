/// A signing-layer failure: a stable machine-readable `code` and a human `message`.
///
/// Messages never contain key material, digests of keys, or raw inputs that could be secret.
public struct SigningError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier for the kind of failure; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code as a string, e.g. `"invalid_private_key"`.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// A private key that is not 32 bytes, not hex, zero, or not below the group order.
        public static let invalidPrivateKey = Code("invalid_private_key")
        /// A digest that is not exactly 32 bytes.
        public static let invalidDigest = Code("invalid_digest")
        /// A typed-data field with the wrong shape (for example a nonce that is not 32 bytes).
        public static let invalidTypedData = Code("invalid_typed_data")
        /// The freshly made signature did not recover to the signer's address; nothing was released.
        public static let selfCheckFailed = Code("self_check_failed")
        /// The operating system's random source failed.
        public static let randomUnavailable = Code("random_unavailable")

        public var description: String { rawValue }
    }

    /// What went wrong, for programs.
    public let code: Code
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
