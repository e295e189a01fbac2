import Glibc

/// Which ledger owners (open ledgers, one per process) are alive, so `recover()` can release what a gone
/// owner reserved and never signed.
protocol LedgerOwners: AnyObject {
    /// This ledger's owner id, `own_` and 24 hex digits.
    var id: String { get }
    /// Forgets what gone owners left behind, if anything.
    func sweep()
    /// True while `owner` is alive (or cannot be shown gone).
    func isOwnerAlive(_ owner: String) throws(LedgerError) -> Bool
}

/// Liveness of ledger owners across processes, by `flock`.
///
/// Each open ledger creates `<db>.owners/<id>.lock` and holds an exclusive `flock` on it for its lifetime.
/// The kernel drops the lock when the process dies, even by SIGKILL, so another process can take the lock
/// exactly when the owner is gone; no pid reuse or clock is involved.
final class OwnerLock: LedgerOwners, Sendable {
    let id: String
    private let directory: String
    private let descriptor: Int32

    private init(id: String, directory: String, descriptor: Int32) {
        self.id = id
        self.directory = directory
        self.descriptor = descriptor
    }

    deinit {
        // A clean close: nothing of ours is in flight any more, so drop the file, then the lock.
        unlink(directory + "/" + id + ".lock")
        close(descriptor)
    }

    static func acquire(directory: String) throws(LedgerError) -> OwnerLock {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw LedgerError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let id = "own_" + randomHex(12)
        let path = directory + "/" + id + ".lock"
        // Locked under a temporary name and renamed into place: a file with an owner name is always
        // locked by a live owner or left by a dead one, never caught between creation and locking.
        let temporary = directory + "/.tmp-" + id
        let descriptor = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LedgerError(.io, "cannot create the owner lock \(temporary): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0, rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            close(descriptor)
            throw LedgerError(.io, "cannot lock \(path): \(message)")
        }
        // The lock file must be durable before any reservation names this owner, or a recovery after a
        // power loss would take a missing file for a dead owner.
        fsyncDirectory(of: path)
        return OwnerLock(id: id, directory: directory, descriptor: descriptor)
    }

    /// Removes the lock files of every owner that is gone (and temporary files of owners that died while
    /// starting). Safe against live owners: their files stay locked.
    func sweep() {
        guard let stream = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            names.append(name)
        }
        closedir(stream)
        for name in names {
            if name.hasSuffix(".lock") {
                let owner = String(name.dropLast(5))
                if !isOwnerAlive(owner) { removeDeadOwner(owner) }
            } else if name.hasPrefix(".tmp-own_") {
                let path = directory + "/" + name
                let other = open(path, O_RDWR | O_CLOEXEC)
                guard other >= 0 else { continue }
                // A starting owner creates its file a moment before locking it: leave young files alone.
                var status = stat()
                let old = fstat(other, &status) == 0 && time(nil) - status.st_mtim.tv_sec > 60
                if old, flock(other, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
                close(other)
            }
        }
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
