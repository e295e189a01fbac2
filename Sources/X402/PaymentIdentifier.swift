import EVMSigning
import JSONCore

/// The x402 `payment-identifier` extension: a client-chosen id (16–128 of `A–Z a–z 0–9 _ -`) that
/// sellers and facilitators may use to deduplicate a purchase.
///
/// Purser derives it from the agent and the idempotency key, so a retry with the same key carries the same
/// id; a purchase without a key gets a random one.
public enum PaymentIdentifier {
    /// The extension's key in `extensions`.
    public static let key = "payment-identifier"

    /// A stable id for (agent, idempotency key): `pay_` + 32 hex of SHA-256, or a random id when there is no key.
    public static func make(agent: String, idempotencyKey: String?, randomBytes: () -> [UInt8]) -> String {
        guard let idempotencyKey else { return "pay_" + HexBytes.encode(randomBytes().prefix(16)) }
        // Length-prefixed so ("a", "bc") and ("ab", "c") differ.
        let material = Array("purser.payment-id.v1|\(agent.utf8.count)|\(agent)|\(idempotencyKey)".utf8)
        return "pay_" + HexBytes.encode(SHA256.hash(material).prefix(16))
    }

    /// True for 16–128 characters of `A–Z a–z 0–9 _ -`.
    public static func isValid(_ id: String) -> Bool {
        (16...128).contains(id.utf8.count)
            && id.utf8.allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45
            }
    }

    /// Adds `id` to a declared `payment-identifier` extension (`info.id`), keeping everything the seller
    /// sent. An undeclared or malformed extension is left as it is: the seller does not support it.
    static func add(_ id: String, to extensions: inout JSONObject) {
        guard case .object(var declared)? = extensions[key], case .object(var info)? = declared["info"] else { return }
        info["id"] = .string(id)
        declared["info"] = .object(info)
        extensions[key] = .object(declared)
    }

    /// The id a built payment payload carries, if any.
    static func sent(in payload: JSONValue) -> String? {
        payload["extensions"]?[key]?["info"]?["id"]?.stringValue
    }
}
