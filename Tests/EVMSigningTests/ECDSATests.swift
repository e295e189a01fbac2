import EVMSigning
import Testing

@Suite("secp256k1 ECDSA signing and recovery")
struct ECDSATests {
    struct Fixture: Sendable, CustomTestStringConvertible {
        let index: Int
        let digest: String
        let address: String
        let signature: String
        var testDescription: String { "fixture \(index)" }
    }

    // swift-on-linux.md §B.3: key = SHA-256("fixture-key-<i>"), digest = Keccak-256("fixture-message-<i>"),
    // produced by libsecp256k1 and re-checked with eth_keys.
    static let fixtures = [
        Fixture(
            index: 0, digest: "ee2e03784549c0127538816db1fbd63da93f18de4f6e9b667a95f9546ccc7bcf",
            address: "4139d9021fd2098cc09195cc9a4a406fbd45eb82",
            signature: "b12a25012dba0147457a04b86d5d851e1a7939c57c06a764971a6ece6a72f411"
                + "4bf3358199d4371f00976e8e8e32d0be9448ed9c9186472fa7e5c36552206fb01c"),
        Fixture(
            index: 1, digest: "206895832021219eca33b4b6f8da6ccfa8a90abaafe45a334c61aa81a6c34396",
            address: "f7b404dd84738397b9e53b5bf069c1c21605cab9",
            signature: "175101925c9b1d6df6e574b1747804a861a3c00cbb9ab2c09944726584c44566"
                + "4dac587d8d18648a26ce4a570febc5070f63143bb8d983155194198f31ab10ff1c"),
        Fixture(
            index: 2, digest: "e2188de9cbda6c24ead9a3cb863672e58b2d05f0e9ae10ec839c17fb742398e2",
            address: "5233cf573c554a3c25861abb09eb2049ffecc938",
            signature: "5e6a4e20a67a3b83f6abaecb0cd0db2f4629a401832c74154a3b42bdae3d8433"
                + "44aad7a807aea6bf5d4600d9dfe909230efe5cf99ca44fdbd639f6ba59fadca51c"),
    ]

    @Test("libsecp256k1 fixture vectors: digest, address and signature byte for byte", arguments: fixtures)
    func fixtureVectors(fixture: Fixture) throws {
        let key = try PrivateKey(bytes: SHA256.hash(Array("fixture-key-\(fixture.index)".utf8)))
        let digest = Keccak256.hash(Array("fixture-message-\(fixture.index)".utf8))
        #expect(hexString(digest) == fixture.digest)
        #expect(hexString(key.address.bytes) == fixture.address)
        let signature = try key.sign(digest: digest)
        #expect(hexString(signature.bytes65) == fixture.signature)
        #expect(recoverAddress(digest: digest, signature: signature) == key.address)
    }

    @Test("web3.js accounts.sign(\"Some data\") personal-message vector")
    func web3PersonalSign() throws {
        let key = try PrivateKey(hex: "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        #expect(hexString(key.address.bytes) == "2c7536e3605d9c16a7a3d7b1898e529396a65c23")
        let message = Array("Some data".utf8)
        let digest = Keccak256.hash(Array("\u{19}Ethereum Signed Message:\n\(message.count)".utf8) + message)
        #expect(hexString(digest) == "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655")
        let signature = try key.sign(digest: digest)
        #expect(
            hexString(signature.bytes65)
                == "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
                + "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c")
        #expect(signature.recoveryID == 1)
    }

