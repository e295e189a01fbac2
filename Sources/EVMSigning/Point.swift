/// A point on secp256k1 (y² = x³ + 7) in affine coordinates; never the point at infinity.
struct AffinePoint: Sendable, Equatable {
    var x: FieldElement
    var y: FieldElement

    /// The generator G.
    static let generator = AffinePoint(
        x: FieldElement(
            l0: 0x59F2_815B_16F8_1798, l1: 0x029B_FCDB_2DCE_28D9, l2: 0x55A0_6295_CE87_0B07, l3: 0x79BE_667E_F9DC_BBAC),
        y: FieldElement(
            l0: 0x9C47_D08F_FB10_D4B8, l1: 0xFD17_B448_A685_5419, l2: 0x5DA4_FBFC_0E11_08A8, l3: 0x483A_DA77_26A3_C465))

    /// True when the coordinates satisfy the curve equation.
    var isOnCurve: Bool { y.squared() == x.squared() * x + .seven }

    /// The point with this x and the requested y parity, if x is on the curve.
    init?(x: FieldElement, oddY: Bool) {
        guard let root = (x.squared() * x + .seven).squareRoot() else { return nil }
        self.x = x
        self.y = root.isOdd == oddY ? root : -root
    }

    init(x: FieldElement, y: FieldElement) {
        self.x = x
        self.y = y
    }

    /// 64-byte x‖y, the input of an Ethereum address hash.
    var uncompressedWithoutPrefix: [UInt8] { x.bigEndianBytes + y.bigEndianBytes }
}

/// A point in Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the point at infinity.
struct JacobianPoint: Sendable {
    var x: FieldElement
    var y: FieldElement
    var z: FieldElement

    static let infinity = JacobianPoint(x: .one, y: .one, z: .zero)

    init(x: FieldElement, y: FieldElement, z: FieldElement) {
        self.x = x
        self.y = y
        self.z = z
    }

    init(_ point: AffinePoint) {
        self.init(x: point.x, y: point.y, z: .one)
    }

    var isInfinity: Bool { z.isZero }

    /// The affine form, or nil at infinity.
    var affine: AffinePoint? {
        if isInfinity { return nil }
        let zInverse = z.inverseDivsteps()
        let zInverse2 = zInverse.squared()
        return AffinePoint(x: x * zInverse2, y: y * zInverse2 * zInverse)
    }

    /// The affine form of a point known not to be at infinity, without looking at Z: a fixed sequence of
    /// field operations (a constant-time divsteps inversion), for points that depend on a secret (k·G).
    var affineOfFinite: AffinePoint {
        let zInverse = z.inverseDivsteps()
        let zInverse2 = zInverse.squared()
        return AffinePoint(x: x * zInverse2, y: y * zInverse2 * zInverse)
    }

    /// 2·self (dbl-2009-l, a = 0). Infinity maps to infinity since Z3 = 2·Y·Z; no point has Y = 0.
    @inline(__always)
    func doubled() -> JacobianPoint {
        let a = x.squared()
        let b = y.squared()
        let c = b.squared()
        let d = ((x + b).squared() - a - c).doubled()
        let e = a.doubled() + a
        let f = e.squared()
        let x3 = f - d.doubled()
        let eightC = c.doubled().doubled().doubled()
        let y3 = e * (d - x3) - eightC
        let z3 = (y * z).doubled()
        return JacobianPoint(x: x3, y: y3, z: z3)
    }

    /// self + q for affine q, assuming self ≠ ±q and self not at infinity (the caller guarantees or masks
    /// these cases). Straight-line: 8 multiplications and 3 squarings.
    @inline(__always)
    func addingUnchecked(_ q: AffinePoint) -> JacobianPoint {
        let z1z1 = z.squared()
        let u2 = q.x * z1z1
        let s2 = q.y * z1z1 * z
        let h = u2 - x
        let r = s2 - y
        let h2 = h.squared()
        let h3 = h2 * h
        let u1h2 = x * h2
        let x3 = r.squared() - h3 - u1h2.doubled()
        let y3 = r * (u1h2 - x3) - y * h3
        let z3 = z * h
        return JacobianPoint(x: x3, y: y3, z: z3)
    }

    /// self + q for affine q, handling every case (variable time: for public data only).
    func adding(_ q: AffinePoint) -> JacobianPoint {
        if isInfinity { return JacobianPoint(q) }
        let z1z1 = z.squared()
        let u2 = q.x * z1z1
        let s2 = q.y * z1z1 * z
        let h = u2 - x
        let r = s2 - y
        if h.isZero { return r.isZero ? doubled() : .infinity }
        let h2 = h.squared()
        let h3 = h2 * h
        let u1h2 = x * h2
        let x3 = r.squared() - h3 - u1h2.doubled()
        let y3 = r * (u1h2 - x3) - y * h3
        return JacobianPoint(x: x3, y: y3, z: z * h)
    }

    /// self + q for Jacobian q, handling every case (variable time: for public data only).
    func adding(_ q: JacobianPoint) -> JacobianPoint {
        if isInfinity { return q }
        if q.isInfinity { return self }
        let z1z1 = z.squared()
        let z2z2 = q.z.squared()
        let u1 = x * z2z2
        let u2 = q.x * z1z1
        let s1 = y * z2z2 * q.z
        let s2 = q.y * z1z1 * z
        let h = u2 - u1
        let r = s2 - s1
        if h.isZero { return r.isZero ? doubled() : .infinity }
        let h2 = h.squared()
        let h3 = h2 * h
        let u1h2 = u1 * h2
        let x3 = r.squared() - h3 - u1h2.doubled()
        let y3 = r * (u1h2 - x3) - s1 * h3
        let z3 = z * q.z * h
        return JacobianPoint(x: x3, y: y3, z: z3)
    }

    /// Picks `b` when `mask` is all ones, `a` when it is zero, without branching.
    @inline(__always)
    static func select(_ mask: UInt64, _ b: JacobianPoint, _ a: JacobianPoint) -> JacobianPoint {
        JacobianPoint(
            x: .select(mask, b.x, a.x), y: .select(mask, b.y, a.y), z: .select(mask, b.z, a.z))
    }
}

/// Converts many Jacobian points (none at infinity) to affine with one field inversion (Montgomery's trick).
func batchAffine(_ points: [JacobianPoint]) -> [AffinePoint] {
    guard !points.isEmpty else { return [] }
    var prefix = [FieldElement](repeating: .one, count: points.count)
    var running = FieldElement.one
    for index in points.indices {
        prefix[index] = running
        running = running * points[index].z
    }
    var inverse = running.inverse()
    var result = [AffinePoint](repeating: .generator, count: points.count)
    for index in points.indices.reversed() {
        let zInverse = inverse * prefix[index]
        inverse = inverse * points[index].z
        let zInverse2 = zInverse.squared()
        result[index] = AffinePoint(x: points[index].x * zInverse2, y: points[index].y * zInverse2 * zInverse)
    }
    return result
}
