/// Precomputed multiples of the generator: for every 4-bit window i (0..<64) and digit d (1...15),
/// the affine point d·16^i·G. With it, k·G is 64 mixed additions and no doublings.
///
/// Built once on first use (about a thousand point operations and a single field inversion).
enum GeneratorTable {
    static let windows = 64
    static let digits = 15

    /// Flat limbs: entry (i, d) starts at ((i·15) + d − 1)·8 and holds x.l0…x.l3, y.l0…y.l3.
    static let limbs: [UInt64] = {
        var points: [JacobianPoint] = []
        points.reserveCapacity(windows * digits)
        var base = JacobianPoint(AffinePoint.generator)
        for _ in 0..<windows {
            var multiple = base
            points.append(multiple)
            multiple = base.doubled()
            points.append(multiple)
            for _ in 3...digits {
                multiple = multiple.adding(base)
                points.append(multiple)
            }
            base = multiple.adding(base)  // 16·base
        }
        var flat: [UInt64] = []
        flat.reserveCapacity(points.count * 8)
        for point in batchAffine(points) {
            flat += [point.x.l0, point.x.l1, point.x.l2, point.x.l3, point.y.l0, point.y.l1, point.y.l2, point.y.l3]
        }
        return flat
    }()
}

extension Scalar {
    /// The 4-bit digit number `index` (0 = least significant).
    @inline(__always)
    func nibble(_ index: Int) -> UInt64 {
        let limb: UInt64
        switch index >> 4 {
        case 0: limb = l0
        case 1: limb = l1
        case 2: limb = l2
        default: limb = l3
        }
        return (limb >> UInt64((index & 15) * 4)) & 0xF
    }
}

enum ScalarMultiplication {
    /// k·G for a secret k in 1..<n, with a data-independent sequence of operations and memory accesses:
    /// every window reads all 15 table entries and keeps one by masking, performs one addition, and
    /// discards it by masking when the digit is zero.
    ///
    /// The unchecked addition never meets its exceptional cases: after window i the accumulator is s·G with
    /// s < 16^i, and the entry is d·16^i·G, so they are neither equal nor opposite for 0 < k < n.
    static func generatorSecret(_ k: Scalar) -> JacobianPoint {
        GeneratorTable.limbs.withUnsafeBufferPointer { table in
            var accumulator = JacobianPoint.infinity
            var accumulatorIsInfinity = UInt64.max
            for window in 0..<GeneratorTable.windows {
                let digit = k.nibble(window)
                var x0: UInt64 = 0
                var x1: UInt64 = 0
                var x2: UInt64 = 0
                var x3: UInt64 = 0
                var y0: UInt64 = 0
                var y1: UInt64 = 0
                var y2: UInt64 = 0
                var y3: UInt64 = 0
                var start = window * GeneratorTable.digits * 8
                for candidate in 1...UInt64(GeneratorTable.digits) {
                    let mask = maskIfZero(candidate ^ digit)
                    x0 |= table[start] & mask
                    x1 |= table[start + 1] & mask
                    x2 |= table[start + 2] & mask
                    x3 |= table[start + 3] & mask
                    y0 |= table[start + 4] & mask
                    y1 |= table[start + 5] & mask
                    y2 |= table[start + 6] & mask
                    y3 |= table[start + 7] & mask
                    start += 8
                }
                let entry = AffinePoint(
                    x: FieldElement(l0: x0, l1: x1, l2: x2, l3: x3), y: FieldElement(l0: y0, l1: y1, l2: y2, l3: y3))
                let sum = accumulator.addingUnchecked(entry)
                let next = JacobianPoint.select(accumulatorIsInfinity, JacobianPoint(entry), sum)
                let digitIsZero = maskIfZero(digit)
                accumulator = JacobianPoint.select(digitIsZero, accumulator, next)
                accumulatorIsInfinity &= digitIsZero
            }
            return accumulator
        }
    }

    /// a·G + b·P for public a, b and P (variable time; used for recovery and verification only).
    static func linearCombinationPublic(_ a: Scalar, _ b: Scalar, _ point: AffinePoint) -> JacobianPoint {
        // b·P with a 4-bit window over precomputed 1·P … 15·P.
        var multiples: [JacobianPoint] = [JacobianPoint(point)]
        multiples.append(multiples[0].doubled())
        for index in 2..<15 { multiples.append(multiples[index - 1].adding(point)) }
        let table = batchAffine(multiples)
        var result = JacobianPoint.infinity
        for window in stride(from: 63, through: 0, by: -1) {
            if !result.isInfinity { result = result.doubled().doubled().doubled().doubled() }
            let digit = Int(b.nibble(window))
            if digit != 0 { result = result.adding(table[digit - 1]) }
        }
        // a·G from the generator table: no doublings.
        result = PublicTable.generator.multiply(a, adding: result)
        return result
    }
}
