import Testing

@testable import EVMSigning

@Suite("secp256k1 field and scalar arithmetic")
struct ArithmeticTests {
    // A deterministic stream of 256-bit values (SHA-256 of a counter) as test inputs.
    static func sample(_ index: Int) -> UInt256 {
        UInt256(bigEndianBytes: SHA256.hash(Array("arithmetic-\(index)".utf8)))!
    }

    static let twoTo128 = UInt256(w0: 0, w1: 0, w2: 1, w3: 0)

    @Test("2^256 reduces to the published complements: 2^32 + 977 mod p and 2^256 − n mod n")
    func complements() throws {
        let field = try #require(FieldElement(Self.twoTo128))
        #expect(field.squared() == FieldElement(l0: 0x1_0000_03D1, l1: 0, l2: 0, l3: 0))
        #expect(field * field == FieldElement(l0: 0x1_0000_03D1, l1: 0, l2: 0, l3: 0))
        let scalar = try #require(Scalar(exactly: Self.twoTo128))
        let expected = Scalar(l0: 0x402D_A173_2FC9_BEBF, l1: 0x4551_2319_50B7_5FC4, l2: 1, l3: 0)
        #expect(scalar * scalar == expected)
        #expect(scalar.squared() == expected)
    }

    @Test("constant-time range check: 0 < value < n gives the value and an all-ones mask, else zero and 0")
    func checkedNonZero() {
        let order = Scalar.order
        let nMinusOne = UInt256(w0: order.w0 - 1, w1: order.w1, w2: order.w2, w3: order.w3)
        let nPlusOne = UInt256(w0: order.w0 + 1, w1: order.w1, w2: order.w2, w3: order.w3)
        // One value below n that differs from it only in the lowest limb, one above it that differs only from
        // the third limb up (n's top limb is all ones): the borrow chain must carry through every limb.
        let belowInLowLimb = UInt256(w0: order.w0 ^ (1 << 63), w1: order.w1, w2: order.w2, w3: order.w3)
        let aboveFromThirdLimb = UInt256(w0: 0, w1: 0, w2: .max, w3: .max)
        let valid: [UInt256] = [
            UInt256(1), nMinusOne, belowInLowLimb, Self.twoTo128, UInt256(w0: 0, w1: 0, w2: 0, w3: .max),
        ]
        let invalid: [UInt256] = [.zero, order, nPlusOne, aboveFromThirdLimb, .max]
        for value in valid {
            let (scalar, mask) = Scalar.checkedNonZero(value)
            #expect(mask == UInt64.max, "\(value)")
            #expect(scalar.integer == value)
        }
        for value in invalid {
            let (scalar, mask) = Scalar.checkedNonZero(value)
            #expect(mask == 0, "\(value)")
            #expect(scalar == .zero)
        }
    }

    @Test("divsteps coefficient update: (a·x + b·y) mod n for |a| + |b| ≤ 2^62, extremes included")
    func divstepsCombine() {
        // The reference: |a|·x by a full scalar product, negated when a < 0.
        func times(_ a: Int64, _ x: Scalar) -> Scalar {
            let product = Scalar(l0: a.magnitude, l1: 0, l2: 0, l3: 0) * x
            return a < 0 ? -product : product
        }
        let top: Int64 = 1 << 62
        let pairs: [(Int64, Int64)] = [
            (top, 0), (-top, 0), (0, top), (0, -top), (top / 2, -top / 2), (-top / 2, -top / 2), (1, -1), (0, 0),
            (top - 1, 1), (-(top - 1), -1), (12_345, -678_910_111_213),
        ]
        let extremes: [Scalar] = [.zero, .one, -Scalar.one, Scalar(reducing: Self.sample(9000))]
        for (a, b) in pairs {
            for x in extremes {
                for y in extremes {
                    #expect(Scalar.combine(a, x, b, y) == times(a, x) + times(b, y), "\(a) \(b)")
                }
            }
        }
        for index in 0..<100 {
            let x = Scalar(reducing: Self.sample(index + 3000))
            let y = Scalar(reducing: Self.sample(index + 4000))
            let a = Int64(bitPattern: x.l1) >> 2
            let b = (a < 0 ? -top - a : top - a) / 2
            #expect(Scalar.combine(a, x, b, y) == times(a, x) + times(b, y))
        }
    }

