/// An element of the secp256k1 base field, integers modulo p = 2^256 − 2^32 − 977.
///
/// Always kept fully reduced (0 ≤ value < p), so equality is limb equality. Reduction uses
/// 2^256 ≡ 2^32 + 977 (mod p) and finishes with a masked conditional subtraction.
struct FieldElement: Sendable, Equatable {
    var l0: UInt64
    var l1: UInt64
    var l2: UInt64
    var l3: UInt64

    /// 2^256 − p.
    static let complement: UInt64 = 0x1_0000_03D1
    static let zero = FieldElement(l0: 0, l1: 0, l2: 0, l3: 0)
    static let one = FieldElement(l0: 1, l1: 0, l2: 0, l3: 0)
    static let seven = FieldElement(l0: 7, l1: 0, l2: 0, l3: 0)
    /// p itself, as a 256-bit integer (not a field element).
    static let modulus = UInt256(
        w0: 0xFFFF_FFFE_FFFF_FC2F, w1: 0xFFFF_FFFF_FFFF_FFFF, w2: 0xFFFF_FFFF_FFFF_FFFF, w3: 0xFFFF_FFFF_FFFF_FFFF)

    init(l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64) {
        self.l0 = l0
        self.l1 = l1
        self.l2 = l2
        self.l3 = l3
    }

    /// The element equal to `value`, or nil when value ≥ p.
    init?(_ value: UInt256) {
        guard value < Self.modulus else { return nil }
        self.init(l0: value.w0, l1: value.w1, l2: value.w2, l3: value.w3)
    }

    var integer: UInt256 { UInt256(w0: l0, w1: l1, w2: l2, w3: l3) }
    var bigEndianBytes: [UInt8] { integer.bigEndianBytes }
    var isZero: Bool { (l0 | l1 | l2 | l3) == 0 }
    var isOdd: Bool { l0 & 1 == 1 }

    /// Reduces a value below 2^256 plus a carry bit (value + carry·2^256 < 2p) to the canonical range.
    @inline(__always)
    static func canonical(_ s0: UInt64, _ s1: UInt64, _ s2: UInt64, _ s3: UInt64, carry: UInt64) -> FieldElement {
        // value ≥ p  ⟺  value + (2^256 − p) ≥ 2^256.
        var c: UInt64 = 0
        let t0 = adc(s0, complement, &c)
        let t1 = adc(s1, 0, &c)
        let t2 = adc(s2, 0, &c)
        let t3 = adc(s3, 0, &c)
        let mask = maskFromBit(c | carry)
        return FieldElement(
            l0: (t0 & mask) | (s0 & ~mask), l1: (t1 & mask) | (s1 & ~mask),
            l2: (t2 & mask) | (s2 & ~mask), l3: (t3 & mask) | (s3 & ~mask))
    }

    /// Reduces a 512-bit value modulo p.
    @inline(__always)
    static func reduce(_ r: Wide) -> FieldElement {
        // value = L + H·2^256 ≡ L + H·c where c = 2^32 + 977.
        var c: UInt64 = 0
        let s0 = mac(r.4, complement, r.0, &c)
        let s1 = mac(r.5, complement, r.1, &c)
        let s2 = mac(r.6, complement, r.2, &c)
        let s3 = mac(r.7, complement, r.3, &c)
        // Fold the top word (< 2^34) once more.
        return folding(s0, s1, s2, s3, top: c)
    }

    /// (t0…t3 + t4·2^256) mod p for t4 < 2^63: one fold with 2^256 ≡ c = 2^32 + 977 (t4·c < 2^96) leaves a
    /// value below 2^256 + 2^96 < 2p for the masked final subtraction. The last step of ``reduce(_:)`` and of
    /// the divsteps coefficient update (``DivstepsResidue/combine(_:_:_:_:)``).
    @inline(__always)
    static func folding(_ t0: UInt64, _ t1: UInt64, _ t2: UInt64, _ t3: UInt64, top t4: UInt64) -> FieldElement {
        var d: UInt64 = 0
        let s0 = mac(t4, complement, t0, &d)
        let high = d
        d = 0
        let s1 = adc(t1, high, &d)
        let s2 = adc(t2, 0, &d)
        let s3 = adc(t3, 0, &d)
        // A carry d means value = 2^256 + s with s < 2^96, i.e. s + c < p: `canonical` adds c exactly then.
        return canonical(s0, s1, s2, s3, carry: d)
    }

