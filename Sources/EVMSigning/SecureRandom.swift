import Glibc

/// Cryptographically secure random bytes from the kernel: `getentropy(3)` (glibc's wrapper over `getrandom(2)`,
/// which Swift's Glibc module exposes where `getrandom` itself is not), falling back to `/dev/urandom`.
public enum SecureRandom {
    /// `count` random bytes; throws rather than return anything weaker.
    public static func bytes(_ count: Int) throws(SigningError) -> [UInt8] {
        guard count >= 0 else {
            throw SigningError(code: .randomUnavailable, message: "a negative number of random bytes was requested")
        }
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        let ok = buffer.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            // getentropy returns at most 256 bytes per call, all or nothing.
            while filled < count {
                let chunk = min(256, count - filled)
                guard getentropy(base + filled, chunk) == 0 else { return false }
                filled += chunk
            }
            return true
        }
        if ok { return buffer }
        return try urandom(count)
    }

    private static func urandom(_ count: Int) throws(SigningError) -> [UInt8] {
        let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SigningError(code: .randomUnavailable, message: "neither getrandom(2) nor /dev/urandom is usable")
        }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        let ok = buffer.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            while filled < count {
                let result = read(descriptor, base + filled, count - filled)
                if result > 0 {
                    filled += result
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
        guard ok else { throw SigningError(code: .randomUnavailable, message: "reading /dev/urandom failed") }
        return buffer
    }
}
