import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Safety checks on what the vault trusts: its home must be its own and closed to everyone else, and the
/// tools and policies it enforces must not be writable by anyone but itself and root. A check that fails
/// stops the vault (fail closed): a policy an agent can edit is no policy.
public enum VaultHome {
    /// Checks the home: it exists, is a directory owned by this process's user, mode 0700 or stricter.
    public static func checkHome(_ path: String) throws(VaultError) {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw VaultError(.home, "the vault home \(path) does not exist or is not a directory")
        }
        guard info.st_uid == geteuid() else {
            throw VaultError(.home, "the vault home \(path) is owned by uid \(info.st_uid), not by the vault's user")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw VaultError(
                .home,
                "the vault home \(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 700 it"
            )
        }
    }

    /// `name` inside `directory` (as `NSString.appendingPathComponent` joined them, without full Foundation).
    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Checks that `path` (a directory) and the files directly in it are owned by this user or root and
    /// writable by no one else.
    public static func checkTrusted(_ path: String, what: String) throws(VaultError) {
        var entries: [String] = [path]
        if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
            entries += names.sorted().map { VaultHome.join(path, $0) }
        }
        for entry in entries {
            var info = stat()
            guard lstat(entry, &info) == 0 else { continue }
            guard info.st_uid == geteuid() || info.st_uid == 0 else {
                throw VaultError(
                    .home, "\(what) \(entry) is owned by uid \(info.st_uid); only the vault's user or root may own it")
            }
            guard info.st_mode & 0o022 == 0 || (info.st_mode & S_IFMT) == S_IFLNK else {
                throw VaultError(.home, "\(what) \(entry) is writable by other users; chmod go-w it")
            }
        }
    }
}
