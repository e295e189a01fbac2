import Foundation
import OwnerSigning
import Testing

@Suite struct NonceStoreTests {
    @Test func aNonceIsAcceptedOnceEvenAcrossRestarts() throws {
        let path = NSTemporaryDirectory() + "nonces-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try NonceStore(path: path)
        try store.claim("00112233445566778899aabbccddeeff", timestamp: 1)
        do {
            try store.claim("00112233445566778899aabbccddeeff", timestamp: 2)
            Issue.record("a replayed nonce was accepted")
        } catch {
            #expect(error.code == .replay)
        }
        let reopened = try NonceStore(path: path)
        do {
            try reopened.claim("00112233445566778899aabbccddeeff", timestamp: 3)
            Issue.record("a replayed nonce was accepted after a restart")
        } catch {
            #expect(error.code == .replay)
        }
        try reopened.claim("ffeeddccbbaa99887766554433221100", timestamp: 4)
    }
}