    @Test("(p − 1)² = 1 mod p and (n − 1)² = 1 mod n; −1 + 1 = 0")
    func minusOne() throws {
        let pMinusOne = FieldElement.zero - .one
        #expect(pMinusOne.integer < FieldElement.modulus)
        #expect(pMinusOne * pMinusOne == .one)
        #expect(pMinusOne + .one == .zero)
        let nMinusOne = -Scalar.one
        #expect(nMinusOne * nMinusOne == .one)
        #expect(nMinusOne + .one == .zero)
        #expect(-Scalar.zero == .zero)
    }

    @Test("field: inverse, square root, and ring laws on 200 values")
    func fieldLaws() throws {
        for index in 0..<200 {
            let a = FieldElement(l0: Self.sample(index).w0, l1: Self.sample(index).w1, l2: 7, l3: 0x1234)
            let b = try #require(FieldElement(Self.sample(index + 1000)) ?? FieldElement(Self.sample(index + 2000)))
            let c = try #require(FieldElement(Self.sample(index + 3000)) ?? FieldElement(Self.sample(index + 4000)))
            #expect(a * a.inverse() == .one)
            #expect(a * (b + c) == a * b + a * c)
            #expect((a - b) + b == a)
            #expect(a.squared() == a * a)
            let square = a.squared()
            let root = try #require(square.squareRoot())
            #expect(root == a || root == -a)
        }
        // −1 is not a square modulo p (p ≡ 3 mod 4).
        #expect((FieldElement.zero - .one).squareRoot() == nil)
    }

