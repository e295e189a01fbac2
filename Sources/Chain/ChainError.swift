/// Why a chain query gave no answer. Every failure is a value to act on: the reconciler keeps the
/// payment held (nothing is decided without an answer).
public struct ChainError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable category.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// Stable name, e.g. `unreachable`.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// The node could not be reached, or did not answer in time.
        public static let unreachable = Code("unreachable")
        /// The node answered with an HTTP error status.
        public static let nodeError = Code("node_error")
        /// The node answered the request with a JSON-RPC error object (it refused this request, e.g. a block
        /// tag it does not know).
        public static let rpcError = Code("rpc_error")
        /// The answer is malformed, oversized, or not what was asked.
        public static let invalidAnswer = Code("invalid_answer")
        /// The node is on another chain than the network configured for it.
        public static let wrongChain = Code("wrong_chain")
        /// A bad argument (address, hash) from the caller.
        public static let invalidArgument = Code("invalid_argument")

        public var description: String { name }
    }

    /// The category.
    public let code: Code
    /// What happened, without secrets (never a URL's credentials or a header value).
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
