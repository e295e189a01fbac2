/// Affine multiples of a public point P for multiplying by public scalars without doublings, with signed
/// digits: for each `width`-bit window i and digit magnitude d in 1...2^(width−1), the entry d·2^(width·i)·P.
/// A scalar is recoded into digits in −2^(width−1)+1 … 2^(width−1) (negative digits use the entry with y
/// negated), so each window costs one addition and the table holds half the entries an unsigned one needs.
///
/// Lookups are indexed by the scalar's digits, so this is only for public scalars (verification).
/// Immutable after construction.
final class PublicTable: Sendable {
    let width: Int
    let windows: Int
    private let digits: Int
    private let limbs: [UInt64]

    /// The generator's table with 9-bit signed windows: 29 windows × 256 entries (about 0.5 MB), built on
    /// first use.
    static let generator = PublicTable(base: .generator, width: 9)

    init(base: AffinePoint, width: Int) {
        self.width = width
        // The recoding can carry out of the top window only when it is a full one (256 divisible by width).
        self.windows = 256 / width + 1
        self.digits = 1 << (width - 1)
        var points: [JacobianPoint] = []
        points.reserveCapacity(windows * digits)
        var windowBase = base
        for _ in 0..<windows {
            // d·B for d = 1 … 2^(w−1) by repeated mixed addition of the affine window base B.
            var multiple = JacobianPoint(windowBase)
            points.append(multiple)
            multiple = multiple.doubled()
            points.append(multiple)
            for _ in 2..<digits {
                multiple = multiple.adding(windowBase)
                points.append(multiple)
            }
            // The next window's base is 2^w·B = 2·(2^(w−1)·B).
            windowBase = multiple.doubled().affine!
        }
        var flat: [UInt64] = []
        flat.reserveCapacity(points.count * 8)
        for point in batchAffine(points) {
            flat += [point.x.l0, point.x.l1, point.x.l2, point.x.l3, point.y.l0, point.y.l1, point.y.l2, point.y.l3]
        }
        self.limbs = flat
    }

    /// accumulator + k·P (variable time).
    func multiply(_ k: Scalar, adding accumulator: JacobianPoint) -> JacobianPoint {
        var result = accumulator
        let half = UInt64(digits)
        limbs.withUnsafeBufferPointer { table in
            var carry: UInt64 = 0
            for window in 0..<windows {
                var digit = k.bits(at: window * width, count: width) + carry
                carry = 0
                var negative = false
                if digit > half {
                    digit = (1 << UInt64(width)) - digit
                    negative = true
                    carry = 1
                }
                if digit == 0 { continue }
                let start = (window * digits + Int(digit) - 1) * 8
                let y = FieldElement(
                    l0: table[start + 4], l1: table[start + 5], l2: table[start + 6], l3: table[start + 7])
                let entry = AffinePoint(
                    x: FieldElement(l0: table[start], l1: table[start + 1], l2: table[start + 2], l3: table[start + 3]),
                    y: negative ? -y : y)
                result = result.adding(entry)
            }
        }
        return result
    }
}

extension Scalar {
    /// `count` (< 64) bits starting at bit `offset` (0 = least significant); bits past 255 read as zero.
    @inline(__always)
    func bits(at offset: Int, count: Int) -> UInt64 {
        let limbs = (l0, l1, l2, l3)
        func limb(_ index: Int) -> UInt64 {
            switch index {
            case 0: return limbs.0
            case 1: return limbs.1
            case 2: return limbs.2
            case 3: return limbs.3
            default: return 0
            }
        }
        let index = offset >> 6
        let shift = offset & 63
        var value = limb(index) >> UInt64(shift)
        if shift + count > 64 { value |= limb(index + 1) << UInt64(64 - shift) }
        return value & ((1 << UInt64(count)) &- 1)
    }
}