    @Test("field: the divsteps inverse (k·G's affine conversion) agrees with Fermat's on 500 values and the edges")
    func fieldDivstepsInverse() throws {
        let pMinusOne = FieldElement.zero - .one
        var values: [FieldElement] = [
            .one, FieldElement(l0: 2, l1: 0, l2: 0, l3: 0), pMinusOne, pMinusOne - .one,
            FieldElement(l0: 0, l1: 0, l2: 0, l3: 1 << 63), FieldElement(l0: 0, l1: 1, l2: 0, l3: 0),
            FieldElement(l0: 0, l1: 0, l2: 0, l3: 0x8000_0000_0000_0001),
            FieldElement(l0: .max, l1: .max, l2: .max, l3: 0),
            FieldElement(l0: FieldElement.complement, l1: 0, l2: 0, l3: 0),
            // (p − 1)/2 and (p + 1)/2.
            FieldElement(
                l0: 0xFFFF_FFFF_7FFF_FE17, l1: 0xFFFF_FFFF_FFFF_FFFF, l2: 0xFFFF_FFFF_FFFF_FFFF,
                l3: 0x7FFF_FFFF_FFFF_FFFF),
            FieldElement(
                l0: 0xFFFF_FFFF_7FFF_FE18, l1: 0xFFFF_FFFF_FFFF_FFFF, l2: 0xFFFF_FFFF_FFFF_FFFF,
                l3: 0x7FFF_FFFF_FFFF_FFFF),
        ]
        for index in 0..<500 {
            values.append(
                try #require(FieldElement(Self.sample(index + 6000)) ?? FieldElement(Self.sample(index + 7000))))
        }
        for a in values {
            let inverse = a.inverseDivsteps()
            #expect(inverse == a.inverse(), "\(a.integer)")
            #expect(a * inverse == .one, "\(a.integer)")
        }
        #expect(FieldElement.zero.inverseDivsteps() == .zero)
    }

    /// Inputs from libsecp256k1's modular-inverse tests (src/tests.c) for the two secp256k1 moduli, with their
    /// inverses: x, x⁻¹ as big-endian hex. Each needs many divsteps: the half-delta form this code runs needs
    /// 565 (n) and 564 (p) for the third and seventh, so nine batches of 59 (531 steps) would get them wrong.
    static let hardInverses: [(modulusIsOrder: Bool, x: String, inverse: String)] = [
        (
            true, "1686f0ed30bf9af68e8425aeaad1ca8e6120581729ccd7d05ff1d1136c0195ed",
            "01a10d0dc8f4d932113b9931304b04f4e9bc13122ac8469f2716286abf4a1631"
        ),
        (
            true, "c68bc424a18611355bbb06a4e9aba7f5dab72850bb5b19b63c569608c28485ed",
            "2811d3cbc760e69403c63377d49bc3b3babb72697793b2f5de058fa3450a8479"
        ),
        (
            true, "ebbf7e9639f8c8e72a7e18f2c1f66e7070ce6ddc535a51dd6f1ea8475ceb8432",
            "caa3604697163f2f33c8f4e2ee2e654c1e32376cb661398989aa689f449f257e"
        ),
        (
            true, "5ca2e11c3ad8bf320916fc7909945708c5ae9d0494c487da7fa3ee41b877feb9",
            "42ceda4df4fd1f9997f3ca3157d64b6c61269a04ca92c80f6f92ce1c075e0f12"
        ),
        (
            false, "e34e9c956bee8a840dcb632adb8a13206688540806f3f9967c11ca8419199ec3",
            "bd2cbd8f1c5368289bccda442582ac0c870152b08a3f09fb1aaadf9219b618e5"
        ),
        (
            false, "f6d89cbd6057f86e063acab2c2420c8b30ff7ec7a8ff5ad506932f2da7cfaec3",
            "1d45919ef859dc853c20acfe8e3d0c6363ce12349bb93ded9030cb38579d0310"
        ),
        (
            false, "7f6f36b4a070cede95908e6287b1e4d85f8e744a78d1b454db5c00718d1063ae",
            "c7e6ee4bf7c469b8073ef1509c87f4c2d291a7fff18ea5fe9f86be15e8d5fdc8"
        ),
        (
            false, "5c93d4f8e38f631decd79c2e0cf89277f0d830b6567d1eae25e38bcdbdc31b37",
            "e279a2ff8ef77ccba6566b0d15dba17967edee6cb6823e457de9e880e05b1622"
        ),
    ]

    @Test("divsteps inverses of libsecp256k1's hard cases (up to 565 half-delta steps), modulo n and modulo p")
    func divstepsHardCases() throws {
        for case let (modulusIsOrder, xHex, inverseHex) in Self.hardInverses {
            let x = try #require(UInt256(bigEndianBytes: hexBytes(xHex)))
            let expected = try #require(UInt256(bigEndianBytes: hexBytes(inverseHex)))
            if modulusIsOrder {
                let scalar = try #require(Scalar(exactly: x))
                #expect(scalar.inverseDivsteps().integer == expected, "\(xHex)")
            } else {
                let element = try #require(FieldElement(x))
                #expect(element.inverseDivsteps().integer == expected, "\(xHex)")
            }
        }
    }

    @Test("divsteps coefficient update modulo p: (a·x + b·y) mod p for |a| + |b| ≤ 2^62, extremes included")
    func fieldDivstepsCombine() throws {
        func times(_ a: Int64, _ x: FieldElement) -> FieldElement {
            let product = FieldElement(l0: a.magnitude, l1: 0, l2: 0, l3: 0) * x
            return a < 0 ? -product : product
        }
        let top: Int64 = 1 << 62
        let pairs: [(Int64, Int64)] = [
            (top, 0), (-top, 0), (0, top), (0, -top), (top / 2, -top / 2), (-top / 2, -top / 2), (1, -1), (0, 0),
            (top - 1, 1), (-(top - 1), -1), (12_345, -678_910_111_213),
        ]
        let extremes: [FieldElement] = [
            .zero, .one, .zero - .one, try #require(FieldElement(Self.sample(9000)) ?? FieldElement(Self.sample(9001))),
        ]
        for (a, b) in pairs {
            for x in extremes {
                for y in extremes {
                    #expect(FieldElement.combine(a, x, b, y) == times(a, x) + times(b, y), "\(a) \(b)")
                }
            }
        }
    }

    @Test("scalar: Fermat, divsteps (both constant-time) and binary-GCD inverses agree, ring laws on 200 values")
    func scalarLaws() throws {
        for index in 0..<200 {
            let a = Scalar(reducing: Self.sample(index))
            let b = Scalar(reducing: Self.sample(index + 1000))
            let c = Scalar(reducing: Self.sample(index + 2000))
            #expect(a * a.inverse() == .one)
            #expect(a.inverse() == a.inverseVariableTime())
            #expect(a.inverseDivsteps() == a.inverseVariableTime())
            #expect(a * (b + c) == a * b + a * c)
            #expect(a + -a == .zero)
            #expect(a.squared() == a * a)
        }
        #expect(Scalar.zero.inverseVariableTime() == .zero)
        #expect(Scalar.zero.inverse() == .zero)
        #expect(Scalar.zero.inverseDivsteps() == .zero)
        // Runs of trailing zero bits longer than a limb, and the extremes.
        let edges = [
            Scalar.one, Scalar(l0: 2, l1: 0, l2: 0, l3: 0), -Scalar.one, Scalar(l0: 0, l1: 0, l2: 0, l3: 1 << 63),
            Scalar(l0: 0, l1: 1, l2: 0, l3: 0), Scalar(l0: 0, l1: 0, l2: 0, l3: 0x8000_0000_0000_0001),
        ]
        for a in edges {
            #expect(a * a.inverseVariableTime() == .one)
            #expect(a.inverse() == a.inverseVariableTime())
            #expect(a.inverseDivsteps() == a.inverseVariableTime())
        }
    }

    @Test(
        "the masked k·G agrees with the variable-time public tables for 57 scalars, including 1, n − 1, n/2 and carry runs"
    )
    func generatorMultiplication() {
        let half = Scalar(exactly: Scalar.halfOrder)!
        let eights: UInt64 = 0x8888_8888_8888_8888
        let nines: UInt64 = 0x9999_9999_9999_9999
        // Around n/2 (where k·G switches to n − k) and long runs of signed-digit carries.
        var scalars = [
            Scalar.one, -Scalar.one, Scalar(l0: 16, l1: 0, l2: 0, l3: 0), half, half + .one, -half,
            Scalar(l0: eights, l1: eights, l2: eights, l3: eights), Scalar(l0: nines, l1: nines, l2: nines, l3: nines),
            Scalar(l0: 8, l1: 0, l2: 0, l3: 0), Scalar(l0: 9, l1: 0, l2: 0, l3: 0),
        ]
        for index in 0..<47 { scalars.append(Scalar(reducing: Self.sample(index + 5000))) }
        for k in scalars {
            let secret = ScalarMultiplication.generatorSecret(k).affine
            let publicPath = PublicTable.generator.multiply(k, adding: .infinity).affine
            #expect(secret == publicPath)
            let viaRecoveryPath = ScalarMultiplication.linearCombinationPublic(.zero, k, .generator).affine
            #expect(secret == viaRecoveryPath)
        }
    }

    @Test("signed-digit public tables of widths 4, 7, 8 and 9 agree with the doubling ladder, carries included")
    func publicTableWidths() throws {
        let base = try #require(ScalarMultiplication.generatorSecret(Scalar(reducing: Self.sample(7000))).affine)
        let ones = UInt64.max
        // n − 1 and all-ones-ish values make every window carry, up to the top one.
        var scalars = [
            Scalar.one, -Scalar.one, Scalar(l0: 0x80, l1: 0, l2: 0, l3: 0), Scalar(l0: 0xFF, l1: 0, l2: 0, l3: 0),
            Scalar(l0: ones, l1: ones, l2: ones, l3: 0x7FFF_FFFF_FFFF_FFFF), Scalar(l0: 0, l1: 0, l2: 0, l3: 1 << 63),
        ]
        for index in 0..<10 { scalars.append(Scalar(reducing: Self.sample(index + 7100))) }
        for width in [4, 7, 8, 9] {
            let table = PublicTable(base: base, width: width)
            for k in scalars {
                let expected = ScalarMultiplication.linearCombinationPublic(.zero, k, base).affine
                #expect(table.multiply(k, adding: .infinity).affine == expected, "width \(width)")
            }
        }
    }

    @Test("the self-check rejects a signature that does not recover to the key")
    func selfCheckCanFail() throws {
        let key = try PrivateKey(bytes: SHA256.hash(Array("self-check".utf8)))
        let digest = Keccak256.hash(Array("self-check message".utf8))
        let (signature, sInverse, nonce) = try key.signUnchecked(digest: digest)
        #expect(key.recoversToSelf(digest: digest, signature: signature, sInverse: sInverse, nonce: nonce))
        let otherDigest = Keccak256.hash(digest)
        #expect(!key.recoversToSelf(digest: otherDigest, signature: signature, sInverse: sInverse, nonce: nonce))
        var flipped = signature.bytes65
        flipped[64] = flipped[64] == 27 ? 28 : 27
        let wrongParity = try #require(RecoverableSignature(bytes65: flipped))
        #expect(!key.recoversToSelf(digest: digest, signature: wrongParity, sInverse: sInverse, nonce: nonce))
        #expect(
            !key.recoversToSelf(digest: digest, signature: signature, sInverse: sInverse + .one, nonce: nonce))
        var negated = nonce
        negated.y = -negated.y
        #expect(!key.recoversToSelf(digest: digest, signature: signature, sInverse: sInverse, nonce: negated))
        let other = try PrivateKey(bytes: SHA256.hash(Array("someone else".utf8)))
        #expect(!other.recoversToSelf(digest: digest, signature: signature, sInverse: sInverse, nonce: nonce))
    }
}