    @inline(__always)
    static func + (a: FieldElement, b: FieldElement) -> FieldElement {
        var c: UInt64 = 0
        let s0 = adc(a.l0, b.l0, &c)
        let s1 = adc(a.l1, b.l1, &c)
        let s2 = adc(a.l2, b.l2, &c)
        let s3 = adc(a.l3, b.l3, &c)
        return canonical(s0, s1, s2, s3, carry: c)
    }

    @inline(__always)
    static func - (a: FieldElement, b: FieldElement) -> FieldElement {
        var borrow: UInt64 = 0
        var d0 = sbb(a.l0, b.l0, &borrow)
        var d1 = sbb(a.l1, b.l1, &borrow)
        var d2 = sbb(a.l2, b.l2, &borrow)
        var d3 = sbb(a.l3, b.l3, &borrow)
        // On borrow the limbs hold a − b + 2^256; subtracting (2^256 − p) gives a − b + p.
        var second: UInt64 = 0
        d0 = sbb(d0, complement & maskFromBit(borrow), &second)
        d1 = sbb(d1, 0, &second)
        d2 = sbb(d2, 0, &second)
        d3 = sbb(d3, 0, &second)
        return FieldElement(l0: d0, l1: d1, l2: d2, l3: d3)
    }

    @inline(__always)
    static prefix func - (a: FieldElement) -> FieldElement {
        zero - a
    }

    @inline(__always)
    static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        reduce(multiplyWide(a.l0, a.l1, a.l2, a.l3, b.l0, b.l1, b.l2, b.l3))
    }

    @inline(__always)
    func squared() -> FieldElement {
        FieldElement.reduce(squareWide(l0, l1, l2, l3))
    }

    @inline(__always)
    func squared(times count: Int) -> FieldElement {
        var result = self
        for _ in 0..<count { result = result.squared() }
        return result
    }

    @inline(__always)
    func doubled() -> FieldElement { self + self }

    /// Picks `b` when `mask` is all ones, `a` when it is zero, without branching.
    @inline(__always)
    static func select(_ mask: UInt64, _ b: FieldElement, _ a: FieldElement) -> FieldElement {
        FieldElement(
            l0: (b.l0 & mask) | (a.l0 & ~mask), l1: (b.l1 & mask) | (a.l1 & ~mask),
            l2: (b.l2 & mask) | (a.l2 & ~mask), l3: (b.l3 & mask) | (a.l3 & ~mask))
    }

    /// The shared head of the inversion and square-root addition chains: self^(2^k − 1) for the k needed.
    private func chainHead() -> (x2: FieldElement, x3: FieldElement, x22: FieldElement, x223: FieldElement) {
        let x2 = squared() * self
        let x3 = x2.squared() * self
        let x6 = x3.squared(times: 3) * x3
        let x9 = x6.squared(times: 3) * x3
        let x11 = x9.squared(times: 2) * x2
        let x22 = x11.squared(times: 11) * x11
        let x44 = x22.squared(times: 22) * x22
        let x88 = x44.squared(times: 44) * x44
        let x176 = x88.squared(times: 88) * x88
        let x220 = x176.squared(times: 44) * x44
        let x223 = x220.squared(times: 3) * x3
        return (x2, x3, x22, x223)
    }

    /// self^(p−2), the inverse for non-zero elements (zero maps to zero). Fixed sequence of operations.
    func inverse() -> FieldElement {
        let head = chainHead()
        var t = head.x223.squared(times: 23) * head.x22
        t = t.squared(times: 5) * self
        t = t.squared(times: 3) * head.x2
        t = t.squared(times: 2) * self
        return t
    }

    /// A square root if one exists (self^((p+1)/4), checked), else nil.
    func squareRoot() -> FieldElement? {
        let head = chainHead()
        var t = head.x223.squared(times: 23) * head.x22
        t = t.squared(times: 6) * head.x2
        t = t.squared(times: 2)
        return t.squared() == self ? t : nil
    }
}
