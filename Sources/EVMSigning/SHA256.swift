/// SHA-256 (FIPS 180-4).
public struct SHA256: Sendable {
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    // The chaining state h0…h7, kept in stored properties so copying a hasher (HMAC's precomputed pads)
    // allocates nothing.
    private var h0: UInt32 = 0x6a09_e667
    private var h1: UInt32 = 0xbb67_ae85
    private var h2: UInt32 = 0x3c6e_f372
    private var h3: UInt32 = 0xa54f_f53a
    private var h4: UInt32 = 0x510e_527f
    private var h5: UInt32 = 0x9b05_688c
    private var h6: UInt32 = 0x1f83_d9ab
    private var h7: UInt32 = 0x5be0_cd19
    // Pending input (fewer than 64 bytes), inline so that hashers copy without allocating.
    private var buffer = InlineArray<64, UInt8>(repeating: 0)
    private var buffered = 0
    private var totalLength: UInt64 = 0

    /// Creates an empty hasher.
    public init() {}

    /// The SHA-256 digest of `data` (32 bytes).
    public static func hash<Bytes: Sequence>(_ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(data)
        return hasher.finalize()
    }

    /// Feeds more input.
    public mutating func update<Bytes: Sequence>(_ data: Bytes) where Bytes.Element == UInt8 {
        let handled: Void? = data.withContiguousStorageIfAvailable { bytes in update(contiguous: bytes) }
        if handled == nil {
            let copy = Array(data)
            copy.withUnsafeBufferPointer { bytes in update(contiguous: bytes) }
        }
    }

    private mutating func update(contiguous bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        totalLength &+= UInt64(bytes.count)
        var offset = 0
        if buffered > 0 {
            // Whole runs into the pending block, not byte by byte (HMAC-DRBG's inputs rarely start aligned).
            offset = Swift.min(64 - buffered, bytes.count)
            appendToBuffer(base, count: offset)
            guard buffered == 64 else { return }
            compressBuffer()
        }
        while bytes.count - offset >= 64 {
            compress(UnsafeRawPointer(base + offset))
            offset += 64
        }
        appendToBuffer(base + offset, count: bytes.count - offset)
    }

    /// Copies `count` bytes (at most 64 − buffered) to the end of the pending block.
    @inline(__always)
    private mutating func appendToBuffer(_ source: UnsafePointer<UInt8>, count: Int) {
        guard count > 0 else { return }
        let start = buffered
        withUnsafeMutableBytes(of: &buffer) { raw in
            (raw.baseAddress! + start).copyMemory(from: source, byteCount: count)
        }
        buffered += count
    }

    /// A hasher that has absorbed exactly the 64-byte block at `block` (HMAC's key pads), compressed
    /// directly rather than byte by byte through the pending buffer.
    init(firstBlock block: UnsafeRawPointer) {
        totalLength = 64
        compress(block)
    }

