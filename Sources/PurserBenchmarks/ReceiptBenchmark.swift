import EVMSigning
import Foundation
import JSONCore
import X402

/// `purser-bench receipts`: what verifying a seller-signed receipt (x402 `offer-receipt`) adds to a paid call's
/// settlement-claim step: absent, EIP-712 (hash + one recovery) and ES256K JWS (base64url, JSON, SHA-256, one
/// or two recoveries).
struct ReceiptBenchmark: Benchmark {
    static let name = "receipts"
    static let summary = "seller-signed receipt verification (absent, EIP-712, ES256K JWS), median and p99"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var count = 2000
        if let index = arguments.firstIndex(of: "--count"), index + 1 < arguments.count,
            let value = Int(arguments[index + 1]), value > 0
        {
            count = value
        }
        // The Anvil #0 test key as the seller's payTo key; fixed public inputs.
        let key = try PrivateKey(hex: "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        let payer = "0x857b06519E91e3A54538791bDbb0E22373e36b66"
        let transaction = "0x" + String(repeating: "ab", count: 32)
        let url = "https://api.example.com/premium-data"
        let payload = SellerReceipt.Payload(
            network: "eip155:84532", resourceURL: url, payer: payer, issuedAt: 1_900_000_100, transaction: transaction)
        let fields: JSONObject = [
            "version": 1, "network": "eip155:84532", "resourceUrl": .string(url), "payer": .string(payer),
            "issuedAt": 1_900_000_100, "transaction": .string(transaction),
        ]
        let eip712: JSONObject = [
            "format": "eip712", "payload": .object(fields),
            "signature": .string(try key.sign(digest: SellerReceipt.eip712Digest(payload)).hex),
        ]
        let header = base64url(Array(#"{"alg":"ES256K","kid":"did:pkh:eip155:84532:\#(key.address)"}"#.utf8))
        let body = base64url(JSONValue.object(fields).serializedBytes())
        let jwsSignature = try key.sign(digest: SHA256.hash(Array("\(header).\(body)".utf8)))
        let jws: JSONObject = [
            "format": "jws", "signature": .string("\(header).\(body).\(base64url(jwsSignature.r + jwsSignature.s))"),
        ]
        let expected = SellerReceipt.Expectation(
            payTo: key.address.checksummed, network: "eip155:84532", payer: payer, validAfter: 1_900_000_000,
            transaction: transaction, resourceURLs: [url], now: 1_900_000_110)
        let settled: JSONObject = ["success": true, "transaction": .string(transaction), "network": "eip155:84532"]

        let clock = ContinuousClock()
        var valid = 0
        func measure(_ settlement: JSONObject) -> [Duration] {
            (0..<count).map { _ in
                let start = clock.now
                let status = SellerReceipt.verify(settlement: settlement, expecting: expected)
                let elapsed = clock.now - start
                if status.word == "valid" || status == .absent { valid += 1 }
                return elapsed
            }
        }
        func with(_ receipt: JSONObject) -> JSONObject {
            var object = settled
            object["extensions"] = ["offer-receipt": ["info": ["receipt": .object(receipt)]]]
            return object
        }
        _ = measure(with(eip712))  // warm up
        valid = 0
        let absent = measure(settled)
        let typed = measure(with(eip712))
        let compact = measure(with(jws))
        let lines = [
            "purser-bench receipts: seller-signed receipt verification, \(count) iterations each (release build)",
            "command: swift build -c release --product purser-bench && "
                + "$(swift build -c release --show-bin-path)/purser-bench receipts --count \(count)",
            "",
            row("no receipt (absent)", absent),
            row("EIP-712 receipt (digest + recover)", typed),
            row("ES256K JWS receipt (base64url, JSON, SHA-256, recover)", compact),
            "",
            "valid or absent: \(valid)/\(3 * count)",
            "",
        ]
        FileHandle.standardOutput.write(Data(lines.joined(separator: "\n").utf8))
        return valid == 3 * count ? 0 : 1
    }

    private static func base64url(_ bytes: [UInt8]) -> String {
        String(
            Base64.encode(bytes).filter { $0 != "=" }.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    private static func row(_ label: String, _ samples: [Duration]) -> String {
        let sorted = samples.map { Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6 }
            .sorted()
        func percentile(_ fraction: Double) -> Double {
            sorted[min(sorted.count - 1, Int(fraction * Double(sorted.count)))]
        }
        return label.padding(toLength: 60, withPad: " ", startingAt: 0)
            + String(format: "median %8.2f µs   p99 %8.2f µs", percentile(0.5), percentile(0.99))
    }
}
