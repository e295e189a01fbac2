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

    /// The scalar equal to `value` and an all-ones mask when 0 < value < n; otherwise zero and a zero mask.
    /// Constant time: the comparison is a borrow chain, so a secret `value` (a key, an RFC 6979 candidate)
    /// steers no branch; the caller declassifies only the mask.
    static func checkedNonZero(_ value: UInt256) -> (scalar: Scalar, valid: UInt64) {
        let order = Scalar.order
        var borrow: UInt64 = 0
        _ = sbb(value.w0, order.w0, &borrow)
        _ = sbb(value.w1, order.w1, &borrow)
        _ = sbb(value.w2, order.w2, &borrow)
        _ = sbb(value.w3, order.w3, &borrow)
        // borrow is 1 exactly when value < n.
        let valid = maskFromBit(borrow) & ~maskIfZero(value.w0 | value.w1 | value.w2 | value.w3)
        return (
            Scalar(l0: value.w0 & valid, l1: value.w1 & valid, l2: value.w2 & valid, l3: value.w3 & valid), valid
        )
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

    /// Reduces a 512-bit value modulo n: two folds with 2^256 ≡ c = 2^256 − n = c0 + c1·2^64 + 2^128
    /// (512 → 385 → 258 bits), a last fold of the top word, and one masked subtraction. Column-wise with a
    /// three-word accumulator; the same instructions run for every input.
    @inline(__always)
    static func reduce(_ r: Wide) -> Scalar {
        let (n0, n1, n2, n3) = (r.4, r.5, r.6, r.7)
        var acc = Accumulator()
        // 512 → 385 bits: m = L + H·c.
        acc.add(r.0)
        acc.multiplyAdd(n0, c0)
        let m0 = acc.extract()
        acc.add(r.1)
        acc.multiplyAdd(n1, c0)
        acc.multiplyAdd(n0, c1)
        let m1 = acc.extract()
        acc.add(r.2)
        acc.multiplyAdd(n2, c0)
        acc.multiplyAdd(n1, c1)
        acc.add(n0)
        let m2 = acc.extract()
        acc.add(r.3)
        acc.multiplyAdd(n3, c0)
        acc.multiplyAdd(n2, c1)
        acc.add(n1)
        let m3 = acc.extract()
        acc.multiplyAdd(n3, c1)
        acc.add(n2)
        let m4 = acc.extract()
        acc.add(n3)
        let m5 = acc.extract()
        let m6 = acc.extract()
        // 385 → 258 bits: p = m[0..<4] + m[4..<7]·c.
        acc.add(m0)
        acc.multiplyAdd(m4, c0)
        let p0 = acc.extract()
        acc.add(m1)
        acc.multiplyAdd(m5, c0)
        acc.multiplyAdd(m4, c1)
        let p1 = acc.extract()
        acc.add(m2)
        acc.multiplyAdd(m6, c0)
        acc.multiplyAdd(m5, c1)
        acc.add(m4)
        let p2 = acc.extract()
        acc.add(m3)
        acc.multiplyAdd(m6, c1)
        acc.add(m5)
        let p3 = acc.extract()
        let p4 = acc.extract() &+ m6
        // 258 → 256 bits plus a carry: t = p[0..<4] + p4·c, below 2^256 + 2^132 < 2n.
        return folding(p0, p1, p2, p3, top: p4)
    }

    /// (t0…t3 + t4·2^256) mod n for t4 < 2^63: one fold with 2^256 ≡ c = c0 + c1·2^64 + 2^128 leaves a value
    /// below 2^256 + 2^192 < 2n (t4·c < 2^192), for the masked final subtraction. The last step of
    /// ``reduce(_:)`` and of the divsteps coefficient update (``DivstepsResidue/combine(_:_:_:_:)``).
    @inline(__always)
    static func folding(_ t0: UInt64, _ t1: UInt64, _ t2: UInt64, _ t3: UInt64, top t4: UInt64) -> Scalar {
        var carry: UInt64 = 0
        let s0 = mac(t4, c0, t0, &carry)
        let s1 = mac(t4, c1, t1, &carry)
        let s2 = adc(t2, t4, &carry)
        let s3 = adc(t3, 0, &carry)
        return canonical(s0, s1, s2, s3, carry: carry)
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

    /// self^(2^count), by `count` squarings.
    @inline(__always)
    func squared(times count: Int) -> Scalar {
        var result = self
        for _ in 0..<count { result = result.squared() }
        return result
    }

    /// self^(n−2), the inverse for non-zero scalars (zero maps to zero), in constant time: the exponent is
    /// public, so every branch and table index below depends only on its bits, and each step is a fixed
    /// sequence of wrapping limb operations. The top 127 bits of n − 2 are all ones, reached by an addition
    /// chain of runs (x_k = self^(2^k − 1)); the low 129 bits use left-to-right windows of up to 5 bits over
    /// the odd powers self^1 … self^31. 255 squarings and 47 multiplications for every input.
    func inverse() -> Scalar {
        withUnsafeTemporaryAllocation(of: Scalar.self, capacity: 16) { odd in
            let square = squared()
            odd.initialize(repeating: self)
            for index in 1..<16 { odd[index] = odd[index - 1] * square }
            let x2 = odd[1]
            let x3 = x2.squared() * self
            let x6 = x3.squared(times: 3) * x3
            let x12 = x6.squared(times: 6) * x6
            let x24 = x12.squared(times: 12) * x12
            let x48 = x24.squared(times: 24) * x24
            let x96 = x48.squared(times: 48) * x48
            let x120 = x96.squared(times: 24) * x24
            let x126 = x120.squared(times: 6) * x6
            var result = x126.squared() * self
            for window in Scalar.inverseWindows {
                result = result.squared(times: window.squarings)
                if window.oddIndex >= 0 { result = result * odd[window.oddIndex] }
            }
            return result
        }
    }

    /// The window schedule for the low 129 bits of n − 2 (bit 128 is its highest zero): for each window, the
    /// squarings to do and the odd power to multiply by (−1 for none). Derived once from the public exponent.
    static let inverseWindows: [(squarings: Int, oddIndex: Int)] = {
        let low: (UInt64, UInt64) = (0xBFD2_5E8C_D036_413F, 0xBAAE_DCE6_AF48_A03B)  // n − 2, bits 0…127
        func bit(_ index: Int) -> UInt64 {
            index >= 64 ? (low.1 >> UInt64(index - 64)) & 1 : (low.0 >> UInt64(index)) & 1
        }
        var windows: [(squarings: Int, oddIndex: Int)] = []
        var pending = 1  // bit 128 is zero: one squaring before the first window
        var index = 127
        while index >= 0 {
            if bit(index) == 0 {
                pending += 1
                index -= 1
                continue
            }
            var bottom = Swift.max(index - 4, 0)
            while bit(bottom) == 0 { bottom += 1 }
            var value = 0
            for position in stride(from: index, through: bottom, by: -1) { value = value << 1 | Int(bit(position)) }
            windows.append((pending + index - bottom + 1, value >> 1))
            pending = 0
            index = bottom - 1
        }
        if pending > 0 { windows.append((pending, -1)) }
        return windows
    }()
}

/// A 192-bit column accumulator (c0, c1, c2) for product scanning.
struct Accumulator {
    var c0: UInt64 = 0
    var c1: UInt64 = 0
    var c2: UInt64 = 0

    // Carries are the high halves of 128-bit sums of zero-extended words, not Booleans: the optimiser
    // compiled `c2 &+= overflow ? 1 : 0` into a conditional jump.

    /// acc += a·b.
    @inline(__always)
    mutating func multiplyAdd(_ a: UInt64, _ b: UInt64) {
        let product = a.multipliedFullWidth(by: b)
        let low = UInt128(c0) &+ UInt128(product.low)
        c0 = UInt64(truncatingIfNeeded: low)
        let middle = UInt128(c1) &+ UInt128(product.high) &+ (low >> 64)
        c1 = UInt64(truncatingIfNeeded: middle)
        c2 &+= UInt64(truncatingIfNeeded: middle >> 64)
    }

    /// acc += a.
    @inline(__always)
    mutating func add(_ a: UInt64) {
        let low = UInt128(c0) &+ UInt128(a)
        c0 = UInt64(truncatingIfNeeded: low)
        let middle = UInt128(c1) &+ (low >> 64)
        c1 = UInt64(truncatingIfNeeded: middle)
        c2 &+= UInt64(truncatingIfNeeded: middle >> 64)
    }

    /// Returns the low word and shifts the accumulator down by 64 bits.
    @inline(__always)
    mutating func extract() -> UInt64 {
        let low = c0
        c0 = c1
        c1 = c2
        c2 = 0
        return low
    }
}

extension Scalar {
    /// The inverse by the binary extended Euclidean algorithm: fast but **variable time**, so callers pass
    /// only public values (signature recovery); secrets use ``inverse()``. Returns zero for zero.
    ///
    /// Each step strips all trailing zero bits of u (or v) at once and divides the matching coefficient by
    /// the same power of two in one go (Montgomery-style: add the multiple of n that clears those bits, then
    /// shift), instead of one bit per iteration.
    func inverseVariableTime() -> Scalar {
        if isZero { return .zero }
        let order = Scalar.order
        // Invariants: x1·self ≡ u and x2·self ≡ v (mod n); u and v stay positive and below n.
        var u = (l0, l1, l2, l3)
        var v = (order.w0, order.w1, order.w2, order.w3)
        var x1 = Scalar.one
        var x2 = Scalar.zero
        while !Scalar.isOne(u) && !Scalar.isOne(v) {
            while u.0 & 1 == 0 {
                let shift = min(u.0.trailingZeroBitCount, 63)
                u = Scalar.shiftedRight(u, by: shift)
                x1 = x1.dividedByPowerOfTwo(shift)
            }
            while v.0 & 1 == 0 {
                let shift = min(v.0.trailingZeroBitCount, 63)
                v = Scalar.shiftedRight(v, by: shift)
                x2 = x2.dividedByPowerOfTwo(shift)
            }
            if Scalar.lessThan(u, v) {
                v = Scalar.subtracting(v, u)
                x2 = x2 + -x1
            } else {
                u = Scalar.subtracting(u, v)
                x1 = x1 + -x2
            }
        }
        return Scalar.isOne(u) ? x1 : x2
    }

    /// −n⁻¹ mod 2^64 (n is odd), by Newton's iteration: each step doubles the number of correct low bits.
    private static let negatedOrderInverse: UInt64 = {
        let n0 = order.w0
        var inverse = n0  // correct to 3 bits, since n0·n0 ≡ 1 (mod 8) for odd n0
        for _ in 0..<5 { inverse = inverse &* (2 &- n0 &* inverse) }
        return 0 &- inverse
    }()

    /// self / 2^shift mod n for 1 ≤ shift ≤ 63: self + m·n with m = −self·n⁻¹ mod 2^shift is divisible by
    /// 2^shift, and (self + m·n) / 2^shift < (n + (2^shift − 1)·n) / 2^shift = n, so it is fully reduced.
    private func dividedByPowerOfTwo(_ shift: Int) -> Scalar {
        let m = (l0 &* Scalar.negatedOrderInverse) & ((1 << UInt64(shift)) &- 1)
        let order = Scalar.order
        var carry: UInt64 = 0
        let s0 = mac(m, order.w0, l0, &carry)
        let s1 = mac(m, order.w1, l1, &carry)
        let s2 = mac(m, order.w2, l2, &carry)
        let s3 = mac(m, order.w3, l3, &carry)
        let s4 = carry
        let right = UInt64(shift)
        let left = UInt64(64 - shift)
        return Scalar(
            l0: s0 >> right | s1 << left, l1: s1 >> right | s2 << left, l2: s2 >> right | s3 << left,
            l3: s3 >> right | s4 << left)
    }

    private typealias Limbs = (UInt64, UInt64, UInt64, UInt64)

    private static func isOne(_ a: Limbs) -> Bool { a.0 == 1 && (a.1 | a.2 | a.3) == 0 }

    /// a >> shift for 1 ≤ shift ≤ 63.
    private static func shiftedRight(_ a: Limbs, by shift: Int) -> Limbs {
        let right = UInt64(shift)
        let left = UInt64(64 - shift)
        return (a.0 >> right | a.1 << left, a.1 >> right | a.2 << left, a.2 >> right | a.3 << left, a.3 >> right)
    }

    private static func lessThan(_ a: Limbs, _ b: Limbs) -> Bool {
        if a.3 != b.3 { return a.3 < b.3 }
        if a.2 != b.2 { return a.2 < b.2 }
        if a.1 != b.1 { return a.1 < b.1 }
        return a.0 < b.0
    }

    private static func subtracting(_ a: Limbs, _ b: Limbs) -> Limbs {
        var borrow: UInt64 = 0
        let d0 = sbb(a.0, b.0, &borrow)
        let d1 = sbb(a.1, b.1, &borrow)
        let d2 = sbb(a.2, b.2, &borrow)
        let d3 = sbb(a.3, b.3, &borrow)
        return (d0, d1, d2, d3)
    }
}