    /// Pads, finishes and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        let words = finalizeState()
        var digest = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: words) { raw in
            for index in 0..<8 {
                let word = raw.load(fromByteOffset: index * 4, as: UInt32.self)
                digest[index * 4] = UInt8(truncatingIfNeeded: word >> 24)
                digest[index * 4 + 1] = UInt8(truncatingIfNeeded: word >> 16)
                digest[index * 4 + 2] = UInt8(truncatingIfNeeded: word >> 8)
                digest[index * 4 + 3] = UInt8(truncatingIfNeeded: word)
            }
        }
        return digest
    }

    /// Pads and finishes; returns the digest as eight big-endian words without allocating.
    mutating func finalizeState() -> (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) {
        let bitLength = totalLength &* 8
        buffer[buffered] = 0x80
        buffered += 1
        if buffered > 56 {
            while buffered < 64 {
                buffer[buffered] = 0
                buffered += 1
            }
            compressBuffer()
        }
        while buffered < 56 {
            buffer[buffered] = 0
            buffered += 1
        }
        for index in 0..<8 { buffer[56 + index] = UInt8(truncatingIfNeeded: bitLength >> UInt64(56 - index * 8)) }
        compressBuffer()
        return (h0, h1, h2, h3, h4, h5, h6, h7)
    }

    /// Feeds one byte.
    @inline(__always)
    mutating func update(byte: UInt8) {
        totalLength &+= 1
        buffer[buffered] = byte
        buffered += 1
        if buffered == 64 { compressBuffer() }
    }

    /// Feeds another hasher's digest words as 32 big-endian bytes.
    mutating func update(digestWords words: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)) {
        withUnsafeBytes(of: words) { raw in
            for index in 0..<8 {
                let word = raw.load(fromByteOffset: index * 4, as: UInt32.self)
                update(byte: UInt8(truncatingIfNeeded: word >> 24))
                update(byte: UInt8(truncatingIfNeeded: word >> 16))
                update(byte: UInt8(truncatingIfNeeded: word >> 8))
                update(byte: UInt8(truncatingIfNeeded: word))
            }
        }
    }

    private mutating func compressBuffer() {
        var block = buffer
        withUnsafeBytes(of: &block) { raw in compress(raw.baseAddress!) }
        buffered = 0
    }

    /// One compression of the 64 bytes at `block`. The schedule lives in a stack buffer read without bounds
    /// checks, and the rounds are unrolled by eight with rotated variable roles instead of shuffling a…h.
    @inline(__always)
    private mutating func compress(_ block: UnsafeRawPointer) {
        let state = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { words in
            for index in 0..<16 {
                words[index] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
            }
            for index in 16..<64 {
                let w15 = words[index - 15]
                let w2 = words[index - 2]
                let s0 = rotateRight(w15, 7) ^ rotateRight(w15, 18) ^ (w15 >> 3)
                let s1 = rotateRight(w2, 17) ^ rotateRight(w2, 19) ^ (w2 >> 10)
                words[index] = words[index - 16] &+ s0 &+ words[index - 7] &+ s1
            }
            var a = h0
            var b = h1
            var c = h2
            var d = h3
            var e = h4
            var f = h5
            var g = h6
            var h = h7
            Self.roundConstants.withUnsafeBufferPointer { constants in
                var index = 0
                while index < 64 {
                    Self.round(a, b, c, &d, e, f, g, &h, constants[index] &+ words[index])
                    Self.round(h, a, b, &c, d, e, f, &g, constants[index + 1] &+ words[index + 1])
                    Self.round(g, h, a, &b, c, d, e, &f, constants[index + 2] &+ words[index + 2])
                    Self.round(f, g, h, &a, b, c, d, &e, constants[index + 3] &+ words[index + 3])
                    Self.round(e, f, g, &h, a, b, c, &d, constants[index + 4] &+ words[index + 4])
                    Self.round(d, e, f, &g, h, a, b, &c, constants[index + 5] &+ words[index + 5])
                    Self.round(c, d, e, &f, g, h, a, &b, constants[index + 6] &+ words[index + 6])
                    Self.round(b, c, d, &e, f, g, h, &a, constants[index + 7] &+ words[index + 7])
                    index += 8
                }
            }
            return (a, b, c, d, e, f, g, h)
        }
        h0 &+= state.0
        h1 &+= state.1
        h2 &+= state.2
        h3 &+= state.3
        h4 &+= state.4
        h5 &+= state.5
        h6 &+= state.6
        h7 &+= state.7
    }

    /// One SHA-256 round on roles (a … h); the caller rotates the roles instead of moving the values.
    @inline(__always)
    private static func round(
        _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
        _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ constantPlusWord: UInt32
    ) {
        let sum1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)
        let choice = (e & f) ^ (~e & g)
        let temp1 = h &+ sum1 &+ choice &+ constantPlusWord
        let sum0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)
        let majority = (a & b) ^ (a & c) ^ (b & c)
        d &+= temp1
        h = temp1 &+ sum0 &+ majority
    }

    @inline(__always)
    private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value >> count) | (value << (32 - count))
    }

    @inline(__always)
    private func rotateRight(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value >> count) | (value << (32 - count))
    }
}

/// HMAC-SHA256 (RFC 2104).
public enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key`.
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Keyed(key: key).authenticationCode(message)
    }

    /// A key with its inner and outer pads already absorbed, so each further code costs two fewer blocks
    /// (RFC 6979's HMAC-DRBG uses each key several times).
    struct Keyed {
        private var inner = SHA256()
        private var outer = SHA256()

        init(key: [UInt8]) {
            let blockKey = key.count > 64 ? SHA256.hash(key) : key
            // Both pads as whole blocks: one compression each, without per-byte bookkeeping.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { pads in
                for index in 0..<64 {
                    let byte = index < blockKey.count ? blockKey[index] : 0
                    pads[index] = byte ^ 0x36
                    pads[64 + index] = byte ^ 0x5c
                }
                let base = UnsafeRawPointer(pads.baseAddress!)
                inner = SHA256(firstBlock: base)
                outer = SHA256(firstBlock: base + 64)
            }
        }

        func authenticationCode(_ message: [UInt8]) -> [UInt8] {
            var innerCopy = inner
            innerCopy.update(message)
            return finish(&innerCopy)
        }

        /// The code of v ‖ separator ‖ a ‖ b, without building the concatenation.
        func authenticationCode(_ v: [UInt8], _ separator: UInt8, _ a: [UInt8] = [], _ b: [UInt8] = []) -> [UInt8] {
            var innerCopy = inner
            innerCopy.update(v)
            innerCopy.update(byte: separator)
            innerCopy.update(a)
            innerCopy.update(b)
            return finish(&innerCopy)
        }

        private func finish(_ innerState: inout SHA256) -> [UInt8] {
            var outerCopy = outer
            outerCopy.update(digestWords: innerState.finalizeState())
            return outerCopy.finalize()
        }
    }
}
