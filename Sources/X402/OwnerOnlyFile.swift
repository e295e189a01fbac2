import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the state home's trusted files (`signer.json`, `approval.key`) only when nobody else could have
/// written them, and refuses a home that others can write to.
///
/// `signer.json` decides which command signs payments; a file (or a home) writable by another user lets
/// that user run their command at the next paid call. So the file must be a regular file (not a
/// symlink) owned by the current user with no group or other permissions, and the home a directory owned
/// by the current user that group and others cannot write.
public enum OwnerOnlyFile {
    /// Reads `path`, or returns nil when it does not exist.
    ///
    /// - Parameters:
    ///   - what: how the file is named in errors (e.g. "the signer configuration").
    ///   - maximumBytes: larger files are refused.
    ///   - code: the error code of every refusal (`configuration`; the wallet's key file uses `keyFile`).
    /// - Throws: `X402Error` with `code` for a symlink, a non-regular file (a FIFO is refused, not waited on),
    ///   group or other permissions, another owner, a read error or a file that is too large. The content is
    ///   never quoted.
    public static func read(
        _ path: String, what: String, maximumBytes: Int = 64 * 1024, code: X402Error.Code = .configuration
    ) throws(X402Error) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let error = errno
            if error == ENOENT { return nil }
            let reason = error == ELOOP ? "is a symbolic link" : "cannot be opened (errno \(error))"
            throw X402Error(code, "\(what) \(path) \(reason)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw X402Error(code, "\(what) \(path) cannot be read") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw X402Error(code, "\(what) \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw X402Error(
                code,
                "\(what) \(path) has mode \(String(mode, radix: 8)); it must be owner-only (chmod 600 \(path))")
        }
        guard info.st_uid == geteuid() else {
            throw X402Error(code, "\(what) \(path) is owned by another user (uid \(info.st_uid))")
        }
        var buffer = [UInt8](repeating: 0, count: maximumBytes + 1)
        var total = 0
        while total < buffer.count {
            let count = buffer[total...].withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw X402Error(code, "\(what) \(path) cannot be read")
            }
            if count == 0 { break }
            total += count
        }
        guard total <= maximumBytes else {
            throw X402Error(code, "\(what) \(path) is larger than \(maximumBytes) bytes")
        }
        return Array(buffer[0..<total])
    }

    /// Refuses a home that is not a directory owned by the current user, or that group or others can
    /// write to. A home that does not exist yet passes (it holds nothing to trust).
    public static func checkHome(_ path: String) throws(X402Error) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw X402Error(.configuration, "the Purser home \(path) cannot be inspected (errno \(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw X402Error(.configuration, "the Purser home \(path) is not a directory")
        }
        guard info.st_uid == geteuid() else {
            throw X402Error(.configuration, "the Purser home \(path) is owned by another user (uid \(info.st_uid))")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o022 == 0 else {
            throw X402Error(
                .configuration,
                "the Purser home \(path) has mode \(String(mode, radix: 8)); group or others can write to it, so its signer configuration cannot be trusted (chmod 700 \(path))"
            )
        }
    }
}
