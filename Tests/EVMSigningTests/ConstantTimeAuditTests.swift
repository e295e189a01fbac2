import Synchronization
import Testing

@testable import EVMSigning

/// Every byte range signing declassified while the recorder below was installed.
private let declassified = Mutex<[[UInt8]]>([])

/// A declassifier that records instead of calling valgrind (a C function pointer: it captures nothing).
private let recorder: ConstantTimeAudit.Declassifier = { pointer, count in
    guard let pointer else { return }
    let bytes = Array(UnsafeRawBufferPointer(start: pointer, count: count))
    declassified.withLock { $0.append(bytes) }
}

/// The in-memory bytes of a scalar, as the hook sees them (four little-endian limbs on this platform).
private func memoryBytes(_ scalar: Scalar) -> [UInt8] {
    var copy = scalar
    return withUnsafeBytes(of: &copy) { Array($0) }
}

@Suite("constant-time audit hook", .serialized)
struct ConstantTimeAuditTests {
    @Test("signing declassifies the signature's s and recovery id, never the key or the nonce")
    func declassifiesOnlyPublicValues() throws {
        let keyBytes = SHA256.hash(Array("ctime-audit-key".utf8))
        let digest = SHA256.hash(Array("ctime-audit-digest".utf8))
        let keyValue = try #require(UInt256(bigEndianBytes: keyBytes))
        let secret = try #require(Scalar(exactly: keyValue))
        let digestValue = try #require(UInt256(bigEndianBytes: digest))
        let z = Scalar(reducing: digestValue)
        var nonces = NonceGenerator(key: secret.bigEndianBytes, message: z.bigEndianBytes)
        let nonce = nonces.next(hook: ConstantTimeAudit.Hook(declassifier: nil))

        declassified.withLock { $0 = [] }
        ConstantTimeAudit.install(recorder)
        defer { ConstantTimeAudit.install(nil) }
        let key = try PrivateKey(bytes: keyBytes)
        let signature = try key.sign(digest: digest)
        let recorded = declassified.withLock { $0 }

        let sValue = try #require(UInt256(bigEndianBytes: signature.s))
        let s = try #require(Scalar(exactly: sValue))
        #expect(recorded.contains(memoryBytes(s)))
        #expect(recorded.contains([signature.recoveryID]))
        #expect(!recorded.contains(memoryBytes(secret)))
        #expect(!recorded.contains(memoryBytes(nonce)))
        #expect(!recorded.contains { $0.count > 64 })
    }

    @Test("the hook changes nothing: audited and plain signatures are identical; nothing recorded without it")
    func hookChangesNothing() throws {
        let key = try PrivateKey(bytes: SHA256.hash(Array("ctime-audit-key".utf8)))
        let digest = SHA256.hash(Array("ctime-audit-digest-2".utf8))
        declassified.withLock { $0 = [] }
        let plain = try key.sign(digest: digest)
        #expect(declassified.withLock { $0.isEmpty })
        ConstantTimeAudit.install(recorder)
        defer { ConstantTimeAudit.install(nil) }
        let audited = try key.sign(digest: digest)
        #expect(plain == audited)
        #expect(!declassified.withLock { $0.isEmpty })
    }
}
