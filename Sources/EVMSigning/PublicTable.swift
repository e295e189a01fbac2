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
        withUnsafeTemporaryAllocation(of: Lookup.self, capacity: windows) { lookups in
            let count = gather(k, into: lookups.baseAddress!)
            return Self.sum(lookups.baseAddress!, count: count, adding: accumulator)
        }
    }

    /// a·P + b·Q + accumulator for the tables of P (`self`) and Q (variable time). Every table entry the
    /// two products need is copied out before the first addition: see ``gather(_:into:)``.
    func multiply(
        _ a: Scalar, plus b: Scalar, on other: PublicTable, adding accumulator: JacobianPoint
    ) -> JacobianPoint {
        withUnsafeTemporaryAllocation(of: Lookup.self, capacity: windows + other.windows) { lookups in
            let base = lookups.baseAddress!
            let first = gather(a, into: base)
            let second = other.gather(b, into: base + first)
            return Self.sum(base, count: first + second, adding: accumulator)
        }
    }

    /// One table entry to add: its limbs as stored and whether its y is to be negated.
    struct Lookup {
        var x0: UInt64, x1: UInt64, x2: UInt64, x3: UInt64
        var y0: UInt64, y1: UInt64, y2: UInt64, y3: UInt64
        var negative: Bool
    }

    /// Writes the entries k·P adds (one per non-zero signed digit) to `lookups` and returns how many.
    ///
    /// Why copy them out first: the tables are larger than the L2 cache (the generator's is 0.5 MB), so a
    /// lookup in a signature's self-check is usually a cache miss. Looked up in the addition loop, each
    /// miss stalled its own addition (measured: about a third of the self-check). Here the loads do not
    /// depend on one another, so the processor overlaps the misses.
    func gather(_ k: Scalar, into lookups: UnsafeMutablePointer<Lookup>) -> Int {
        let half = UInt64(digits)
        return limbs.withUnsafeBufferPointer { table in
            var count = 0
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
                lookups[count] = Lookup(
                    x0: table[start], x1: table[start + 1], x2: table[start + 2], x3: table[start + 3],
                    y0: table[start + 4], y1: table[start + 5], y2: table[start + 6], y3: table[start + 7],
                    negative: negative)
                count += 1
            }
            return count
        }
    }

    /// accumulator + the sum of `count` looked-up entries.
    private static func sum(
        _ lookups: UnsafeMutablePointer<Lookup>, count: Int, adding accumulator: JacobianPoint
    ) -> JacobianPoint {
        var result = accumulator
        for index in 0..<count {
            let entry = lookups[index]
            let y = FieldElement(l0: entry.y0, l1: entry.y1, l2: entry.y2, l3: entry.y3)
            result = result.adding(
                AffinePoint(
                    x: FieldElement(l0: entry.x0, l1: entry.x1, l2: entry.x2, l3: entry.x3),
                    y: entry.negative ? -y : y))
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
