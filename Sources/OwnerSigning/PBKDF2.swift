import EVMSigning

/// PBKDF2 with HMAC-SHA256 (RFC 8018 §5.2), built on EVMSigning's SHA-256 so Purser needs no package.
///
/// The HMAC pads are absorbed once and copied for every iteration, so one iteration costs two SHA-256
/// compressions: the work factor is the iteration count and nothing else.
public enum PBKDF2 {
    /// Derives `length` bytes from `password` and `salt` with `iterations` rounds.
    public static func sha256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) -> [UInt8] {
        precondition(iterations >= 1 && length >= 1, "PBKDF2 needs at least one iteration and one byte")
        let key = password.count > 64 ? SHA256.hash(password) : password
        var inner = SHA256()
        var outer = SHA256()
        for index in 0..<64 {
            let byte = index < key.count ? key[index] : 0
            inner.update(CollectionOfOne(byte ^ 0x36))
            outer.update(CollectionOfOne(byte ^ 0x5c))
        }
        func mac(_ message: [UInt8]) -> [UInt8] {
            var innerCopy = inner
            innerCopy.update(message)
            var outerCopy = outer
            outerCopy.update(innerCopy.finalize())
            return outerCopy.finalize()
        }
        var output: [UInt8] = []
        var block: UInt32 = 1
        while output.count < length {
            var u = mac(
                salt + [
                    UInt8(block >> 24), UInt8((block >> 16) & 0xff), UInt8((block >> 8) & 0xff), UInt8(block & 0xff),
                ])
            var t = u
            if iterations > 1 {
                for _ in 1..<iterations {
                    u = mac(u)
                    for index in 0..<32 { t[index] ^= u[index] }
                }
            }
            output += t
            block += 1
        }
        return Array(output.prefix(length))
    }
}
