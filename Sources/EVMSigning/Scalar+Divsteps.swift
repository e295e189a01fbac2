/// A constant-time scalar inverse by Bernstein–Yang divsteps ("Fast constant-time gcd computation and
/// modular inversion", 2019), about twice as fast as Fermat's x^(n−2).
///
/// The divstep on (δ, f, g), f odd, is: if δ > 0 and g is odd, (1 − δ, g, (g − f)/2); else if g is odd,
/// (1 + δ, f, (g + f)/2); else (1 + δ, f, g/2). Started on (1, n, x), 741 steps bring g to 0 and f to ±1 for
/// any 0 < x < n (Theorem 11.2 of the paper, 256-bit inputs); this runs 12 batches of 62 = 744, always.
///
/// Each batch runs 62 divsteps on the low 64 bits of f and g only (enough to decide them all) and records
/// them as a matrix M with 2^62·(f', g') = M·(f, g), then applies M to the full f and g (exact division by
/// 2^62) and to the coefficients d, e, kept as fully reduced scalars with f ≡ 2^(−62j)·d·x and
/// g ≡ 2^(−62j)·e·x (mod n) after j batches. At the end f = ±1, so x⁻¹ = ±2^(−744)·d.
///
/// Constant time: every step is wrapping arithmetic and masked selection (the masks are hidden from the
/// optimiser by ``opaqueZero()``), the number of steps is fixed, and no index depends on x.
extension Scalar {
    /// x⁻¹ mod n for non-zero x; zero for zero (then g starts at 0 and d stays 0).
    func inverseDivsteps() -> Scalar {
        let barrier = opaqueZero()
        let order = Scalar.order
        var f = SignedWide(order.w0, order.w1, order.w2, order.w3)
        var g = SignedWide(l0, l1, l2, l3)
        var d = Scalar.zero
        var e = Scalar.one
        var delta: Int64 = 1
        for _ in 0..<12 {
            let matrix = Scalar.divsteps62(&delta, f.l0, g.l0, barrier: barrier)
            let nextF = SignedWide.combine(matrix.u, f, matrix.v, g)
            let nextG = SignedWide.combine(matrix.q, f, matrix.r, g)
            f = nextF
            g = nextG
            let nextD = Scalar.combine(matrix.u, d, matrix.v, e)
            let nextE = Scalar.combine(matrix.q, d, matrix.r, e)
            d = nextD
            e = nextE
        }
        // f is ±1: negate the result when it is −1 (its sign bit, masked).
        let negative = UInt64(bitPattern: f.l4 >> 63) ^ barrier
        let result = d * Scalar.twoToMinus744
        return Scalar.select(negative, -result, result)
    }

    /// 2^(−744) mod n (public; computed once).
    static let twoToMinus744: Scalar = {
        var power = Scalar.one
        for _ in 0..<744 { power = power + power }
        return power.inverse()
    }()

    /// The transition matrix of 62 divsteps, scaled by 2^62: 2^62·(f', g') = (u·f + v·g, q·f + r·g).
    struct Transition {
        var u: Int64
        var v: Int64
        var q: Int64
        var r: Int64
    }

    /// 62 divsteps on the low words of f and g (f odd), updating δ. Branch-free: the cases are masks.
    @inline(__always)
    static func divsteps62(_ delta: inout Int64, _ f0: UInt64, _ g0: UInt64, barrier: UInt64) -> Transition {
        var f = f0
        var g = g0
        // Row (u, v) gives 2^i·f_i, row (q, r) gives 2^i·g_i, as combinations of f_0 and g_0.
        var u: UInt64 = 1
        var v: UInt64 = 0
        var q: UInt64 = 0
        var r: UInt64 = 1
        for _ in 0..<62 {
            let gOdd = (0 &- (g & 1)) ^ barrier
            // All ones when δ > 0: the sign bit of −δ.
            let positive = UInt64(bitPattern: (0 &- delta) >> 63)
            let swap = gOdd & positive
            // When swapping: (δ, f, g) ← (−δ, g, −f), rows (u, v), (q, r) ← (q, r), (−u, −v).
            delta = Int64(bitPattern: (UInt64(bitPattern: delta) ^ swap) &- swap)
            let oldF = f
            f ^= (f ^ g) & swap
            g = (g & ~swap) | ((0 &- oldF) & swap)
            let oldU = u
            let oldV = v
            u ^= (u ^ q) & swap
            v ^= (v ^ r) & swap
            q = (q & ~swap) | ((0 &- oldU) & swap)
            r = (r & ~swap) | ((0 &- oldV) & swap)
            // When g is odd: g ← g + f (now even), row (q, r) += (u, v).
            g = g &+ (f & gOdd)
            q = q &+ (u & gOdd)
            r = r &+ (v & gOdd)
            // δ ← δ + 1, g ← g/2, and the other row doubles to keep the common 2^i scale.
            delta = delta &+ 1
            g >>= 1
            u = u &<< 1
            v = v &<< 1
        }
        return Transition(
            u: Int64(bitPattern: u), v: Int64(bitPattern: v), q: Int64(bitPattern: q), r: Int64(bitPattern: r))
    }

