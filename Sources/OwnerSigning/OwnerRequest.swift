public import EVMSigning
public import JSONCore

/// One act of the owner's authority (grant, revoke, approve, resolve, …), signed with the owner key.
///
/// The signature covers the action, its exact parameters, a fresh nonce and a timestamp, so a request
/// cannot be altered (the signature stops recovering to the owner) nor replayed (the vault stores every
/// nonce it accepted and refuses stale timestamps).
public struct OwnerRequest: Sendable, Hashable {
    /// The action, e.g. `session.grant`.
    public var action: String
    /// The action's parameters, exactly as signed.
    public var parameters: JSONObject
    /// 16 random bytes as 32 hex digits.
    public var nonce: String
    /// Unix milliseconds when the owner signed.
    public var timestamp: Int64
    /// The owner's signature over ``signingDigest``.
    public var signature: RecoverableSignature?

    /// Creates an unsigned request.
    public init(action: String, parameters: JSONObject, nonce: String, timestamp: Int64) {
        self.action = action
        self.parameters = parameters
        self.nonce = nonce
        self.timestamp = timestamp
    }

    /// A fresh unsigned request with a random nonce.
    public static func fresh(action: String, parameters: JSONObject, now: Int64) throws(OwnerAuthorityError)
        -> OwnerRequest
    {
        let nonce: [UInt8]
        do {
            nonce = try SecureRandom.bytes(16)
        } catch {
            throw OwnerAuthorityError(.storage, "the random source failed: \(error.message)")
        }
        return OwnerRequest(action: action, parameters: parameters, nonce: OwnerHex.encode(nonce), timestamp: now)
    }

    /// Keccak-256 of a domain tag and the canonical (sorted-key) JSON of everything but the signature.
    public var signingDigest: [UInt8] {
        let body: JSONValue = [
            "action": .string(action), "params": .object(parameters), "nonce": .string(nonce),
            "timestamp": .number(JSONNumber(timestamp)),
        ]
        return Keccak256.hash(Array("\u{19}Purser owner request v1\n".utf8) + body.serializedBytes(sortedKeys: true))
    }

    /// Signs with the owner key.
    public func signed(with key: PrivateKey) throws(OwnerAuthorityError) -> OwnerRequest {
        var copy = self
        do {
            copy.signature = try key.sign(digest: signingDigest)
        } catch {
            throw OwnerAuthorityError(.badSignature, "signing failed: \(error.message)")
        }
        return copy
    }

    /// The wire form.
    public var json: JSONValue {
        var object: JSONObject = [
            "v": 1, "action": .string(action), "params": .object(parameters), "nonce": .string(nonce),
            "timestamp": .number(JSONNumber(timestamp)),
        ]
        if let signature { object["signature"] = .string(signature.hex) }
        return .object(object)
    }

    /// Parses the wire form strictly: every field present with its type, nothing unknown.
    public static func parse(_ value: JSONValue) throws(OwnerAuthorityError) -> OwnerRequest {
        func bad(_ message: String) -> OwnerAuthorityError { OwnerAuthorityError(.malformed, message) }
        guard let object = value.objectValue else { throw bad("an owner request must be an object") }
        let known: Set<String> = ["v", "action", "params", "nonce", "timestamp", "signature"]
        if let unknown = Set(object.keys).subtracting(known).sorted().first {
            throw bad("unknown field \"\(unknown)\"")
        }
        guard object["v"]?.int64Value == 1 else { throw bad("\"v\" must be 1") }
        guard let action = object["action"]?.stringValue, (1...64).contains(action.utf8.count) else {
            throw bad("\"action\" must be a short string")
        }
        guard let parameters = object["params"]?.objectValue else { throw bad("\"params\" must be an object") }
        guard let nonce = object["nonce"]?.stringValue, nonce.utf8.count == 32, OwnerHex.decode(nonce) != nil,
            nonce == nonce.lowercased()
        else { throw bad("\"nonce\" must be 32 lower-case hex digits") }
        guard let timestamp = object["timestamp"]?.int64Value, timestamp > 0 else {
            throw bad("\"timestamp\" must be positive unix milliseconds")
        }
        guard let text = object["signature"]?.stringValue, let signature = RecoverableSignature(hex: text) else {
            throw bad("\"signature\" must be a 65-byte hex signature")
        }
        var request = OwnerRequest(action: action, parameters: parameters, nonce: nonce, timestamp: timestamp)
        request.signature = signature
        return request
    }
}

/// Checks signature and freshness of owner requests against the owner's record. Replays are the
/// ``NonceStore``'s job, after this check passes.
public struct OwnerRequestVerifier: Sendable {
    /// How far a timestamp may lie from the vault's clock, either way.
    public static let window: Int64 = 5 * 60 * 1000

    private let owner: EthereumAddress

    /// Creates a verifier for the owner key in `record`.
    public init(record: OwnerKeyRecord) {
        self.owner = record.address
    }

    /// Accepts `request` only when its signature recovers to the owner and it is fresh at `now`.
    public func verify(_ request: OwnerRequest, now: Int64) throws(OwnerAuthorityError) {
        var unsigned = request
        unsigned.signature = nil
        guard let signature = request.signature,
            let signer = recoverAddress(digest: unsigned.signingDigest, signature: signature), signer == owner
        else {
            throw OwnerAuthorityError(
                .badSignature,
                "the request is not signed by the owner key (wrong passphrase, or the request was altered)")
        }
        guard abs(request.timestamp - now) <= Self.window else {
            throw OwnerAuthorityError(.stale, "the request was signed more than 5 minutes away from the vault's clock")
        }
    }
}
