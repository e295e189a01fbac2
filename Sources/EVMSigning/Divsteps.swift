/// Constant-time modular inversion by Bernstein–Yang divsteps ("Fast constant-time gcd computation and
/// modular inversion", 2019) in the half-delta form libsecp256k1 uses, for both secp256k1 moduli: the
/// scalar inverse of signing (modulo n) and the affine conversion of k·G (modulo p).
///
/// The half-delta divstep on (δ, f, g), f odd, δ starting at 1/2, is: if δ > 0 and g is odd,
/// (1 − δ, g, (g − f)/2); else if g is odd, (1 + δ, f, (g + f)/2); else (1 + δ, f, g/2). Started on
/// (1/2, m, x), 590 steps bring g to 0 and f to ±1 for any 0 < x < m < 2^256 (the computer-checked bound
/// published with libsecp256k1, doc/safegcd_implementation.md and sipa/safegcd-bounds; the original
/// divsteps need 741 by the paper's Theorem 11.2). This runs 10 batches of 59 = 590, always.
///
/// Each batch runs 59 divsteps on the low 64 bits of f and g only (enough to decide them all) and records
/// them as a matrix M with 2^59·(f', g') = M·(f, g), then applies M to the full f and g (exact division by
/// 2^59) and to the coefficients d, e, kept as fully reduced residues with f ≡ 2^(−59j)·d·x and
/// g ≡ 2^(−59j)·e·x (mod m) after j batches. At the end f = ±1, so x⁻¹ = ±2^(−590)·d.
///
/// Constant time: every step is wrapping arithmetic and masked selection (the masks are hidden from the
/// optimiser by ``opaqueZero()``), the number of steps is fixed, and no index depends on x.
enum Divsteps {
    /// Batches and steps per batch: 10 × 59 = 590.
    static let batches = 10
    static let steps = 59

    /// The transition matrix of 59 divsteps, scaled by 2^59: 2^59·(f', g') = (u·f + v·g, q·f + r·g).
    struct Transition {
        var u: Int64
        var v: Int64
        var q: Int64
        var r: Int64
    }

    /// 59 half-delta divsteps on the low words of f and g (f odd), updating ζ = −(δ + 1/2) (so ζ < 0 ⟺ δ > 0).
    /// Branch-free, after libsecp256k1's `secp256k1_modinv64_divsteps_59`: per step, conditionally negate f
    /// and its row (when δ > 0), add them to g and its row (when g is odd), and when both held, add the new
    /// g back to f (which makes f the old g): the swap without a swap.
    @inline(__always)
    static func batch(_ zeta: inout Int64, _ f0: UInt64, _ g0: UInt64, barrier: UInt64) -> Transition {
        var f = f0
        var g = g0
        // Row (u, v) gives 2^i·f_i, row (q, r) gives 2^i·g_i, as combinations of f_0 and g_0.
        var u: UInt64 = 1
        var v: UInt64 = 0
        var q: UInt64 = 0
        var r: UInt64 = 1
        var z = UInt64(bitPattern: zeta)
        for _ in 0..<steps {
            // All ones when δ > 0 (ζ < 0), and when g is odd.
            let positive = (0 &- (z >> 63)) ^ barrier
            let gOdd = (0 &- (g & 1)) ^ barrier
            // f, u, v negated when δ > 0.
            let x = (f ^ positive) &- positive
            let y = (u ^ positive) &- positive
            let w = (v ^ positive) &- positive
            g = g &+ (x & gOdd)
            q = q &+ (y & gOdd)
            r = r &+ (w & gOdd)
            let swap = positive & gOdd
            // ζ ← −ζ − 2 when swapping (δ ← 1 − δ), else ζ ← ζ − 1 (δ ← δ + 1).
            z = (z ^ swap) &- 1
            f = f &+ (g & swap)
            u = u &+ (q & swap)
            v = v &+ (r & swap)
            // g ← g/2; the other row doubles to keep the common 2^i scale.
            g >>= 1
            u = u &<< 1
            v = v &<< 1
        }
        zeta = Int64(bitPattern: z)
        return Transition(
            u: Int64(bitPattern: u), v: Int64(bitPattern: v), q: Int64(bitPattern: q), r: Int64(bitPattern: r))
    }

