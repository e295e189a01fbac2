import Glibc
import JSONCore

/// The durable spend ledger: payment sessions, reservations, idempotency records and the hash-chained
/// audit trail, in one SQLite database shared safely by every Purser process on the machine.
///
/// Every state change and the audit record describing it are written in the same transaction.
/// A reservation checks every gate and holds the amount in one `BEGIN IMMEDIATE` transaction, so
/// concurrent processes can never overspend a session. Budget refusals and invalid transitions are
/// returned as values; only storage failures and malformed arguments throw.
///
/// ```swift
/// let ledger = try Ledger.open(path: home + "/ledger.sqlite", clock: .system)
/// try await ledger.recover()
/// guard let session = try await ledger.activeSession(agent: "agent-1", asset: "USDC") else { … }
/// switch try await ledger.reserve(request, limits: limits) {
/// case .reserved(let reservation, _): … sign, then markInDoubt, send, then commit or release
/// case .approvalRequired(let evaluation), .refused(let evaluation): … evaluation.explanation()
/// }
/// ```
public actor Ledger {
    /// Settings that rarely change.
    public struct Configuration: Sendable {
        /// How long a writer waits for another process's write lock before failing with `.busy`.
        public var busyTimeoutMilliseconds: Int32
        /// How long an idempotency record counts.
        public var idempotencyTTLMilliseconds: Int64
        /// How PostgreSQL writers are kept from overspending (ignored for SQLite).
        public var postgresConcurrency: PostgresConcurrency

        /// Creates a configuration.
        public init(
            busyTimeoutMilliseconds: Int32 = 10_000, idempotencyTTLMilliseconds: Int64 = 86_400_000,
            postgresConcurrency: PostgresConcurrency = .writerLock
        ) {
            self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
            self.idempotencyTTLMilliseconds = idempotencyTTLMilliseconds
            self.postgresConcurrency = postgresConcurrency
        }
    }

    /// The newest schema this build knows.
    public static let schemaVersion: Int64 = 7

    /// The ledger database's path inside a state home (`$PURSER_HOME`).
    public static func path(inHome home: String) -> String {
        home.hasSuffix("/") ? home + "ledger.sqlite" : home + "/ledger.sqlite"
    }

    let database: any LedgerDatabase
    let clock: LedgerClock
    let configuration: Configuration
    let owners: any LedgerOwners
    /// Path of the database file, or the PostgreSQL connection URL (which never holds a password).
    public nonisolated let path: String
    /// This process's owner id (recorded on its reservations).
    public nonisolated let ownerID: String

    private init(
        path: String, database: any LedgerDatabase, clock: LedgerClock, configuration: Configuration,
        owners: any LedgerOwners
    ) {
        self.path = path
        self.database = database
        self.clock = clock
        self.configuration = configuration
        self.owners = owners
        self.ownerID = owners.id
    }

    /// Opens (creating if needed, mode 0600) the ledger at `path` and brings its schema up to date.
    ///
    /// Each open ledger holds an owner lock (an `flock` released by the kernel when the process dies),
    /// which lets `recover()` in another process tell a crashed owner's reservations from a live one's.
    /// - Throws: `LedgerError` when the file cannot be created or opened, or its schema is newer than this build.
    ///
    /// A `postgres://` or `postgresql://` URL instead of a path opens that PostgreSQL ledger
    /// (`open(location:)`).
    public static func open(
        path: String, clock: LedgerClock = .system, configuration: Configuration = Configuration(),
        create: Bool = true
    ) throws(LedgerError) -> Ledger {
        try open(location: LedgerLocation(path), clock: clock, configuration: configuration, create: create)
    }

    /// Opens the ledger at `location`, creating its schema if needed, and brings the schema up to date.
    ///
    /// PostgreSQL: each open ledger holds a session advisory lock named after its owner id, which the
    /// server drops when the connection ends (the process died, or the network between them did), so
    /// `recover()` on any machine tells a gone owner's unsigned reservations from a live one's.
    /// - Parameter create: false for a caller that only reads or checks an existing ledger (`purser ledger
    ///   verify`, reports): where there is none (no SQLite file; no `purser_schema` table in the PostgreSQL
    ///   database's search path) it throws `LedgerError.Code.notFound` and creates nothing.
    public static func open(
        location: LedgerLocation, clock: LedgerClock = .system, configuration: Configuration = Configuration(),
        create: Bool = true
    ) throws(LedgerError) -> Ledger {
        switch location {
        case .sqlite(let path):
            if !create, access(path, F_OK) != 0 {
                throw LedgerError(.notFound, "no ledger at \(path) yet")
            }
            try LedgerFile.prepare(path)
            let ownerLock = try OwnerLock.acquire(directory: path + ".owners")
            ownerLock.sweep()
            let database = try SQLiteDatabase(
                path: path, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
            try migrate(database)
            return Ledger(path: path, database: database, clock: clock, configuration: configuration, owners: ownerLock)
        case .postgres(let url):
            let database = try PostgresDatabase(
                url: url, lockTimeoutMilliseconds: configuration.busyTimeoutMilliseconds,
                concurrency: configuration.postgresConcurrency)
            if !create, try !database.hasLedger() {
                throw LedgerError(.notFound, "no ledger in the PostgreSQL database \(url) yet (no purser_schema table)")
            }
            try migrate(database)
            let owners = try PostgresOwners.acquire(database)
            return Ledger(path: url, database: database, clock: clock, configuration: configuration, owners: owners)
        }
    }

    // MARK: Schema

    static func migrate(_ database: any LedgerDatabase) throws(LedgerError) {
        try database.transaction(immediate: true) { () throws(LedgerError) in
            let version = try database.schemaVersion()
            guard version <= schemaVersion else {
                throw LedgerError(
                    .schema, "the ledger has schema version \(version); this build knows up to \(schemaVersion)")
            }
            for step in database.dialect.migrations where step.version > version {
                try database.execute(step.sql)
            }
            if version < schemaVersion { try database.setSchemaVersion(schemaVersion) }
        }
    }

    // MARK: Argument checks

    /// Identifiers and codes: 1–256 bytes, no control characters.
    func checkName(_ value: String, _ what: String) throws(LedgerError) {
        guard !value.isEmpty, value.utf8.count <= 256,
            !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw LedgerError(.invalidArgument, "the \(what) must be 1–256 characters without control characters") }
    }
}

/// Random lower-case hex from the system generator (ids only; not a secret).
func randomHex(_ byteCount: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return hexString((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

/// fsyncs the directory containing `path`, so a newly created file's name survives a crash.
func fsyncDirectory(of path: String) {
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let descriptor = Glibc.open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
}
