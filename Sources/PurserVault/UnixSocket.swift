#if canImport(Glibc)
    import Glibc
#endif

/// Unix stream sockets: listen on a path, connect to a path.
enum UnixSocket {
    private static func address(_ path: String) throws(VaultError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
            throw VaultError(.socket, "the socket path must be 1–\(capacity - 1) bytes: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        return address
    }

    /// Connects to the socket at `path`.
    static func connect(_ path: String) throws(VaultError) -> Int32 {
        var address = try address(path)
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw VaultError(.socket, "socket() failed (errno \(errno))") }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw VaultError(
                .socket, "cannot connect to the vault at \(path)",
                cause: code == EACCES
                    ? "permission denied: this user is not in the vault's socket group" : "errno \(code)")
        }
        return descriptor
    }

    /// Binds and listens at `path` (mode 0660: the socket directory's group decides who may connect).
    /// A stale socket file is replaced; any other file at `path` is an error.
    static func listen(_ path: String) throws(VaultError) -> Int32 {
        var address = try address(path)
        var info = stat()
        if lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFSOCK else {
                throw VaultError(.socket, "\(path) exists and is not a socket; refusing to replace it")
            }
            unlink(path)
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw VaultError(.socket, "socket() failed (errno \(errno))") }
        // Created 0600 then opened to the group: never a window where others could connect.
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previous)
        guard bound == 0, chmod(path, 0o660) == 0, Glibc.listen(descriptor, 64) == 0 else {
            let code = errno
            close(descriptor)
            throw VaultError(.socket, "cannot listen at \(path)", cause: "errno \(code)")
        }
        return descriptor
    }
}
