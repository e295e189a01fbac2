/// Keccak-256 as Ethereum uses it: Keccak-f[1600], rate 136 bytes, original `0x01` padding (not SHA3's `0x06`).
public enum Keccak256 {
    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]
    // Rotation offsets and the lane permutation (pi) in the order the combined rho-pi step visits them.
    private static let rotations: [UInt64] = [
        1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44,
    ]
    private static let piLanes: [Int] = [
        10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1,
    ]
    private static let rate = 136

    /// The 32-byte Keccak-256 digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var state = [UInt64](repeating: 0, count: 25)
        var offset = 0
        state.withUnsafeMutableBufferPointer { lanes in
            bytes.withUnsafeBufferPointer { input in
                while input.count - offset >= rate {
                    absorb(lanes, input, offset, rate)
                    permute(lanes)
                    offset += rate
                }
                // Last, partial block (possibly empty) with padding 0x01 … 0x80.
                var block = [UInt8](repeating: 0, count: rate)
                for index in 0..<(input.count - offset) { block[index] = input[offset + index] }
                block[input.count - offset] ^= 0x01
                block[rate - 1] ^= 0x80
                block.withUnsafeBufferPointer { padded in absorb(lanes, padded, 0, rate) }
                permute(lanes)
            }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        for lane in state[0..<4] {
            for shift in stride(from: 0, to: 64, by: 8) {
                digest.append(UInt8(truncatingIfNeeded: lane >> UInt64(shift)))
            }
        }
        return digest
    }

    @inline(__always)
    private static func absorb(
        _ lanes: UnsafeMutableBufferPointer<UInt64>, _ input: UnsafeBufferPointer<UInt8>, _ offset: Int, _ count: Int
    ) {
        for lane in 0..<(count / 8) {
            var value: UInt64 = 0
            for byte in 0..<8 { value |= UInt64(input[offset + lane * 8 + byte]) << UInt64(byte * 8) }
            lanes[lane] ^= value
        }
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    private static func permute(_ a: UnsafeMutableBufferPointer<UInt64>) {
        var c = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        for round in 0..<24 {
            // Theta.
            c.0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
            c.1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
            c.2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
            c.3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
            c.4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
            let d0 = c.4 ^ rotateLeft(c.1, 1)
            let d1 = c.0 ^ rotateLeft(c.2, 1)
            let d2 = c.1 ^ rotateLeft(c.3, 1)
            let d3 = c.2 ^ rotateLeft(c.4, 1)
            let d4 = c.3 ^ rotateLeft(c.0, 1)
            for row in stride(from: 0, to: 25, by: 5) {
                a[row] ^= d0
                a[row + 1] ^= d1
                a[row + 2] ^= d2
                a[row + 3] ^= d3
                a[row + 4] ^= d4
            }
            // Rho and pi.
            var carried = a[1]
            for step in 0..<24 {
                let lane = piLanes[step]
                let next = a[lane]
                a[lane] = rotateLeft(carried, rotations[step])
                carried = next
            }
            // Chi.
            for row in stride(from: 0, to: 25, by: 5) {
                let b0 = a[row]
                let b1 = a[row + 1]
                let b2 = a[row + 2]
                let b3 = a[row + 3]
                let b4 = a[row + 4]
                a[row] = b0 ^ (~b1 & b2)
                a[row + 1] = b1 ^ (~b2 & b3)
                a[row + 2] = b2 ^ (~b3 & b4)
                a[row + 3] = b3 ^ (~b4 & b0)
                a[row + 4] = b4 ^ (~b0 & b1)
            }
            // Iota.
            a[0] ^= roundConstants[round]
        }
    }
}
