/// A ledger failure: storage trouble, a bad argument, or an unusable database. Outcomes such as a budget
/// refusal are values, never this error.
public struct LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, extensible error code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case storage, busy, schema, invalidArgument, configuration, io, notFound
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// SQLite reported an error; nothing was changed by the failed statement's transaction.
        public static let storage = Code(.storage)
        /// Another process held the write lock longer than the busy timeout.
        public static let busy = Code(.busy)
        /// The database schema is newer than this build, or damaged.
        public static let schema = Code(.schema)
        /// An argument was refused before anything was written.
        public static let invalidArgument = Code(.invalidArgument)
        /// A limits file could not be used.
        public static let configuration = Code(.configuration)
        /// A file-system operation failed.
        public static let io = Code(.io)
        /// There is no ledger at the location, and the caller asked not to create one.
        public static let notFound = Code(.notFound)

        public var description: String { value.rawValue }
    }

    /// What kind of failure.
    public let code: Code
    /// What happened, in words; never contains secrets or raw tool arguments.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
