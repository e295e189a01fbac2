/// An error from the x402 module: a stable machine-readable `code` and a human `message`.
///
/// Messages never contain key material, signatures, or request arguments.
public struct X402Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error category; new codes may be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name, e.g. `invalidBase64`.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// A header value is not strict standard base64 with padding.
        public static let invalidBase64 = Code("invalidBase64")
        /// A header value or body is not valid JSON.
        public static let invalidJSON = Code("invalidJSON")
        /// A header or body exceeds the size this client accepts.
        public static let tooLarge = Code("tooLarge")
        /// A JSON document lacks a required field or has one of the wrong type.
        public static let invalidMessage = Code("invalidMessage")
        /// The `x402Version` is missing or not one this client speaks.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// A 402 carries neither a v2 header nor a v1 body.
        public static let notX402 = Code("notX402")
        /// A step of the exchange was called out of order or twice.
        public static let invalidState = Code("invalidState")
        /// A signer could not produce a signature (unreachable, refused, timed out, malformed output).
        public static let signerFailed = Code("signerFailed")
        /// A signature did not recover to the expected address.
        public static let signatureMismatch = Code("signatureMismatch")
        /// A key file is missing, malformed, or readable by others.
        public static let keyFile = Code("keyFile")
        /// A signer configuration is missing or malformed.
        public static let configuration = Code("configuration")
        /// The system random source failed.
        public static let randomness = Code("randomness")

        public var description: String { name }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What went wrong, in words.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