    /// (a·x + b·y) mod n for |a| + |b| ≤ 2^62. The signed sum is formed in 320 bits with 2^62·n added, which
    /// makes it positive (|a·x + b·y| < 2^62·n) and below 2^319; its top word t4 < 2^63 is folded once with
    /// 2^256 ≡ c (mod n), leaving a value below 2^256 + 2^192 < 2n for the masked final subtraction.
    /// Column sums stay below 2^127 in absolute value, so the signed 128-bit accumulator cannot overflow.
    @inline(__always)
    static func combine(_ a: Int64, _ x: Scalar, _ b: Int64, _ y: Scalar) -> Scalar {
        let a128 = Int128(a)
        let b128 = Int128(b)
        let offset = Scalar.orderTimes2to62
        var accumulator = a128 &* Int128(x.l0) &+ b128 &* Int128(y.l0) &+ Int128(offset.0)
        let t0 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l1) &+ b128 &* Int128(y.l1) &+ Int128(offset.1)
        let t1 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l2) &+ b128 &* Int128(y.l2) &+ Int128(offset.2)
        let t2 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l3) &+ b128 &* Int128(y.l3) &+ Int128(offset.3)
        let t3 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        let t4 = UInt64(truncatingIfNeeded: accumulator &+ Int128(offset.4))
        // t4·2^256 ≡ t4·(c0 + c1·2^64 + 2^128).
        var carry: UInt64 = 0
        let s0 = mac(t4, c0, t0, &carry)
        let s1 = mac(t4, c1, t1, &carry)
        let s2 = adc(t2, t4, &carry)
        let s3 = adc(t3, 0, &carry)
        return canonical(s0, s1, s2, s3, carry: carry)
    }

    /// 2^62·n in five 64-bit limbs (318 bits).
    static let orderTimes2to62: (UInt64, UInt64, UInt64, UInt64, UInt64) = {
        let n = Scalar.order
        return (n.w0 << 62, n.w1 << 62 | n.w0 >> 2, n.w2 << 62 | n.w1 >> 2, n.w3 << 62 | n.w2 >> 2, n.w3 >> 2)
    }()
}

/// A signed integer of 320 bits in two's complement (limbs little-endian, l4 signed), for f and g of the
/// divsteps inversion (|f|, |g| < 2^256 throughout).
struct SignedWide {
    var l0: UInt64
    var l1: UInt64
    var l2: UInt64
    var l3: UInt64
    var l4: Int64

    init(_ l0: UInt64, _ l1: UInt64, _ l2: UInt64, _ l3: UInt64, _ l4: Int64 = 0) {
        self.l0 = l0
        self.l1 = l1
        self.l2 = l2
        self.l3 = l3
        self.l4 = l4
    }

    /// (a·x + b·y) / 2^62 for |a| + |b| ≤ 2^62, when the division is exact (the divsteps make it so).
    /// Each column sum is below 2^127 in absolute value, so signed 128-bit accumulation cannot overflow.
    @inline(__always)
    static func combine(_ a: Int64, _ x: SignedWide, _ b: Int64, _ y: SignedWide) -> SignedWide {
        let a128 = Int128(a)
        let b128 = Int128(b)
        var accumulator = a128 &* Int128(x.l0) &+ b128 &* Int128(y.l0)
        let r0 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l1) &+ b128 &* Int128(y.l1)
        let r1 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l2) &+ b128 &* Int128(y.l2)
        let r2 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l3) &+ b128 &* Int128(y.l3)
        let r3 = UInt64(truncatingIfNeeded: accumulator)
        accumulator >>= 64
        accumulator = accumulator &+ a128 &* Int128(x.l4) &+ b128 &* Int128(y.l4)
        let r4 = UInt64(truncatingIfNeeded: accumulator)
        // The value r0…r4 (320 bits, two's complement, |value| < 2^318) shifted right by 62, arithmetically.
        return SignedWide(
            r0 >> 62 | r1 << 2, r1 >> 62 | r2 << 2, r2 >> 62 | r3 << 2, r3 >> 62 | r4 << 2,
            Int64(bitPattern: r4) >> 62)
    }
}
