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
        // Read on bytes, the way libpq's URI parser reads it: as Characters, a combining mark glues itself to
        // ":", "@", "=" or "&" and hides a password libpq finds. Like libpq, the user part is everything before
        // an "@" that comes before the first "/" (a "?" does not end it), and it holds a password after a ":".
        let bytes = Array(rest)
        if let at = bytes.firstIndex(where: { $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "/") }),
            bytes[at] == UInt8(ascii: "@"), bytes[..<at].contains(UInt8(ascii: ":"))
        {
            throw Self.passwordRefused
        }
        if let question = bytes.firstIndex(of: UInt8(ascii: "?")) {
            for parameter in bytes[(question + 1)...].split(separator: UInt8(ascii: "&")) {
                let key = parameter.split(separator: UInt8(ascii: "="), maxSplits: 1).first ?? []
                if Self.percentDecoded(Array(key)).lowercased() == "password" { throw Self.passwordRefused }
            }
        }
        self = .postgres(url: text)
    }

    private static let passwordRefused = LedgerError(
        .configuration,
        "the PostgreSQL ledger URL carries a password; remove it and set PGPASSWORD or use ~/.pgpass instead")

    private static func dropScheme(_ text: String) -> Substring.UTF8View? {
        for scheme in ["postgres://", "postgresql://"] {
            let prefix = text.utf8.prefix(scheme.utf8.count)
            let lowered = prefix.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
            if lowered.elementsEqual(scheme.utf8) { return Substring(text).utf8.dropFirst(scheme.utf8.count) }
        }
        return nil
    }

    private static func percentDecoded(_ key: [UInt8]) -> String {
        var bytes: [UInt8] = []
        var iterator = key.makeIterator()
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
