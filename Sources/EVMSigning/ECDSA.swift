/// A secp256k1 private key. It has no printable form: `description`, `debugDescription` and its mirror
/// are redacted, and it is neither `Equatable` nor `Codable`.
public struct PrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let secret: Scalar
    private let publicKey: AffinePoint
    /// Multiples of the public key for the self-check (public data, like the key's address).
    private let publicKeyTable: PublicTable
    /// The Ethereum address of this key.
    public let address: EthereumAddress

    /// Wraps 32 big-endian bytes k with 0 < k < n.
    ///
    /// Besides the public key this precomputes a table of its multiples (8-bit signed windows, about 0.3 MB, a
    /// millisecond or two) that makes the self-check of every signature cheap.
    public init(bytes: [UInt8]) throws(SigningError) {
        let hook = ConstantTimeAudit.hook
        guard bytes.count == 32, let value = UInt256(bigEndianBytes: bytes) else {
            throw SigningError(
                code: .invalidPrivateKey, message: "a private key must be 32 bytes, non-zero and below the curve order")
        }
        // The range check runs in constant time; only its outcome is looked at.
        let (scalar, validMask) = Scalar.checkedNonZero(value)
        var valid = validMask
        hook.declassify(&valid)
        guard valid != 0 else {
            throw SigningError(
                code: .invalidPrivateKey, message: "a private key must be 32 bytes, non-zero and below the curve order")
        }
        // 0 < key < n, so key·G is a finite point; it is public from here on.
        var point = ScalarMultiplication.generatorSecret(scalar).affineOfFinite
        hook.declassify(&point)
        guard point.isOnCurve else {
            throw SigningError(code: .invalidPrivateKey, message: "the private key has no valid public key")
        }
        self.secret = scalar
        self.publicKey = point
        self.publicKeyTable = PublicTable(base: point, width: 8)
        self.address = EthereumAddress(publicKey: point)
    }

    /// Parses 64 hex digits, with or without a `0x` prefix.
    public init(hex: String) throws(SigningError) {
        var text = Substring(hex)
        if text.hasPrefix("0x") { text = text.dropFirst(2) }
        guard text.utf8.count == 64, let bytes = Hex.decode(String(text)) else {
            throw SigningError(code: .invalidPrivateKey, message: "a private key must be 64 hex digits")
        }
        try self.init(bytes: bytes)
    }

    /// A fresh key from the operating system's random source.
    public static func generate() throws(SigningError) -> PrivateKey {
        while true {
            let candidate = try SecureRandom.bytes(32)
            if let key = try? PrivateKey(bytes: candidate) { return key }
        }
    }

    /// Signs a 32-byte digest: RFC 6979 deterministic nonce (HMAC-SHA256), low-s, recovery id.
    ///
    /// Constant time with respect to the key and the nonce: no branch, table index or call depends on them
    /// (checked under valgrind by `Tests/CTime`, see docs/threat_model.md). Before returning, the signature
    /// is checked to recover to this key (see ``recoversToSelf``); a mismatch throws `selfCheckFailed` and
    /// releases nothing. Nonces whose point has x ≥ n (recovery ids 2 and 3, which Ethereum's 27/28 encoding
    /// cannot express; probability about 2^-128) are skipped like r = 0.
    public func sign(digest: [UInt8]) throws(SigningError) -> RecoverableSignature {
        let (signature, sInverse, nonce) = try signUnchecked(digest: digest)
        guard recoversToSelf(digest: digest, signature: signature, sInverse: sInverse, nonce: nonce) else {
            throw SigningError(code: .selfCheckFailed, message: "the new signature did not recover to the signer")
        }
        return signature
    }

    /// The signature, s⁻¹ and the nonce point R (its y negated with s, so that it matches the recovery id),
    /// without the self-check.
    ///
    /// Everything derived from the key or k runs as a fixed sequence of wrapping limb operations and masked
    /// selections. The code branches only on values that are public when it looks at them, each passed
    /// through the audit hook first (see ``ConstantTimeAudit``): the candidate's validity, R's x (r itself, or
    /// r + n), and the finished s, s⁻¹, recovery id and R.
    func signUnchecked(digest: [UInt8]) throws(SigningError) -> (RecoverableSignature, Scalar, AffinePoint) {
        guard digest.count == 32, let digestValue = UInt256(bigEndianBytes: digest) else {
            throw SigningError(code: .invalidDigest, message: "a digest must be exactly 32 bytes")
        }
        let hook = ConstantTimeAudit.hook
        let z = Scalar(reducing: digestValue)
        var generator = NonceGenerator(key: secret.bigEndianBytes, message: z.bigEndianBytes)
        while true {
            let k = generator.next(hook: hook)
            // 0 < k < n, so k·G is finite.
            var nonce = ScalarMultiplication.generatorSecret(k).affineOfFinite
            hook.declassify(&nonce.x)
            guard nonce.x.integer < Scalar.order else { continue }
            let r = Scalar(reducing: nonce.x.integer)
            guard !r.isZero else { continue }
            // s = k⁻¹·e and s⁻¹ = k·e⁻¹ from a single constant-time inversion of k·e (zero when e = 0, which
            // makes s zero and is skipped below).
            let e = z + r * secret
            let inverse = (k * e).inverseDivsteps()
            let rawS = e * e * inverse
            let rawSInverse = k * k * inverse
            // Low s by masking: when s > n/2 take n − s, and negate s⁻¹ and R's y with it. The recovery id is
            // the parity of the y that goes with the final s.
            let high = rawS.highMask
            var s = Scalar.select(high, -rawS, rawS)
            var sInverse = Scalar.select(high, -rawSInverse, rawSInverse)
            nonce.y = FieldElement.select(high, -nonce.y, nonce.y)
            var recoveryID = UInt8(truncatingIfNeeded: nonce.y.l0 & 1)
            hook.declassify(&s)
            hook.declassify(&sInverse)
            hook.declassify(&nonce.y)
            hook.declassify(&recoveryID)
            guard !s.isZero else { continue }
            return (RecoverableSignature(r: r, s: s, recoveryID: recoveryID), sInverse, nonce)
        }
    }

    /// True when `signature` recovers to this key, checked in verification form on the exact bytes about
    /// to be released.
    ///
    /// Recovery returns Q' = r⁻¹·(s·R̂ − z·G), where R̂ is the point with x = r and the y parity the recovery id
    /// names; Q' = Q exactly when z·s⁻¹·G + r·s⁻¹·Q = R̂. That right-hand form needs no square root, no field
    /// inversion and no doublings (both multiplications use precomputed tables), so it is what runs here:
    /// the candidate y of R̂ (from signing) must be a root of r³ + 7 with the signature's parity, s⁻¹ must
    /// invert the signature's s, and the sum must equal (r, y) projectively.
    func recoversToSelf(
        digest: [UInt8], signature: RecoverableSignature, sInverse: Scalar, nonce: AffinePoint
    ) -> Bool {
        guard let digestValue = UInt256(bigEndianBytes: digest),
            let rValue = UInt256(bigEndianBytes: signature.r), let sValue = UInt256(bigEndianBytes: signature.s),
            let r = Scalar(exactly: rValue), let s = Scalar(exactly: sValue), !r.isZero, !s.isZero,
            let x = FieldElement(rValue), signature.recoveryID < 2
        else { return false }
        let y = nonce.y
        guard y.squared() == x.squared() * x + .seven, y.isOdd == (signature.recoveryID == 1),
            s * sInverse == .one
        else { return false }
        let z = Scalar(reducing: digestValue)
        let u1 = z * sInverse
        let u2 = r * sInverse
        let sum = PublicTable.generator.multiply(u1, plus: u2, on: publicKeyTable, adding: .infinity)
        guard !sum.isInfinity else { return false }
        let z2 = sum.z.squared()
        return sum.x == x * z2 && sum.y == y * z2 * sum.z
    }

    public var description: String { "PrivateKey(redacted)" }
    public var debugDescription: String { "PrivateKey(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// RFC 6979 §3.2 HMAC-DRBG over SHA-256 for qlen = hlen = 256, the nonce generator libsecp256k1 and
/// eth-keys use.
struct NonceGenerator {
    private var keyed: HMACSHA256.Keyed
    private var value = [UInt8](repeating: 0x01, count: 32)
    private var started = false

    /// `key` is the private key, `message` is bits2octets(h1): the digest reduced modulo n.
    /// Step d's key, 32 zero bytes, with its pads absorbed once per process (two compressions per signature).
    private static let initialKey = HMACSHA256.Keyed(key: [UInt8](repeating: 0x00, count: 32))

    init(key secret: [UInt8], message: [UInt8]) {
        keyed = Self.initialKey
        keyed = HMACSHA256.Keyed(key: keyed.authenticationCode(value, 0x00, secret, message))
        value = keyed.authenticationCode(value)
        keyed = HMACSHA256.Keyed(key: keyed.authenticationCode(value, 0x01, secret, message))
        value = keyed.authenticationCode(value)
    }

    /// The next candidate k in 1..<n (candidates outside it are skipped, as §3.2 step h.3 says). The range
    /// check is constant time; only its outcome is declassified and branched on.
    mutating func next(hook: ConstantTimeAudit.Hook) -> Scalar {
        while true {
            if started {
                keyed = HMACSHA256.Keyed(key: keyed.authenticationCode(value, 0x00))
                value = keyed.authenticationCode(value)
            }
            started = true
            value = keyed.authenticationCode(value)
            guard let candidate = UInt256(bigEndianBytes: value) else { continue }
            let (k, validMask) = Scalar.checkedNonZero(candidate)
            var valid = validMask
            hook.declassify(&valid)
            if valid != 0 { return k }
        }
    }
}

/// An ECDSA signature with its recovery id, as Ethereum uses it.
public struct RecoverableSignature: Sendable, Hashable, CustomStringConvertible {
    /// r, 32 big-endian bytes, 0 < r < n.
    public let r: [UInt8]
    /// s, 32 big-endian bytes, 0 < s < n (signatures made here always have s ≤ n/2).
    public let s: [UInt8]
    /// 0 or 1: the parity of the nonce point's y.
    public let recoveryID: UInt8

    init(r: Scalar, s: Scalar, recoveryID: UInt8) {
        self.r = r.bigEndianBytes
        self.s = s.bigEndianBytes
        self.recoveryID = recoveryID
    }

    /// Parses r‖s‖v with v ∈ {27, 28} (or the raw ids 0, 1); nil unless 0 < r, s < n.
    public init?(bytes65 bytes: [UInt8]) {
        guard bytes.count == 65 else { return nil }
        let rBytes = Array(bytes[0..<32])
        let sBytes = Array(bytes[32..<64])
        guard let r = UInt256(bigEndianBytes: rBytes), let s = UInt256(bigEndianBytes: sBytes),
            r != .zero, s != .zero, r < Scalar.order, s < Scalar.order
        else { return nil }
        switch bytes[64] {
        case 0, 27: recoveryID = 0
        case 1, 28: recoveryID = 1
        default: return nil
        }
        self.r = rBytes
        self.s = sBytes
    }

    /// Parses `0x` + 130 hex digits; see ``init(bytes65:)``.
    public init?(hex: String) {
        guard hex.hasPrefix("0x"), hex.utf8.count == 132, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes65: bytes)
    }

    /// r‖s‖v with v = 27 + recovery id.
    public var bytes65: [UInt8] { r + s + [27 + recoveryID] }

    /// `0x` + 130 lower-case hex digits of ``bytes65``.
    public var hex: String { "0x" + Hex.encode(bytes65) }

    public var description: String { hex }
}

