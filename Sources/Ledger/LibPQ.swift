import CPostgres
import Glibc

/// The libpq functions the PostgreSQL ledger uses, resolved with `dlopen`/`dlsym` on the first
/// PostgreSQL open instead of linked into the binary.
///
/// Why: linking libpq loads it and its dependency tree (gnutls, krb5, ldap, sasl2, …, about 3.3 MiB
/// resident) into every `purser` process, SQLite ledgers included (docs/benchmarks.md). The header
/// still comes from `CPostgres`, for the types only: calling one of its functions directly would leave
/// an undefined symbol and fail the link, so nothing here can bypass the table by accident.
final class LibPQ: Sendable {
    /// The shared library opened in production: libpq's stable ABI (Debian's `libpq5`).
    static let libraryName = "libpq.so.5"

    /// The library, opened once on first use; Swift runs a global's initialiser exactly once even when
    /// several threads reach it together. A failure is kept too: it will not fix itself in this process.
    private static let shared = Result { () throws(LedgerError) -> LibPQ in try LibPQ(library: libraryName) }

    /// The process's libpq, or why it cannot be used.
    static func loaded() throws(LedgerError) -> LibPQ {
        try shared.get()
    }

    let PQclear: @convention(c) (OpaquePointer?) -> Void
    let PQcmdStatus: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let PQcmdTuples: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let PQconnectdbParams:
        @convention(c) (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int32) ->
            OpaquePointer?
    let PQerrorMessage: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let PQexec: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> OpaquePointer?
    let PQexecPrepared:
        @convention(c) (
            OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafePointer<UnsafePointer<CChar>?>?,
            UnsafePointer<Int32>?, UnsafePointer<Int32>?, Int32
        ) -> OpaquePointer?
    let PQfinish: @convention(c) (OpaquePointer?) -> Void
    let PQftype: @convention(c) (OpaquePointer?, Int32) -> Oid
    let PQgetisnull: @convention(c) (OpaquePointer?, Int32, Int32) -> Int32
    let PQgetvalue: @convention(c) (OpaquePointer?, Int32, Int32) -> UnsafeMutablePointer<CChar>?
    let PQnfields: @convention(c) (OpaquePointer?) -> Int32
    let PQntuples: @convention(c) (OpaquePointer?) -> Int32
    let PQprepare:
        @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32, UnsafePointer<Oid>?) ->
            OpaquePointer?
    let PQreset: @convention(c) (OpaquePointer?) -> Void
    let PQresultErrorField: @convention(c) (OpaquePointer?, Int32) -> UnsafeMutablePointer<CChar>?
    let PQresultErrorMessage: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let PQresultStatus: @convention(c) (OpaquePointer?) -> ExecStatusType
    let PQsetNoticeProcessor:
        @convention(c) (OpaquePointer?, PQnoticeProcessor?, UnsafeMutableRawPointer?) ->
            PQnoticeProcessor?
    let PQstatus: @convention(c) (OpaquePointer?) -> ConnStatusType

    /// Opens `library` and resolves every function, or throws naming the library (and the symbol).
    /// Internal so tests can point it at a library that is missing or is not libpq. The handle is never
    /// closed: the functions stay in use for the life of the process.
    init(library: String) throws(LedgerError) {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw LedgerError(
                .storage,
                "cannot load \(library), which a PostgreSQL ledger needs (install libpq5): \(reason)")
        }
        func symbol<F>(_ name: String) throws(LedgerError) -> F {
            guard let address = dlsym(handle, name) else {
                throw LedgerError(.storage, "\(library) has no function \(name): it is not a usable libpq")
            }
            return unsafeBitCast(address, to: F.self)
        }
        PQclear = try symbol("PQclear")
        PQcmdStatus = try symbol("PQcmdStatus")
        PQcmdTuples = try symbol("PQcmdTuples")
        PQconnectdbParams = try symbol("PQconnectdbParams")
        PQerrorMessage = try symbol("PQerrorMessage")
        PQexec = try symbol("PQexec")
        PQexecPrepared = try symbol("PQexecPrepared")
        PQfinish = try symbol("PQfinish")
        PQftype = try symbol("PQftype")
        PQgetisnull = try symbol("PQgetisnull")
        PQgetvalue = try symbol("PQgetvalue")
        PQnfields = try symbol("PQnfields")
        PQntuples = try symbol("PQntuples")
        PQprepare = try symbol("PQprepare")
        PQreset = try symbol("PQreset")
        PQresultErrorField = try symbol("PQresultErrorField")
        PQresultErrorMessage = try symbol("PQresultErrorMessage")
        PQresultStatus = try symbol("PQresultStatus")
        PQsetNoticeProcessor = try symbol("PQsetNoticeProcessor")
        PQstatus = try symbol("PQstatus")
    }
}
