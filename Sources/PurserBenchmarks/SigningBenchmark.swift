import EVMSigning
import Foundation

/// `purser-bench signing [--count N]`: per-signature time of the pure-Swift secp256k1 signer (with and without
/// the sign-then-recover self-check), recovery, Keccak-256 and EIP-712 hashing.
struct SigningBenchmark: Benchmark {
    static let name = "signing"
    static let summary = "secp256k1 signing (median, p99), recovery, Keccak-256 and EIP-712 hashing"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var count = 5000
        if let index = arguments.firstIndex(of: "--count"), index + 1 < arguments.count,
            let value = Int(arguments[index + 1]), value > 0
        {
            count = value
        }
        // Fixed, public inputs: the Anvil #0 test key and Keccak-256("bench-<i>") digests.
        let key = try PrivateKey(hex: "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        let digests = (0..<count).map { Keccak256.hash(Array("bench-\($0)".utf8)) }
        let clock = ContinuousClock()

        // Warm up: builds the generator table and faults in the code.
        for digest in digests.prefix(200) { _ = try key.sign(digest: digest) }

        var signatures: [RecoverableSignature] = []
        signatures.reserveCapacity(count)
        let checked = try digests.map { digest in
            let start = clock.now
            let signature = try key.sign(digest: digest)
            let elapsed = clock.now - start
            signatures.append(signature)
            return elapsed
        }
        let unchecked = try SigningBenchmarkSupport.uncheckedSigningTimes(key: key, digests: digests).map {
            Duration.nanoseconds($0)
        }
        var recovered = 0
        let recovery = zip(digests, signatures).map { digest, signature in
            let start = clock.now
            if recoverAddress(digest: digest, signature: signature) == key.address { recovered += 1 }
            return clock.now - start
        }
        let message = try TransferWithAuthorization(
            from: key.address, to: key.address, value: UInt256(10_000), validAfter: .zero,
            validBefore: UInt256(1_900_000_000), nonce: [UInt8](repeating: 0x11, count: 32))
        let domain = EIP712Domain(name: "USDC", version: "2", chainID: UInt256(84532), verifyingContract: key.address)
        var sink: UInt8 = 0
        let eip712 = (0..<count).map { _ in
            let start = clock.now
            sink ^= EIP712.digest(domain: domain, message: message)[0]
            return clock.now - start
        }
        let keyBytes = digests.prefix(50).map { $0 }
        let keyCreation = try keyBytes.map { bytes in
            let start = clock.now
            sink ^= try PrivateKey(bytes: bytes).address.bytes[0]
            return clock.now - start
        }
        let input = [UInt8](repeating: 0x61, count: 500)
        let keccak = (0..<count).map { _ in
            let start = clock.now
            sink ^= Keccak256.hash(input)[0]
            return clock.now - start
        }

        var lines = [
            "purser-bench signing: pure-Swift secp256k1, \(count) iterations each (release build)",
            "command: swift build -c release --product purser-bench && "
                + "$(swift build -c release --show-bin-path)/purser-bench signing --count \(count)",
            "",
            row("sign (RFC 6979, low-s, recovery id) + recover-and-compare", checked),
            row("sign without the self-check", unchecked),
            row("recoverAddress", recovery),
            row("EIP-712 digest (domain separator + TransferWithAuthorization)", eip712),
            row("Keccak-256 of 500 bytes", keccak),
            row("PrivateKey(bytes:): public key + 8-bit signed self-check table (50 keys)", keyCreation),
            "",
            "recovered correctly: \(recovered)/\(count)  (sink \(sink))",
        ]
        lines.append("")
        FileHandle.standardOutput.write(Data(lines.joined(separator: "\n").utf8))
        return recovered == count ? 0 : 1
    }

    private static func row(_ label: String, _ samples: [Duration]) -> String {
        let sorted = samples.map { Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6 }
            .sorted()
        func percentile(_ fraction: Double) -> Double {
            sorted[min(sorted.count - 1, Int(fraction * Double(sorted.count)))]
        }
        let mean = sorted.reduce(0, +) / Double(sorted.count)
        return label.padding(toLength: 68, withPad: " ", startingAt: 0)
            + String(format: "median %8.2f µs   p99 %8.2f µs   mean %8.2f µs", percentile(0.5), percentile(0.99), mean)
    }
}
