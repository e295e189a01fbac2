public import EVMSigning
public import JSONCore

/// The public half of the owner's authority, stored in the vault's home as `owner.json`: the address of
/// the owner key and how that key is derived from the passphrase (algorithm, work factor, salt).
///
/// Nothing in it is secret: the key exists only while an owner command runs, re-derived from the
/// passphrase typed at the terminal.
public struct OwnerKeyRecord: Sendable, Hashable {
    /// The only key-derivation function accepted.
    public static let algorithm = "pbkdf2-hmac-sha256"
    /// The default work factor (OWASP 2023 guidance for PBKDF2-HMAC-SHA256).
    public static let defaultIterations = 600_000
    /// Below this a record is refused: a hostile edit must not make the passphrase cheap to guess.
    public static let minimumIterations = 100_000
    /// Shortest accepted passphrase, in characters.
    public static let minimumPassphraseLength = 12

    /// The owner key's Ethereum address (what signatures must recover to).
    public var address: EthereumAddress
    /// PBKDF2 iteration count.
    public var iterations: Int
    /// PBKDF2 salt (16 random bytes).
    public var salt: [UInt8]

    /// Creates a record.
    public init(address: EthereumAddress, iterations: Int, salt: [UInt8]) {
        self.address = address
        self.iterations = iterations
        self.salt = salt
    }

    /// Derives the owner key for a new passphrase with a fresh salt and returns the record to store.
    public static func create(passphrase: String, iterations: Int = defaultIterations) throws(OwnerAuthorityError)
        -> (OwnerKeyRecord, PrivateKey)
    {
        guard iterations >= minimumIterations else {
            throw OwnerAuthorityError(.badRecord, "the work factor must be at least \(minimumIterations) iterations")
        }
        guard passphrase.count >= minimumPassphraseLength else {
            throw OwnerAuthorityError(
                .passphrase, "the passphrase must have at least \(minimumPassphraseLength) characters")
        }
        let salt: [UInt8]
        do {
            salt = try SecureRandom.bytes(16)
        } catch {
            throw OwnerAuthorityError(.storage, "the random source failed: \(error.message)")
        }
        let key = try deriveKey(passphrase: passphrase, salt: salt, iterations: iterations)
        return (OwnerKeyRecord(address: key.address, iterations: iterations, salt: salt), key)
    }

    /// Re-derives the owner key from the passphrase; a wrong passphrase yields a key with another address.
    public func key(passphrase: String) throws(OwnerAuthorityError) -> PrivateKey {
        try Self.deriveKey(passphrase: passphrase, salt: salt, iterations: iterations)
    }

    private static func deriveKey(passphrase: String, salt: [UInt8], iterations: Int) throws(OwnerAuthorityError)
        -> PrivateKey
    {
        // Domain-separated salt, so this key can never equal a PBKDF2 output used elsewhere.
        let bytes = PBKDF2.sha256(
            password: Array(passphrase.utf8), salt: Array("purser-owner-key-v1".utf8) + salt, iterations: iterations,
            length: 32)
        do {
            return try PrivateKey(bytes: bytes)
        } catch {
            // Probability about 2^-128 (zero or ≥ the group order); choosing another passphrase is the fix.
            throw OwnerAuthorityError(.passphrase, "this passphrase derives no valid key; choose another")
        }
    }

    /// The stored form.
    public var json: JSONValue {
        [
            "version": 1, "address": .string(address.checksummed),
            "kdf": [
                "algorithm": .string(Self.algorithm), "iterations": .number(JSONNumber(iterations)),
                "salt": .string(OwnerHex.encode(salt)), "length": 32,
            ],
        ]
    }

    /// Parses and checks a stored record; unknown fields, another algorithm or a weak work factor are refused.
    public static func parse(_ value: JSONValue) throws(OwnerAuthorityError) -> OwnerKeyRecord {
        func bad(_ message: String) -> OwnerAuthorityError { OwnerAuthorityError(.badRecord, message) }
        guard let object = value.objectValue else { throw bad("owner.json must be an object") }
        if let unknown = Set(object.keys).subtracting(["version", "address", "kdf"]).sorted().first {
            throw bad("owner.json: unknown field \"\(unknown)\"")
        }
        guard object["version"]?.int64Value == 1 else { throw bad("owner.json: \"version\" must be 1") }
        guard let text = object["address"]?.stringValue, let address = EthereumAddress(hex: text) else {
            throw bad("owner.json: \"address\" must be an Ethereum address")
        }
        guard let kdf = object["kdf"]?.objectValue else { throw bad("owner.json: \"kdf\" must be an object") }
        if let unknown = Set(kdf.keys).subtracting(["algorithm", "iterations", "salt", "length"]).sorted().first {
            throw bad("owner.json: unknown field \"kdf.\(unknown)\"")
        }
        guard kdf["algorithm"]?.stringValue == algorithm else {
            throw bad("owner.json: \"kdf.algorithm\" must be \"\(algorithm)\"")
        }
        guard kdf["length"]?.int64Value == 32 else { throw bad("owner.json: \"kdf.length\" must be 32") }
        guard let iterations = kdf["iterations"]?.int64Value.map(Int.init), iterations >= minimumIterations,
            iterations <= 100_000_000
        else {
            throw bad("owner.json: \"kdf.iterations\" must be an integer from \(minimumIterations) to 100000000")
        }
        guard let saltText = kdf["salt"]?.stringValue, let salt = OwnerHex.decode(saltText), salt.count >= 16,
            salt.count <= 64
        else { throw bad("owner.json: \"kdf.salt\" must be 16 to 64 bytes of hex") }
        return OwnerKeyRecord(address: address, iterations: iterations, salt: salt)
    }
}

/// Hex without a package: lower-case output, strict input.
public enum OwnerHex {
    /// Lower-case hex of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    /// Decodes an even number of hex digits (no prefix); nil otherwise.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        func nibble(_ character: UInt8) -> UInt8? {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        var index = 0
        while index < characters.count {
            guard let high = nibble(characters[index]), let low = nibble(characters[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
