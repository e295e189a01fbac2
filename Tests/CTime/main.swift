// The constant-time check of the pure-Swift signer, after libsecp256k1's `ctime_tests`: run under
// `valgrind --tool=memcheck --error-exitcode=1 --track-origins=yes` in a release build. It marks each
// private key undefined, creates the key (public key by k·G) and signs; the RFC 6979 state, the nonce and
// everything derived from them inherit the mark. Signing declassifies only public values (see
// EVMSigning's ConstantTimeAudit). Any branch, memory address or system call argument that depends on a
// secret is then a memcheck error, and the process exits 1.
//
// The negative controls must be reported (they show that the check can fail):
//   no-declassify          the same signing, but the public values are not declassified
//   variable-time-inverse  the binary-GCD scalar inverse (recovery's) on a secret value
//   recover                public-key recovery (variable time by design) on a secret signature
//
// Usage: purser-ctime [sign | no-declassify | variable-time-inverse | recover]
import CValgrind
import EVMSigning

#if canImport(Glibc)
    import Glibc
#endif

/// Test keys only: Anvil's key #0, 1, n − 1, and keys with long runs of zero and one bits.
let keys: [String] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0000000000000000000000000000000000000000000000000000000000000001",
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
    "00000000000000000000000000000000ffffffffffffffffffffffffffffffff",
    "7fffffffffffffffffffffffffffffff00000000000000000000000000000000",
]
let digestCount = 4

func fail(_ message: String, code: Int32) -> Never {
    print("purser-ctime: \(message)")
    exit(code)
}

func classify(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { purser_valgrind_classify($0.baseAddress, $0.count) }
}

func declassify(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { purser_valgrind_declassify($0.baseAddress, $0.count) }
}

func decode(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    func nibble(_ digit: UInt8) -> UInt8 { digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - 87 }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "sign"
guard purser_valgrind_available() == 1 else {
    fail("built without valgrind/memcheck.h; install valgrind and rebuild", code: 2)
}
guard purser_running_on_valgrind() != 0 else {
    fail("run me under valgrind --tool=memcheck --error-exitcode=1 --track-origins=yes", code: 2)
}

switch mode {
case "sign", "no-declassify":
    if mode == "sign" { ConstantTimeAudit.install(purser_valgrind_declassify) }
    var signatures = 0
    for keyHex in keys {
        var keyBytes = decode(keyHex)
        classify(&keyBytes)
        let key: PrivateKey
        do { key = try PrivateKey(bytes: keyBytes) } catch { fail("key rejected: \(error)", code: 3) }
        for index in 0..<digestCount {
            let digest = Keccak256.hash(Array("purser-ctime-\(index)".utf8))
            let signature: RecoverableSignature
            do { signature = try key.sign(digest: digest) } catch { fail("signing failed: \(error)", code: 3) }
            // Public outputs: declassified here too, for the no-declassify control (a no-op otherwise).
            var bytes = signature.bytes65
            declassify(&bytes)
            guard let parsed = RecoverableSignature(bytes65: bytes),
                recoverAddress(digest: digest, signature: parsed) == key.address
            else { fail("a signature did not recover to its key", code: 3) }
            signatures += 1
        }
    }
    print("purser-ctime \(mode): \(keys.count) keys created, \(signatures) signatures made and recovered")
case "variable-time-inverse":
    var secret = decode(keys[0])
    classify(&secret)
    var inverse = ConstantTimeAudit.inverse(of: secret, variableTime: true)
    declassify(&inverse)
    print("purser-ctime \(mode): inverse has \(inverse.count) bytes")
case "recover":
    let digest = Keccak256.hash(Array("purser-ctime-recover".utf8))
    let key: PrivateKey
    do { key = try PrivateKey(bytes: decode(keys[0])) } catch { fail("key rejected: \(error)", code: 3) }
    var bytes: [UInt8]
    do { bytes = try key.sign(digest: digest).bytes65 } catch { fail("signing failed: \(error)", code: 3) }
    classify(&bytes)
    guard let signature = RecoverableSignature(bytes65: bytes) else { fail("unparsable signature", code: 3) }
    var recovered = Array((recoverAddress(digest: digest, signature: signature)?.description ?? "").utf8)
    declassify(&recovered)
    print("purser-ctime \(mode): recovered \(recovered.count) characters")
default:
    fail("unknown mode \(mode); expected sign, no-declassify, variable-time-inverse or recover", code: 2)
}