    @Test("round trips: 40 keys sign low-s and recover to their own address; other digests do not")
    func roundTrips() throws {
        let halfOrder = try #require(
            UInt256(decimal: "57896044618658097711785492504343953926418782139537452191302581570759080747168"))
        for index in 0..<40 {
            let key = try PrivateKey(bytes: SHA256.hash(Array("round-trip-key-\(index)".utf8)))
            let digest = Keccak256.hash(Array("round-trip-message-\(index)".utf8))
            let signature = try key.sign(digest: digest)
            let s = try #require(UInt256(bigEndianBytes: signature.s))
            #expect(s <= halfOrder)
            #expect(recoverAddress(digest: digest, signature: signature) == key.address)
            let parsed = try #require(RecoverableSignature(bytes65: signature.bytes65))
            #expect(parsed == signature)
            #expect(RecoverableSignature(hex: signature.hex) == signature)
            let other = Keccak256.hash(digest)
            #expect(recoverAddress(digest: other, signature: signature) != key.address)
        }
    }

    @Test("signing is deterministic (RFC 6979)")
    func deterministic() throws {
        let key = try PrivateKey(bytes: SHA256.hash(Array("deterministic".utf8)))
        let digest = Keccak256.hash(Array("same message".utf8))
        #expect(try key.sign(digest: digest) == key.sign(digest: digest))
    }

    @Test(
        "invalid private keys are refused: zero, n, above n, wrong length, bad hex",
        arguments: [
            String(repeating: "0", count: 64),
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            String(repeating: "1", count: 62), String(repeating: "1", count: 66),
            String(repeating: "g", count: 64), "0X" + String(repeating: "1", count: 64),
        ])
    func invalidKeys(hex: String) {
        #expect(throws: SigningError.self) { try PrivateKey(hex: hex) }
    }

    @Test("n − 1 is the largest valid key")
    func largestKey() throws {
        let key = try PrivateKey(hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140")
        let digest = Keccak256.hash(Array("edge".utf8))
        #expect(recoverAddress(digest: digest, signature: try key.sign(digest: digest)) == key.address)
        // Addresses of the keys 1 and n − 1 (G and −G), as eth-account computes them.
        #expect(hexString(key.address.bytes) == "80c0dbf239224071c59dd8970ab9d542e3414ab2")
        let one = try PrivateKey(hex: String(repeating: "0", count: 63) + "1")
        #expect(hexString(one.address.bytes) == "7e5f4552091a69125d5dfcb7b8c2659029395bdf")
    }

    @Test("a digest that is not 32 bytes is refused", arguments: [0, 31, 33])
    func badDigest(length: Int) throws {
        let key = try PrivateKey(bytes: SHA256.hash(Array("digest-length".utf8)))
        #expect(throws: SigningError.self) { try key.sign(digest: [UInt8](repeating: 1, count: length)) }
    }

    @Test("a key never prints its bytes")
    func redacted() throws {
        let key = try PrivateKey(hex: "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        var dumped = ""
        dump(key, to: &dumped)
        for text in [String(describing: key), String(reflecting: key), "\(key)", dumped] {
            #expect(!text.lowercased().contains("4c0883a6"))
            #expect(text.contains("redacted") || text.contains("PrivateKey"))
        }
    }

    @Test("malformed signatures are refused when parsed")
    func malformedSignatures() {
        let r = [UInt8](repeating: 0x11, count: 32)
        let order = hexBytes("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        #expect(RecoverableSignature(bytes65: r + r + [29]) == nil)
        #expect(RecoverableSignature(bytes65: r + r) == nil)
        #expect(RecoverableSignature(bytes65: [UInt8](repeating: 0, count: 32) + r + [27]) == nil)
        #expect(RecoverableSignature(bytes65: r + order + [27]) == nil)
        #expect(RecoverableSignature(bytes65: r + r + [0])?.recoveryID == 0)
        #expect(RecoverableSignature(bytes65: r + r + [28])?.recoveryID == 1)
    }

    @Test("random bytes have the requested length and differ between calls")
    func secureRandom() throws {
        let first = try SecureRandom.bytes(300)
        let second = try SecureRandom.bytes(300)
        #expect(first.count == 300)
        #expect(first != second)
        #expect(try SecureRandom.bytes(0).isEmpty)
        let generated = try PrivateKey.generate()
        let digest = Keccak256.hash(first)
        #expect(recoverAddress(digest: digest, signature: try generated.sign(digest: digest)) == generated.address)
    }
}
