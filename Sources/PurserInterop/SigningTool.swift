import EVMSigning
import Foundation

/// `purser-interop sign-vectors`: one JSON object per stdin line in, one per stdout line out, so the signing
/// suite can compare Purser's digests, signatures and addresses with eth-account's.
///
/// Requests (`id` is echoed back):
/// - `{"op":"sign","key":"0x…","digest":"0x…"}` → `address`, `signature`, `recovered`
/// - `{"op":"typed","key":"0x…","domain":{"name","version","chainId","verifyingContract"},
///   "message":{"from","to","value","validAfter","validBefore","nonce"}}` (integers as decimal strings)
///   → `domainSeparator`, `structHash`, `digest`, `address`, `signature`, `recovered`
/// - `{"op":"recover","digest":"0x…","signature":"0x…"}` → `address` (null when nothing recovers)
/// - `{"op":"address","text":"0x…"}` → `checksummed` (null when refused)
/// - `{"op":"uint256","text":"…"}` → `decimal` (null when refused)
///
/// A refused request answers `{"id":…,"error":"<code>"}`.
struct SigningTool: InteropTool {
    static let name = "sign-vectors"

    struct Refusal: Error {
        let code: String
    }

    static func run(_ arguments: [String]) async throws -> Int32 {
        let output = FileHandle.standardOutput
        while let line = readLine(strippingNewline: true) {
            if line.isEmpty { continue }
            var reply: [String: Any] = [:]
            let request = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            reply["id"] = request["id"] ?? NSNull()
            do {
                try answer(request, into: &reply)
            } catch let error as SigningError {
                reply["error"] = error.code.rawValue
            } catch let refusal as Refusal {
                reply["error"] = refusal.code
            }
            var data = try JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])
            data.append(0x0A)
            try output.write(contentsOf: data)
        }
        return 0
    }

    private static func answer(_ request: [String: Any], into reply: inout [String: Any]) throws {
        switch request["op"] as? String {
        case "sign":
            let key = try PrivateKey(hex: try string(request, "key"))
            let digest = try bytes(request, "digest")
            let signature = try key.sign(digest: digest)
            reply["address"] = key.address.checksummed
            reply["signature"] = signature.hex
            reply["recovered"] = recoverAddress(digest: digest, signature: signature)?.checksummed ?? NSNull()
        case "typed":
            let key = try PrivateKey(hex: try string(request, "key"))
            let domainObject = request["domain"] as? [String: Any] ?? [:]
            let messageObject = request["message"] as? [String: Any] ?? [:]
            let domain = EIP712Domain(
                name: try string(domainObject, "name"), version: try string(domainObject, "version"),
                chainID: try integer(domainObject, "chainId"),
                verifyingContract: try address(domainObject, "verifyingContract"))
            let message = try TransferWithAuthorization(
                from: try address(messageObject, "from"), to: try address(messageObject, "to"),
                value: try integer(messageObject, "value"), validAfter: try integer(messageObject, "validAfter"),
                validBefore: try integer(messageObject, "validBefore"), nonce: try bytes(messageObject, "nonce"))
            let digest = EIP712.digest(domain: domain, message: message)
            let signature = try key.sign(digest: digest)
            reply["domainSeparator"] = "0x" + hex(EIP712.domainSeparator(domain))
            reply["structHash"] = "0x" + hex(EIP712.structHash(message))
            reply["digest"] = "0x" + hex(digest)
            reply["address"] = key.address.checksummed
            reply["signature"] = signature.hex
            reply["recovered"] = recoverAddress(digest: digest, signature: signature)?.checksummed ?? NSNull()
        case "recover":
            guard let signature = RecoverableSignature(hex: try string(request, "signature")) else {
                throw Refusal(code: "invalid_signature")
            }
            let digest = try bytes(request, "digest")
            reply["address"] = recoverAddress(digest: digest, signature: signature)?.checksummed ?? NSNull()
        case "address":
            reply["checksummed"] = EthereumAddress(hex: try string(request, "text"))?.checksummed ?? NSNull()
        case "uint256":
            reply["decimal"] = UInt256(decimal: try string(request, "text"))?.decimalString ?? NSNull()
        default:
            throw Refusal(code: "unknown_op")
        }
    }

    private static func string(_ object: [String: Any], _ field: String) throws -> String {
        guard let value = object[field] as? String else { throw Refusal(code: "missing_\(field)") }
        return value
    }

    private static func bytes(_ object: [String: Any], _ field: String) throws -> [UInt8] {
        let text = try string(object, field)
        guard text.hasPrefix("0x"), text.utf8.count % 2 == 0 else { throw Refusal(code: "bad_hex_\(field)") }
        var result: [UInt8] = []
        var index = text.index(text.startIndex, offsetBy: 2)
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { throw Refusal(code: "bad_hex_\(field)") }
            result.append(byte)
            index = next
        }
        return result
    }

    private static func integer(_ object: [String: Any], _ field: String) throws -> UInt256 {
        guard let value = UInt256(decimal: try string(object, field)) else { throw Refusal(code: "bad_\(field)") }
        return value
    }

    private static func address(_ object: [String: Any], _ field: String) throws -> EthereumAddress {
        guard let value = EthereumAddress(hex: try string(object, field)) else { throw Refusal(code: "bad_\(field)") }
        return value
    }

    private static func hex(_ data: [UInt8]) -> String {
        Hex.encode(Array(data))
    }
}
