import Glibc

/// Liveness of ledger owners across processes, by `flock`.
///
/// Each open ledger creates `<db>.owners/<id>.lock` and holds an exclusive `flock` on it for its lifetime.
/// The kernel drops the lock when the process dies, even by SIGKILL, so another process can take the lock
/// exactly when the owner is gone; no pid reuse or clock is involved.
final class OwnerLock: Sendable {
    let id: String
    private let directory: String
    private let descriptor: Int32

    private init(id: String, directory: String, descriptor: Int32) {
        self.id = id
        self.directory = directory
        self.descriptor = descriptor
    }

    deinit {
        // Closing drops the flock; the file stays until a recovery sees the owner is gone and removes it.
        close(descriptor)
    }

    static func acquire(directory: String) throws(LedgerError) -> OwnerLock {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw LedgerError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let id = "own_" + randomHex(12)
        let path = directory + "/" + id + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LedgerError(.io, "cannot create the owner lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw LedgerError(.io, "cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        // The lock file must exist before any reservation names this owner, or a recovery elsewhere
        // would take a missing file for a dead owner.
        fsync(descriptor)
        fsyncDirectory(of: path)
        return OwnerLock(id: id, directory: directory, descriptor: descriptor)
    }

    private func path(of owner: String) -> String? {
        // Owner ids come from the database: accept only our own format before touching the file system.
        guard owner.hasPrefix("own_"), owner.utf8.count == 28,
            owner.utf8.dropFirst(4).allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { return nil }
        return directory + "/" + owner + ".lock"
    }

    /// True while the owner's process holds its lock.
    func isOwnerAlive(_ owner: String) -> Bool {
        if owner == id { return true }
        guard let path = path(of: owner) else { return false }
        let other = open(path, O_RDWR | O_CLOEXEC)
        guard other >= 0 else { return errno != ENOENT }
        defer { close(other) }
        if flock(other, LOCK_EX | LOCK_NB) == 0 {
            flock(other, LOCK_UN)
            return false
        }
        return true
    }

    /// Removes a dead owner's lock file.
    func removeDeadOwner(_ owner: String) {
        guard owner != id, let path = path(of: owner) else { return }
        let other = open(path, O_RDWR | O_CLOEXEC)
        guard other >= 0 else { return }
        defer { close(other) }
        if flock(other, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
    }
}