    /// Runs the 590 divsteps from f = `modulus`, g = x, applying each batch's matrix to the coefficients with
    /// `combine` ((a·x + b·y) mod m for |a| + |b| ≤ 2^62). Returns the final d and the mask of f's sign
    /// (all ones when f = −1), for the caller's ±2^(−590)·d.
    @inline(__always)
    static func run<Residue>(
        modulus: (UInt64, UInt64, UInt64, UInt64), x: (UInt64, UInt64, UInt64, UInt64), zero: Residue,
        one: Residue, combine: (Int64, Residue, Int64, Residue) -> Residue
    ) -> (d: Residue, negative: UInt64) {
        let barrier = opaqueZero()
        var f = SignedWide(modulus.0, modulus.1, modulus.2, modulus.3)
        var g = SignedWide(x.0, x.1, x.2, x.3)
        var d = zero
        var e = one
        var zeta: Int64 = -1
        for _ in 0..<batches {
            let matrix = batch(&zeta, f.l0, g.l0, barrier: barrier)
            let nextF = SignedWide.combine(matrix.u, f, matrix.v, g)
            let nextG = SignedWide.combine(matrix.q, f, matrix.r, g)
            f = nextF
            g = nextG
            let nextD = combine(matrix.u, d, matrix.v, e)
            let nextE = combine(matrix.q, d, matrix.r, e)
            d = nextD
            e = nextE
        }
        return (d, UInt64(bitPattern: f.l4 >> 63) ^ barrier)
    }
}

extension Scalar {
    /// x⁻¹ mod n for non-zero x, by 590 constant-time divsteps (see ``Divsteps``); zero for zero (then g starts
    /// at 0 and d stays 0).
    func inverseDivsteps() -> Scalar {
        let order = Scalar.order
        let (d, negative) = Divsteps.run(
            modulus: (order.w0, order.w1, order.w2, order.w3), x: (l0, l1, l2, l3), zero: Scalar.zero,
            one: Scalar.one, combine: Scalar.combine)
        let result = d * Scalar.twoToMinus590
        return Scalar.select(negative, -result, result)
    }

    /// 2^(−590) mod n (public; computed once).
    static let twoToMinus590: Scalar = {
        var power = Scalar.one
        for _ in 0..<(Divsteps.batches * Divsteps.steps) { power = power + power }
        return power.inverse()
    }()

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

extension FieldElement {
    /// x⁻¹ mod p for non-zero x, by 590 constant-time divsteps (see ``Divsteps``); zero for zero.
    func inverseDivsteps() -> FieldElement {
        let modulus = FieldElement.modulus
        let (d, negative) = Divsteps.run(
            modulus: (modulus.w0, modulus.w1, modulus.w2, modulus.w3), x: (l0, l1, l2, l3),
            zero: FieldElement.zero, one: FieldElement.one, combine: FieldElement.combine)
        let result = d * FieldElement.twoToMinus590
        return FieldElement.select(negative, -result, result)
    }

    /// 2^(−590) mod p (public; computed once).
    static let twoToMinus590: FieldElement = {
        var power = FieldElement.one
        for _ in 0..<(Divsteps.batches * Divsteps.steps) { power = power + power }
        return power.inverse()
    }()

    /// (a·x + b·y) mod p for |a| + |b| ≤ 2^62. As ``Scalar/combine(_:_:_:_:)``: the signed sum is formed in
    /// 320 bits with 2^62·p added, which makes it positive and below 2^319; its top word t4 < 2^63 is folded
    /// once with 2^256 ≡ 2^32 + 977 (mod p), leaving a value below 2^256 + 2^97 < 2p for the masked final
    /// subtraction.
    @inline(__always)
    static func combine(_ a: Int64, _ x: FieldElement, _ b: Int64, _ y: FieldElement) -> FieldElement {
        let a128 = Int128(a)
        let b128 = Int128(b)
        let offset = FieldElement.modulusTimes2to62
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
        // t4·2^256 ≡ t4·(2^32 + 977), below 2^96.
        var carry: UInt64 = 0
        let s0 = mac(t4, complement, t0, &carry)
        let high = carry
        carry = 0
        let s1 = adc(t1, high, &carry)
        let s2 = adc(t2, 0, &carry)
        let s3 = adc(t3, 0, &carry)
        return canonical(s0, s1, s2, s3, carry: carry)
    }

    /// 2^62·p in five 64-bit limbs (318 bits).
    static let modulusTimes2to62: (UInt64, UInt64, UInt64, UInt64, UInt64) = {
        let p = FieldElement.modulus
        return (p.w0 << 62, p.w1 << 62 | p.w0 >> 2, p.w2 << 62 | p.w1 >> 2, p.w3 << 62 | p.w2 >> 2, p.w3 >> 2)
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

    /// (a·x + b·y) / 2^59 for |a| + |b| ≤ 2^59, when the division is exact (the divsteps make it so).
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
        // The value r0…r4 (320 bits, two's complement, |value| < 2^315) shifted right by 59, arithmetically.
        return SignedWide(
            r0 >> 59 | r1 << 5, r1 >> 59 | r2 << 5, r2 >> 59 | r3 << 5, r3 >> 59 | r4 << 5,
            Int64(bitPattern: r4) >> 59)
    }
}
