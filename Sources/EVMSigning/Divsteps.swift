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

    /// Runs the 590 divsteps from f = m, g = x, applying each batch's matrix to the coefficients with
    /// ``DivstepsResidue/combine(_:_:_:_:)``. Returns the final d and the mask of f's sign (all ones when
    /// f = −1), for the caller's ±2^(−590)·d.
    @inline(__always)
    static func run<Residue: DivstepsResidue>(_ x: Residue) -> (d: Residue, negative: UInt64) {
        let barrier = opaqueZero()
        let modulus = Residue.modulus
        var f = SignedWide(modulus.w0, modulus.w1, modulus.w2, modulus.w3)
        var g = SignedWide(x.l0, x.l1, x.l2, x.l3)
        var d = Residue.zero
        var e = Residue.one
        var zeta: Int64 = -1
        for _ in 0..<batches {
            let matrix = batch(&zeta, f.l0, g.l0, barrier: barrier)
            let nextF = SignedWide.combine(matrix.u, f, matrix.v, g)
            let nextG = SignedWide.combine(matrix.q, f, matrix.r, g)
            f = nextF
            g = nextG
            let nextD = Residue.combine(matrix.u, d, matrix.v, e)
            let nextE = Residue.combine(matrix.q, d, matrix.r, e)
            d = nextD
            e = nextE
        }
        return (d, UInt64(bitPattern: f.l4 >> 63) ^ barrier)
    }

    /// 2^62·m in five 64-bit limbs (318 bits), for ``DivstepsResidue/modulusTimes2to62``.
    static func timesTwoTo62(_ m: UInt256) -> (UInt64, UInt64, UInt64, UInt64, UInt64) {
        (m.w0 << 62, m.w1 << 62 | m.w0 >> 2, m.w2 << 62 | m.w1 >> 2, m.w3 << 62 | m.w2 >> 2, m.w3 >> 2)
    }

    /// 2^(−590) mod m, for ``DivstepsResidue/twoToMinus590``: 2^(−1) = (m + 1)/2 for odd m, raised to the
    /// 590th power (public constants, computed once per type).
    static func twoToMinus590<Residue: DivstepsResidue>(_: Residue.Type) -> Residue {
        let m = Residue.modulus
        // (m + 1)/2 = ⌊m/2⌋ + 1; m is odd, so ⌊m/2⌋'s low word is odd too and adding 1 does not carry.
        let half = Residue(
            l0: (m.w0 >> 1 | m.w1 << 63) + 1, l1: m.w1 >> 1 | m.w2 << 63, l2: m.w2 >> 1 | m.w3 << 63, l3: m.w3 >> 1)
        var power = Residue.one
        for _ in 0..<(batches * steps) { power = power * half }
        return power
    }
}

/// The residues modulo one odd 256-bit modulus m that ``Divsteps`` inverts: ``Scalar`` (m = n) for the
/// signature's s⁻¹ and ``FieldElement`` (m = p) for the affine conversion of k·G. The two moduli differ
/// only in how a fifth word folds back (2^256 ≡ 2^256 − m, which is c0 + c1·2^64 + 2^128 for n and
/// 2^32 + 977 for p), so that is all a type provides beyond its ring operations; the divsteps, the
/// coefficient update and the final scaling are written once, here, and specialised for each type (the
/// callers are all in this module, so the optimiser sees every use).
protocol DivstepsResidue: Equatable {
    /// The modulus m itself, as a 256-bit integer (odd, above 2^255).
    static var modulus: UInt256 { get }
    /// 2^62·m in five 64-bit limbs (``Divsteps/timesTwoTo62(_:)``, stored by each type).
    static var modulusTimes2to62: (UInt64, UInt64, UInt64, UInt64, UInt64) { get }
    /// 2^(−590) mod m (``Divsteps/twoToMinus590(_:)``, stored by each type).
    static var twoToMinus590: Self { get }
    static var zero: Self { get }
    static var one: Self { get }

    init(l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64)
    var l0: UInt64 { get }
    var l1: UInt64 { get }
    var l2: UInt64 { get }
    var l3: UInt64 { get }

    /// (t0 + t1·2^64 + t2·2^128 + t3·2^192 + t4·2^256) mod m for t4 < 2^63, in straight-line code.
    static func folding(_ t0: UInt64, _ t1: UInt64, _ t2: UInt64, _ t3: UInt64, top t4: UInt64) -> Self
    static func * (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
    /// Picks `b` when `mask` is all ones, `a` when it is zero, without branching.
    static func select(_ mask: UInt64, _ b: Self, _ a: Self) -> Self
}

extension DivstepsResidue {
    /// x⁻¹ mod m for non-zero x, by 590 constant-time divsteps (see ``Divsteps``); zero for zero (then g
    /// starts at 0 and d stays 0).
    func inverseDivsteps() -> Self {
        let (d, negative) = Divsteps.run(self)
        let result = d * Self.twoToMinus590
        return Self.select(negative, -result, result)
    }

    /// (a·x + b·y) mod m for |a| + |b| ≤ 2^62. The signed sum is formed in 320 bits with 2^62·m added, which
    /// makes it positive (|a·x + b·y| < 2^62·m) and below 2^319; its top word t4 < 2^63 is folded once by
    /// ``folding(_:_:_:_:top:)``. Column sums stay below 2^127 in absolute value, so the signed 128-bit
    /// accumulator cannot overflow.
    @inline(__always)
    static func combine(_ a: Int64, _ x: Self, _ b: Int64, _ y: Self) -> Self {
        let a128 = Int128(a)
        let b128 = Int128(b)
        let offset = Self.modulusTimes2to62
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
        return folding(t0, t1, t2, t3, top: t4)
    }
}

extension Scalar: DivstepsResidue {
    static var modulus: UInt256 { order }
    static let modulusTimes2to62 = Divsteps.timesTwoTo62(order)
    static let twoToMinus590 = Divsteps.twoToMinus590(Scalar.self)
}

extension FieldElement: DivstepsResidue {
    static let modulusTimes2to62 = Divsteps.timesTwoTo62(modulus)
    static let twoToMinus590 = Divsteps.twoToMinus590(FieldElement.self)
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
