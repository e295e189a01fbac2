import Testing

@testable import EVMSigning

/// The two things each ``DivstepsResidue`` type supplies to the shared divsteps code: its fold of a fifth
/// word and its 2^(−590). Both are checked against references built from addition alone (`+`, which only
/// adds and subtracts the modulus once), so neither the fold nor the multiplication (which ends in the same
/// fold) is its own reference.
@Suite("divsteps residues: the per-modulus fold and 2^(−590), modulo n and modulo p")
struct DivstepsResidueTests {
    /// (t0…t3 + t4·2^256) mod m by Horner's rule on the 320 bits, doubling and adding one with `+` only.
    static func reference<Residue: DivstepsResidue>(
        _ words: (UInt64, UInt64, UInt64, UInt64, UInt64), add: (Residue, Residue) -> Residue
    ) -> Residue {
        var result = Residue.zero
        for word in [words.4, words.3, words.2, words.1, words.0] {
            for bit in (0..<64).reversed() {
                result = add(result, result)
                if (word >> UInt64(bit)) & 1 == 1 { result = add(result, .one) }
            }
        }
        return result
    }

    /// Low words at the edges (0, m − 1, m, 2^256 − 1, and values with runs of ones and zeros), top words at
    /// the edges (0, 1, 2^63 − 1, the largest `combine` produces, and an arbitrary one).
    static func cases(modulus m: UInt256) -> [(UInt64, UInt64, UInt64, UInt64, UInt64)] {
        let lows: [(UInt64, UInt64, UInt64, UInt64)] = [
            (0, 0, 0, 0), (m.w0 - 1, m.w1, m.w2, m.w3), (m.w0, m.w1, m.w2, m.w3), (.max, .max, .max, .max),
            (.max, 0, .max, 0), (0, 0, 0, 1 << 63), (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 1, .max - 1),
        ]
        let tops: [UInt64] = [0, 1, (1 << 63) - 1, 0x5A5A_5A5A_5A5A_5A5A, 0x0000_0001_0000_03D1]
        return lows.flatMap { low in tops.map { (low.0, low.1, low.2, low.3, $0) } }
    }

    @Test("Scalar.folding agrees with the addition-only reference at the edges of t and t4")
    func scalarFolding() {
        for words in Self.cases(modulus: Scalar.order) {
            let folded = Scalar.folding(words.0, words.1, words.2, words.3, top: words.4)
            #expect(folded == Self.reference(words, add: +), "\(words)")
            #expect(folded.integer < Scalar.order)
        }
    }

    @Test("FieldElement.folding agrees with the addition-only reference at the edges of t and t4")
    func fieldFolding() {
        for words in Self.cases(modulus: FieldElement.modulus) {
            let folded = FieldElement.folding(words.0, words.1, words.2, words.3, top: words.4)
            #expect(folded == Self.reference(words, add: +), "\(words)")
            #expect(folded.integer < FieldElement.modulus)
        }
    }

    @Test("2^(−590) times 2^590 (590 doublings) is one, modulo n and modulo p")
    func twoToMinus590() {
        var scalar = Scalar.one
        var element = FieldElement.one
        for _ in 0..<590 {
            scalar = scalar + scalar
            element = element + element
        }
        #expect(scalar * Scalar.twoToMinus590 == .one)
        #expect(element * FieldElement.twoToMinus590 == .one)
        #expect(Scalar.twoToMinus590 != .one && FieldElement.twoToMinus590 != .one)
    }
}
