import Glibc
import Synchronization

/// Creates the ledger's database file owner-only, or tightens an existing one, without ever holding a
/// descriptor of a file SQLite in this process may have open.
///
/// Why no descriptor: POSIX `fcntl` locks belong to the process and the file, and closing *any*
/// descriptor of the file drops *all* of the process's locks on it, including those of an SQLite
/// connection already open on it (SQLite's "POSIX advisory locking is broken" caveat). Another process
/// could then checkpoint and delete the WAL, or change the journal mode, under a live connection. So:
/// - a missing file is created with `O_CREAT | O_EXCL | O_NOFOLLOW` and its descriptor closed before any
///   SQLite connection to it can exist (the check-create-close runs under a process-wide lock, which every
///   `Ledger.open` takes first, so no other opening can interleave);
/// - an existing file, and its `-wal` and `-shm` files, are checked and tightened by path (`stat`,
///   `chmod`), which takes no lock and so drops none.
enum LedgerFile {
    /// Serialises the creation step of every `Ledger.open` in this process.
    private static let creation = Mutex(())

    /// Makes `path` an existing regular file with mode 0600 (durably created when new).
    /// - Throws: `LedgerError.Code.io` naming the path when it cannot be created, examined or restricted.
    static func prepare(_ path: String) throws(LedgerError) {
        let result: Result<Void, LedgerError> = creation.withLock { _ in
            do throws(LedgerError) {
                try prepareLocked(path)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    private static func prepareLocked(_ path: String) throws(LedgerError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            // Ours alone: created this instant, and no SQLite connection in this process opens it before
            // the lock is released. The umask may have taken bits from 0600 that SQLite needs: set it exactly.
            let restricted = fchmod(descriptor, 0o600) == 0
            let problem = errno
            close(descriptor)
            guard restricted else { throw failure("cannot restrict to mode 0600", path, problem) }
            fsyncDirectory(of: path)
            return
        }
        guard errno == EEXIST else { throw failure("cannot create", path, errno) }
        // It exists (possibly through a symbolic link, which SQLite follows too): examine it by path.
        var status = stat()
        guard stat(path, &status) == 0 else {
            let problem = errno
            if problem == ENOENT {
                throw LedgerError(.io, "cannot open \(path): it is a symbolic link to a missing file")
            }
            throw failure("cannot examine", path, problem)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw LedgerError(.io, "cannot open \(path): it is not a regular file")
        }
        try restrict(path, status)
        // SQLite creates these with the database's mode, so they may predate a tightening of it.
        for suffix in ["-wal", "-shm"] {
            var companion = stat()
            if stat(path + suffix, &companion) == 0 { try restrict(path + suffix, companion) }
        }
    }

    private static func restrict(_ path: String, _ status: stat) throws(LedgerError) {
        guard status.st_mode & 0o077 != 0 else { return }
        guard chmod(path, 0o600) == 0 else { throw failure("cannot restrict to mode 0600", path, errno) }
    }

    private static func failure(_ what: String, _ path: String, _ code: Int32) -> LedgerError {
        LedgerError(.io, "\(what) \(path): \(String(cString: strerror(code)))")
    }
}
