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

    /// Keccak-f[1600] with the 25 lanes in local variables and rho/pi unrolled with constant offsets, so the
    /// rounds touch no memory besides the round constant.
    private static func permute(_ state: UnsafeMutableBufferPointer<UInt64>) {
        var a0 = state[0]
        var a1 = state[1]
        var a2 = state[2]
        var a3 = state[3]
        var a4 = state[4]
        var a5 = state[5]
        var a6 = state[6]
        var a7 = state[7]
        var a8 = state[8]
        var a9 = state[9]
        var a10 = state[10]
        var a11 = state[11]
        var a12 = state[12]
        var a13 = state[13]
        var a14 = state[14]
        var a15 = state[15]
        var a16 = state[16]
        var a17 = state[17]
        var a18 = state[18]
        var a19 = state[19]
        var a20 = state[20]
        var a21 = state[21]
        var a22 = state[22]
        var a23 = state[23]
        var a24 = state[24]
        roundConstants.withUnsafeBufferPointer { constants in
            for round in 0..<24 {
                // Theta.
                let c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
                let c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
                let c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
                let c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
                let c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
                let d0 = c4 ^ rotateLeft(c1, 1)
                let d1 = c0 ^ rotateLeft(c2, 1)
                let d2 = c1 ^ rotateLeft(c3, 1)
                let d3 = c2 ^ rotateLeft(c4, 1)
                let d4 = c3 ^ rotateLeft(c0, 1)
                // Rho and pi: lane (x, y) moves to (y, 2x + 3y) rotated by its offset.
                let b0 = a0 ^ d0
                let b1 = rotateLeft(a6 ^ d1, 44)
                let b2 = rotateLeft(a12 ^ d2, 43)
                let b3 = rotateLeft(a18 ^ d3, 21)
                let b4 = rotateLeft(a24 ^ d4, 14)
                let b5 = rotateLeft(a3 ^ d3, 28)
                let b6 = rotateLeft(a9 ^ d4, 20)
                let b7 = rotateLeft(a10 ^ d0, 3)
                let b8 = rotateLeft(a16 ^ d1, 45)
                let b9 = rotateLeft(a22 ^ d2, 61)
                let b10 = rotateLeft(a1 ^ d1, 1)
                let b11 = rotateLeft(a7 ^ d2, 6)
                let b12 = rotateLeft(a13 ^ d3, 25)
                let b13 = rotateLeft(a19 ^ d4, 8)
                let b14 = rotateLeft(a20 ^ d0, 18)
                let b15 = rotateLeft(a4 ^ d4, 27)
                let b16 = rotateLeft(a5 ^ d0, 36)
                let b17 = rotateLeft(a11 ^ d1, 10)
                let b18 = rotateLeft(a17 ^ d2, 15)
                let b19 = rotateLeft(a23 ^ d3, 56)
                let b20 = rotateLeft(a2 ^ d2, 62)
                let b21 = rotateLeft(a8 ^ d3, 55)
                let b22 = rotateLeft(a14 ^ d4, 39)
                let b23 = rotateLeft(a15 ^ d0, 41)
                let b24 = rotateLeft(a21 ^ d1, 2)
                // Chi, then iota on lane 0.
                a0 = b0 ^ (~b1 & b2) ^ constants[round]
                a1 = b1 ^ (~b2 & b3)
                a2 = b2 ^ (~b3 & b4)
                a3 = b3 ^ (~b4 & b0)
                a4 = b4 ^ (~b0 & b1)
                a5 = b5 ^ (~b6 & b7)
                a6 = b6 ^ (~b7 & b8)
                a7 = b7 ^ (~b8 & b9)
                a8 = b8 ^ (~b9 & b5)
                a9 = b9 ^ (~b5 & b6)
                a10 = b10 ^ (~b11 & b12)
                a11 = b11 ^ (~b12 & b13)
                a12 = b12 ^ (~b13 & b14)
                a13 = b13 ^ (~b14 & b10)
                a14 = b14 ^ (~b10 & b11)
                a15 = b15 ^ (~b16 & b17)
                a16 = b16 ^ (~b17 & b18)
                a17 = b17 ^ (~b18 & b19)
                a18 = b18 ^ (~b19 & b15)
                a19 = b19 ^ (~b15 & b16)
                a20 = b20 ^ (~b21 & b22)
                a21 = b21 ^ (~b22 & b23)
                a22 = b22 ^ (~b23 & b24)
                a23 = b23 ^ (~b24 & b20)
                a24 = b24 ^ (~b20 & b21)
            }
        }
        state[0] = a0
        state[1] = a1
        state[2] = a2
        state[3] = a3
        state[4] = a4
        state[5] = a5
        state[6] = a6
        state[7] = a7
        state[8] = a8
        state[9] = a9
        state[10] = a10
        state[11] = a11
        state[12] = a12
        state[13] = a13
        state[14] = a14
        state[15] = a15
        state[16] = a16
        state[17] = a17
        state[18] = a18
        state[19] = a19
        state[20] = a20
        state[21] = a21
        state[22] = a22
        state[23] = a23
        state[24] = a24
    }
}
