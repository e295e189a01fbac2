import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The owner-request nonces the vault has accepted, kept durably: a nonce is written and `fsync`ed
/// before the request it belongs to runs, so a replay is refused even after a restart.
public final class NonceStore: Sendable {
    private let path: String
    private let used: Mutex<Set<String>>

    /// Opens (or creates, mode 0600) the store at `path`.
    public init(path: String) throws(OwnerAuthorityError) {
        self.path = path
        var loaded = Set<String>()
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw OwnerAuthorityError(.storage, "cannot read \(path)")
            }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                // Each line is "<nonce> <timestamp>"; the nonce alone decides.
                if let nonce = line.split(separator: " ").first { loaded.insert(String(nonce)) }
            }
        }
        self.used = Mutex(loaded)
    }

    /// Records `nonce` as used. Throws `.replay` when it was used before, `.storage` when it cannot be made
    /// durable (the request is then refused, never run unrecorded).
    public func claim(_ nonce: String, timestamp: Int64) throws(OwnerAuthorityError) {
        let result: Result<Void, OwnerAuthorityError> = used.withLock { used in
            guard !used.contains(nonce) else {
                return .failure(OwnerAuthorityError(.replay, "this request was already used (nonce seen before)"))
            }
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                return .failure(OwnerAuthorityError(.storage, "cannot open \(path) (errno \(errno))"))
            }
            defer { close(descriptor) }
            let line = Array("\(nonce) \(timestamp)\n".utf8)
            let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == line.count, fsync(descriptor) == 0 else {
                return .failure(OwnerAuthorityError(.storage, "cannot record the nonce in \(path) (errno \(errno))"))
            }
            used.insert(nonce)
            return .success(())
        }
        try result.get()
    }
}
