/// An integer modulo the secp256k1 group order n, always fully reduced (0 ≤ value < n).
///
/// Operations on secret scalars (the key, the nonce) run a fixed sequence of instructions: reductions fold
/// a fixed number of times and finish with masked selection.
struct Scalar: Sendable, Equatable {
    var l0: UInt64
    var l1: UInt64
    var l2: UInt64
    var l3: UInt64

    /// 2^256 − n, a 129-bit number: (c0, c1, 1).
    static let c0: UInt64 = 0x402D_A173_2FC9_BEBF
    static let c1: UInt64 = 0x4551_2319_50B7_5FC4
    static let zero = Scalar(l0: 0, l1: 0, l2: 0, l3: 0)
    static let one = Scalar(l0: 1, l1: 0, l2: 0, l3: 0)
    /// n itself, as a 256-bit integer.
    static let order = UInt256(
        w0: 0xBFD2_5E8C_D036_4141, w1: 0xBAAE_DCE6_AF48_A03B, w2: 0xFFFF_FFFF_FFFF_FFFE, w3: 0xFFFF_FFFF_FFFF_FFFF)
    /// ⌊n / 2⌋, the largest low-s value.
    static let halfOrder = UInt256(
        w0: 0xDFE9_2F46_681B_20A0, w1: 0x5D57_6E73_57A4_501D, w2: 0xFFFF_FFFF_FFFF_FFFF, w3: 0x7FFF_FFFF_FFFF_FFFF)

    init(l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64) {
        self.l0 = l0
        self.l1 = l1
        self.l2 = l2
        self.l3 = l3
    }

    /// The scalar equal to `value`, or nil when value ≥ n.
    init?(exactly value: UInt256) {
        guard value < Self.order else { return nil }
        self.init(l0: value.w0, l1: value.w1, l2: value.w2, l3: value.w3)
    }

    /// value mod n (a 256-bit value is below 2n, so one masked subtraction suffices).
    init(reducing value: UInt256) {
        self = Scalar.canonical(value.w0, value.w1, value.w2, value.w3, carry: 0)
    }

    var integer: UInt256 { UInt256(w0: l0, w1: l1, w2: l2, w3: l3) }
    var bigEndianBytes: [UInt8] { integer.bigEndianBytes }
    var isZero: Bool { (l0 | l1 | l2 | l3) == 0 }
    /// True when the value exceeds ⌊n/2⌋ (a "high s").
    var isHigh: Bool { Scalar.halfOrder < integer }

    /// Reduces value + carry·2^256 (< 2n) to the canonical range with a masked subtraction of n.
    @inline(__always)
    static func canonical(_ s0: UInt64, _ s1: UInt64, _ s2: UInt64, _ s3: UInt64, carry: UInt64) -> Scalar {
        var c: UInt64 = 0
        let t0 = adc(s0, c0, &c)
        let t1 = adc(s1, c1, &c)
        let t2 = adc(s2, 1, &c)
        let t3 = adc(s3, 0, &c)
        let mask = maskFromBit(c | carry)
        return Scalar(
            l0: (t0 & mask) | (s0 & ~mask), l1: (t1 & mask) | (s1 & ~mask),
            l2: (t2 & mask) | (s2 & ~mask), l3: (t3 & mask) | (s3 & ~mask))
    }

    /// Reduces a 512-bit value modulo n by folding the high half with 2^256 ≡ 2^256 − n a fixed number of times.
    static func reduce(_ r: Wide) -> Scalar {
        // Fold 1: L + H·(2^256 − n) < 2^386.
        let p = multiplyWide(r.4, r.5, r.6, r.7, c0, c1, 1, 0)
        var c: UInt64 = 0
        let m0 = adc(p.0, r.0, &c)
        let m1 = adc(p.1, r.1, &c)
        let m2 = adc(p.2, r.2, &c)
        let m3 = adc(p.3, r.3, &c)
        let m4 = adc(p.4, 0, &c)
        let m5 = adc(p.5, 0, &c)
        let m6 = adc(p.6, 0, &c)
        // Fold 2: the part above 2^256 is below 2^130, so the result is below 2^260.
        let q = multiplyWide(m4, m5, m6, 0, c0, c1, 1, 0)
        c = 0
        let q0 = adc(q.0, m0, &c)
        let q1 = adc(q.1, m1, &c)
        let q2 = adc(q.2, m2, &c)
        let q3 = adc(q.3, m3, &c)
        let q4 = adc(q.4, 0, &c)
        // Fold 3: q4 is tiny.
        c = 0
        var t0 = mac(q4, c0, q0, &c)
        var t1 = mac(q4, c1, q1, &c)
        var t2 = mac(q4, 1, q2, &c)
        let high = c
        c = 0
        var t3 = adc(q3, high, &c)
        // Fold 4: a carry means the value wrapped to something small; adding 2^256 − n cannot carry out.
        let mask = maskFromBit(c)
        var e: UInt64 = 0
        t0 = adc(t0, c0 & mask, &e)
        t1 = adc(t1, c1 & mask, &e)
        t2 = adc(t2, 1 & mask, &e)
        t3 = adc(t3, 0, &e)
        return canonical(t0, t1, t2, t3, carry: 0)
    }

    static func + (a: Scalar, b: Scalar) -> Scalar {
        var c: UInt64 = 0
        let s0 = adc(a.l0, b.l0, &c)
        let s1 = adc(a.l1, b.l1, &c)
        let s2 = adc(a.l2, b.l2, &c)
        let s3 = adc(a.l3, b.l3, &c)
        return canonical(s0, s1, s2, s3, carry: c)
    }

    static prefix func - (a: Scalar) -> Scalar {
        // n − a, and 0 for a = 0.
        var borrow: UInt64 = 0
        let order = Scalar.order
        let d0 = sbb(order.w0, a.l0, &borrow)
        let d1 = sbb(order.w1, a.l1, &borrow)
        let d2 = sbb(order.w2, a.l2, &borrow)
        let d3 = sbb(order.w3, a.l3, &borrow)
        let mask = ~maskIfZero(a.l0 | a.l1 | a.l2 | a.l3)
        return Scalar(l0: d0 & mask, l1: d1 & mask, l2: d2 & mask, l3: d3 & mask)
    }

    static func * (a: Scalar, b: Scalar) -> Scalar {
        reduce(multiplyWide(a.l0, a.l1, a.l2, a.l3, b.l0, b.l1, b.l2, b.l3))
    }

    func squared() -> Scalar {
        Scalar.reduce(squareWide(l0, l1, l2, l3))
    }

    /// self^(n−2), the inverse for non-zero scalars. The exponent is public, so a fixed 4-bit window
    /// indexed by its nibbles reveals nothing about `self`; every window does 4 squarings and 1 product.
    func inverse() -> Scalar {
        var powers = [Scalar](repeating: .one, count: 16)
        for index in 1..<16 { powers[index] = powers[index - 1] * self }
        // n − 2, most significant limb first.
        let exponent: [UInt64] = [
            0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE, 0xBAAE_DCE6_AF48_A03B, 0xBFD2_5E8C_D036_413F,
        ]
        var result = Scalar.one
        for limb in exponent {
            for shift in stride(from: 60, through: 0, by: -4) {
                result = result.squared().squared().squared().squared()
                result = result * powers[Int((limb >> UInt64(shift)) & 0xF)]
            }
        }
        return result
    }
}
