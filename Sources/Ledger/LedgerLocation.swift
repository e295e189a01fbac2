/// Where a ledger lives: an SQLite file on this machine, or a PostgreSQL database several machines share.
public enum LedgerLocation: Sendable, Hashable, CustomStringConvertible {
    /// An SQLite database file.
    case sqlite(path: String)
    /// A PostgreSQL database, as a `postgres://` or `postgresql://` URL without a password.
    case postgres(url: String)

    /// Reads a location: a `postgres://` or `postgresql://` URL is PostgreSQL, anything else a file path.
    ///
    /// - Throws: `LedgerError.Code.configuration` for a URL that carries a password (in its user part or
    ///   as a `password` parameter): URLs end up on command lines, in shell history and in logs, so the
    ///   password comes from `PGPASSWORD` or `~/.pgpass` (libpq reads both). The error never repeats the
    ///   URL. Also for an empty path or one with control characters.
    public init(_ text: String) throws(LedgerError) {
        guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw LedgerError(.configuration, "the ledger location must be a file path or a postgres:// URL")
        }
        guard let rest = Self.dropScheme(text) else {
            self = .sqlite(path: text)
            return
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            throw Self.passwordRefused
        }
        if let question = rest.firstIndex(of: "?") {
            for parameter in rest[rest.index(after: question)...].split(separator: "&") {
                let key = parameter.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                if Self.percentDecoded(key).lowercased() == "password" { throw Self.passwordRefused }
            }
        }
        self = .postgres(url: text)
    }

    private static let passwordRefused = LedgerError(
        .configuration,
        "the PostgreSQL ledger URL carries a password; remove it and set PGPASSWORD or use ~/.pgpass instead")

    private static func dropScheme(_ text: String) -> Substring? {
        for scheme in ["postgres://", "postgresql://"] where text.lowercased().hasPrefix(scheme) {
            return text.dropFirst(scheme.count)
        }
        return nil
    }

    private static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True for PostgreSQL.
    public var isPostgres: Bool {
        if case .postgres = self { return true }
        return false
    }

    /// The path or URL (a URL here never holds a password).
    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return url
        }
    }
}