/// The address whose key made `signature` over the 32-byte `digest` (like the `ecrecover` precompile, any
/// 0 < s < n is accepted); nil when the digest is not 32 bytes or nothing can be recovered.
public func recoverAddress(digest: [UInt8], signature: RecoverableSignature) -> EthereumAddress? {
    guard let point = recoverPublicKey(digest: digest, signature: signature) else { return nil }
    return EthereumAddress(publicKey: point)
}

/// Q = r⁻¹·(s·R − z·G), where R is the curve point with x = r and the y parity the recovery id names.
func recoverPublicKey(digest: [UInt8], signature: RecoverableSignature) -> AffinePoint? {
    guard digest.count == 32, signature.recoveryID < 2,
        let digestValue = UInt256(bigEndianBytes: digest),
        let rValue = UInt256(bigEndianBytes: signature.r), let sValue = UInt256(bigEndianBytes: signature.s),
        let r = Scalar(exactly: rValue), let s = Scalar(exactly: sValue), !r.isZero, !s.isZero,
        let x = FieldElement(rValue),
        let nonce = AffinePoint(x: x, oddY: signature.recoveryID & 1 == 1)
    else { return nil }
    let z = Scalar(reducing: digestValue)
    let rInverse = r.inverseVariableTime()  // r is public
    let u1 = -(z * rInverse)
    let u2 = s * rInverse
    return ScalarMultiplication.linearCombinationPublic(u1, u2, nonce).affine
}
