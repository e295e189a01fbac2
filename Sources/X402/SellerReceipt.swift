import EVMSigning
public import JSONCore

/// A seller-signed receipt (the x402 `offer-receipt` extension, `SettlementResponse.extensions
/// ["offer-receipt"].info.receipt`), verified against what was paid.
///
/// The receipt is the seller's signed word that it was paid and delivered. A valid one is attributable to the
/// key of `payTo` (the binding the extension names first, §4.5.1); it is not chain evidence and never settles or
/// releases anything. An invalid one (the signature does not check under the key it claims, or a signed claim
/// disagrees with what was paid) is a contradiction signal. Hostile bytes: sizes are bounded, base64url is
/// strict, `eip712` and `ES256K` JWS are checked against the `payTo` key; an `EdDSA` JWS is checked against the
/// key its `kid` names (`did:key`, `did:jwk`), but such a key cannot be bound to an EVM `payTo` (no key registry):
/// at best `unverifiable`, never `valid`.
public enum SellerReceipt {
    /// The extension's key in `extensions`.
    public static let key = "offer-receipt"
    /// Longest JWS compact string accepted (a receipt payload is a few hundred bytes).
    public static let maximumJWSLength = 8192
    /// Longest string claim accepted inside a receipt payload.
    public static let maximumClaimLength = 2048
    /// How far `issuedAt` may lie outside [validAfter, now] (clock skew), in seconds.
    public static let issuedAtSkew: UInt64 = 300

    /// What verification found.
    public enum Status: Sendable, Hashable {
        /// No receipt in the settlement response.
        case absent
        /// Signed by the `payTo` key, and every signed claim matches what was paid.
        case valid(format: String, signer: String)
        /// Present but not acceptable; each entry names one problem.
        case invalid([String])
        /// Well formed, but signed in a way Purser cannot tie to `payTo` (why).
        case unverifiable(String)

        /// `absent`, `valid`, `invalid` or `unverifiable`.
        public var word: String {
            switch self {
            case .absent: "absent"
            case .valid: "valid"
            case .invalid: "invalid"
            case .unverifiable: "unverifiable"
            }
        }

        /// The reason, for `invalid` and `unverifiable`.
        public var reason: String? {
            switch self {
            case .absent, .valid: nil
            case .invalid(let problems): problems.joined(separator: "; ")
            case .unverifiable(let why): why
            }
        }

        /// The status as shown in receipts and traces: `{"status": ..., "format"?, "signer"?, "reason"?}`.
        public var json: JSONObject {
            var object: JSONObject = ["status": .string(word)]
            if case .valid(let format, let signer) = self {
                object["format"] = .string(format)
                object["signer"] = .string(signer)
            }
            if let reason { object["reason"] = .string(reason) }
            return object
        }
    }

    /// What the receipt is checked against: what was signed and paid for.
    public struct Expectation: Sendable {
        /// The payee that was paid: the key that must sign.
        public var payTo: String
        /// The network signed for (CAIP-2 or a v1 name).
        public var network: String
        /// The signer of the authorization.
        public var payer: String
        /// Unix seconds from which the authorization was valid (a receipt cannot be older).
        public var validAfter: UInt64
        /// The settlement transaction the seller named in `PAYMENT-RESPONSE`.
        public var transaction: String
        /// The URLs that name the paid resource (the request URL, the 402's `resource.url`).
        public var resourceURLs: [String]
        /// Unix seconds now.
        public var now: UInt64

        /// Creates an expectation from the signed authorization.
        public init(record: AuthorizationRecord, transaction: String, resourceURLs: [String], now: UInt64) {
            self.init(
                payTo: record.payTo, network: record.network, payer: record.payer, validAfter: record.validAfter,
                transaction: transaction, resourceURLs: resourceURLs, now: now)
        }

        /// Creates an expectation from its parts.
        public init(
            payTo: String, network: String, payer: String, validAfter: UInt64, transaction: String,
            resourceURLs: [String], now: UInt64
        ) {
            self.payTo = payTo
            self.network = network
            self.payer = payer
            self.validAfter = validAfter
            self.transaction = transaction
            self.resourceURLs = resourceURLs
            self.now = now
        }
    }

    /// Verifies the receipt carried in a decoded settlement object (`Settlement.raw`).
    public static func verify(settlement raw: JSONObject, expecting expected: Expectation) -> Status {
        guard let extensions = raw["extensions"], extensions != .null else { return .absent }
        guard case .object(let all) = extensions else { return .invalid(["extensions is not an object"]) }
        guard let declared = all[key] else { return .absent }
        guard case .object(let info)? = declared["info"] else {
            return .invalid(["extensions.\(key).info is missing or not an object"])
        }
        guard let receipt = info["receipt"], receipt != .null else { return .absent }
        guard case .object(let envelope) = receipt else { return .invalid(["the receipt is not an object"]) }
        return verify(envelope: envelope, expecting: expected)
    }

    /// Verifies a receipt object `{format, payload?, signature}`.
    public static func verify(envelope: JSONObject, expecting expected: Expectation) -> Status {
        guard let payTo = EthereumAddress(hex: expected.payTo) else {
            return .unverifiable("payTo \(expected.payTo) is not an EVM address")
        }
        switch envelope["format"] {
        case .string("eip712")?:
            if let unknown = envelope.keys.first(where: { !["format", "payload", "signature"].contains($0) }) {
                return .invalid(["unknown receipt field \"\(unknown)\""])
            }
            return verifyEIP712(envelope, payTo: payTo, expected: expected)
        case .string("jws")?:
            if let unknown = envelope.keys.first(where: { !["format", "signature"].contains($0) }) {
                return .invalid(["unknown receipt field \"\(unknown)\" (a JWS receipt carries no separate payload)"])
            }
            return verifyJWS(envelope, payTo: payTo, expected: expected)
        case .string(let other)?: return .invalid(["unknown receipt format \"\(prefix(other))\""])
        default: return .invalid(["the receipt format is missing or not a string"])
        }
    }

    // MARK: EIP-712

    /// keccak256("EIP712Domain(string name,string version,uint256 chainId)").
    static let domainTypeHash = Keccak256.hash(Array("EIP712Domain(string name,string version,uint256 chainId)".utf8))
    /// keccak256 of the canonical receipt type (§5.3).
    static let receiptTypeHash = Keccak256.hash(
        Array(
            ("Receipt(uint256 version,string network,string resourceUrl,string payer,uint256 issuedAt,"
                + "string transaction)").utf8))

    /// The EIP-712 digest of a receipt payload: domain {name "x402 receipt", version "1", chainId 1}.
    public static func eip712Digest(_ payload: Payload) -> [UInt8] {
        var one = [UInt8](repeating: 0, count: 32)
        one[31] = 1
        let domain = Keccak256.hash(
            domainTypeHash + Keccak256.hash(Array("x402 receipt".utf8)) + Keccak256.hash(Array("1".utf8)) + one)
        let message = Keccak256.hash(
            receiptTypeHash + word(payload.version) + Keccak256.hash(Array(payload.network.utf8))
                + Keccak256.hash(Array(payload.resourceURL.utf8)) + Keccak256.hash(Array(payload.payer.utf8))
                + word(payload.issuedAt) + Keccak256.hash(Array(payload.transaction.utf8)))
        return Keccak256.hash([0x19, 0x01] + domain + message)
    }

    private static func verifyEIP712(_ envelope: JSONObject, payTo: EthereumAddress, expected: Expectation)
        -> Status
    {
        guard case .object(let object)? = envelope["payload"] else {
            return .invalid(["an eip712 receipt has no payload object"])
        }
        guard case .string(let signatureText)? = envelope["signature"] else {
            return .invalid(["the receipt signature is missing or not a string"])
        }
        let payload: Payload
        switch Payload.parse(object, transactionRequired: false) {
        case .success(let parsed): payload = parsed
        case .failure(let problem): return .invalid([problem.message])
        }
        guard let signature = RecoverableSignature(hex: signatureText) else {
            return .invalid(["the eip712 signature is not 0x + 65 bytes r‖s‖v with 0 < r, s < n and v in {27, 28}"])
        }
        guard let signer = recoverAddress(digest: eip712Digest(payload), signature: signature) else {
            return .invalid(["no signer can be recovered from the eip712 signature"])
        }
        guard signer == payTo else {
            return .invalid(["the receipt is signed by \(signer.checksummed), not by payTo \(payTo.checksummed)"])
        }
        let problems = payload.mismatches(expected)
        return problems.isEmpty ? .valid(format: "eip712", signer: signer.checksummed) : .invalid(problems)
    }

    // MARK: JWS

    private static func verifyJWS(_ envelope: JSONObject, payTo: EthereumAddress, expected: Expectation) -> Status {
        guard case .string(let compact)? = envelope["signature"] else {
            return .invalid(["the receipt signature is missing or not a string"])
        }
        guard compact.utf8.count <= maximumJWSLength else {
            return .invalid(["the JWS is longer than \(maximumJWSLength) bytes"])
        }
        let parts = compact.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .invalid(["the JWS has \(parts.count) parts; compact JWS has 3"]) }
        guard let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
            let signatureBytes = Base64URL.decode(parts[2])
        else { return .invalid(["the JWS is not base64url without padding"]) }
        guard case .object(let header)? = try? JSONParser.parse(headerBytes) else {
            return .invalid(["the JWS header is not a JSON object"])
        }
        if let unknown = header.keys.first(where: { !["alg", "kid", "typ"].contains($0) }) {
            // `crit` and anything else would ask for processing Purser does not do.
            return .invalid(["unsupported JWS header parameter \"\(prefix(unknown))\""])
        }
        guard case .string(let alg)? = header["alg"] else { return .invalid(["the JWS header has no alg"]) }
        guard case .string(let kid)? = header["kid"], !kid.isEmpty, kid.utf8.count <= maximumClaimLength else {
            return .invalid(["the JWS header has no kid (required by the extension)"])
        }
        guard case .object(let object)? = try? JSONParser.parse(payloadBytes) else {
            return .invalid(["the JWS payload is not a JSON object"])
        }
        let payload: Payload
        switch Payload.parse(object, transactionRequired: false) {
        case .success(let parsed): payload = parsed
        case .failure(let problem): return .invalid([problem.message])
        }
        switch alg {
        case "ES256K":
            guard signatureBytes.count == 64 else {
                return .invalid(["an ES256K signature is 64 bytes r‖s, not \(signatureBytes.count)"])
            }
            // The JWS signing input is ASCII(header '.' payload) as transmitted.
            let digest = SHA256.hash(Array(parts[0]) + [UInt8(ascii: ".")] + Array(parts[1]))
            // Verifying against the payTo key by recovery: ECDSA verification under key Q succeeds exactly when
            // one of the two recovery ids yields Q (public data; variable time is fine).
            let signedByPayTo = [UInt8(0), 1].contains { id in
                guard let signature = RecoverableSignature(bytes65: signatureBytes + [id]) else { return false }
                return recoverAddress(digest: digest, signature: signature) == payTo
            }
            guard signedByPayTo else {
                if kidNames(payTo, kid) {
                    return .invalid(["the ES256K signature does not verify under the payTo key the kid names"])
                }
                return .unverifiable(
                    "the ES256K signature is not by the payTo key and kid \(prefix(kid)) is not bound to payTo")
            }
            let problems = payload.mismatches(expected)
            return problems.isEmpty ? .valid(format: "jws-es256k", signer: payTo.checksummed) : .invalid(problems)
        case "EdDSA":
            guard signatureBytes.count == 64 else {
                return .invalid(["an EdDSA signature is 64 bytes, not \(signatureBytes.count)"])
            }
            switch ed25519Key(kid) {
            case .malformed(let why): return .invalid([why])
            case .unsupported(let why): return .unverifiable(why)
            case .key(let key):
                guard
                    Ed25519.verify(
                        publicKey: key, message: Array(parts[0]) + [UInt8(ascii: ".")] + Array(parts[1]),
                        signature: signatureBytes)
                else { return .invalid(["the EdDSA signature does not verify under the key its kid names"]) }
                // Checks under the key it names, but an Ed25519 key cannot be an EVM payTo and Purser has no
                // key registry: anyone can sign with a key of their own.
                return .unverifiable("the EdDSA signature verifies under kid's key, which is not bound to payTo")
            }
        case "none", "":
            return .invalid(["JWS alg \"\(alg)\" (unsigned) is refused"])
        default:
            return .invalid(["unsupported JWS alg \"\(prefix(alg))\""])
        }
    }

    /// An Ed25519 public key named by a `kid`, as far as Purser resolves one.
    enum KidKey {
        /// The 32-byte public key.
        case key([UInt8])
        /// A DID method Purser does not resolve (`did:web` would mean fetching a document).
        case unsupported(String)
        /// A `did:key` or `did:jwk` that does not decode to an Ed25519 key.
        case malformed(String)
    }

    /// `did:key:z6Mk…` (multicodec 0xed 0x01) or `did:jwk:<base64url {"kty":"OKP","crv":"Ed25519","x":…}>`.
    static func ed25519Key(_ kid: String) -> KidKey {
        let did = kid.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if did.hasPrefix("did:key:z") {
            guard let bytes = Base58.decode(did.dropFirst("did:key:z".count)), bytes.count == 34,
                bytes[0] == 0xED, bytes[1] == 0x01
            else { return .malformed("the kid's did:key is not an Ed25519 key") }
            return .key(Array(bytes[2...]))
        }
        if did.hasPrefix("did:jwk:") {
            guard let json = Base64URL.decode(Array(did.utf8.dropFirst("did:jwk:".count))),
                case .object(let jwk)? = try? JSONParser.parse(json), jwk["kty"] == "OKP", jwk["crv"] == "Ed25519",
                case .string(let x)? = jwk["x"], let key = Base64URL.decode(Array(x.utf8)), key.count == 32,
                jwk["d"] == nil
            else { return .malformed("the kid's did:jwk is not an Ed25519 public key") }
            return .key(key)
        }
        return .unsupported("the kid \(prefix(kid)) is not resolved (only did:key and did:jwk are)")
    }

    /// True when `kid` names the payTo address (`did:pkh:eip155:<chain>:<address>`, any fragment).
    static func kidNames(_ payTo: EthereumAddress, _ kid: String) -> Bool {
        let did = kid.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = did.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "did", parts[1] == "pkh", parts[2] == "eip155",
            let address = EthereumAddress(hex: String(parts[4]))
        else { return false }
        return address == payTo
    }

    // MARK: Payload

    /// A receipt payload, version 1 (§5.2): every field checked for type and size.
    public struct Payload: Sendable, Hashable {
        /// Always 1.
        public let version: UInt64
        /// CAIP-2.
        public let network: String
        /// The paid resource URL.
        public let resourceURL: String
        /// The payer as the seller names it.
        public let payer: String
        /// Unix seconds.
        public let issuedAt: UInt64
        /// The settlement transaction, or "" (absent).
        public let transaction: String

        /// Creates a payload (for tests and for signing vectors).
        public init(
            version: UInt64 = 1, network: String, resourceURL: String, payer: String, issuedAt: UInt64,
            transaction: String = ""
        ) {
            self.version = version
            self.network = network
            self.resourceURL = resourceURL
            self.payer = payer
            self.issuedAt = issuedAt
            self.transaction = transaction
        }

        struct Problem: Error { let message: String }

        static func parse(_ object: JSONObject, transactionRequired: Bool) -> Result<Payload, Problem> {
            let known = ["version", "network", "resourceUrl", "payer", "issuedAt", "transaction"]
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                return .failure(Problem(message: "unknown receipt payload field \"\(prefix(unknown))\""))
            }
            func integer(_ name: String) -> UInt64? {
                guard case .number(let number)? = object[name], let value = number.int64, value >= 0 else { return nil }
                return UInt64(value)
            }
            func text(_ name: String) -> String? {
                guard case .string(let value)? = object[name], value.utf8.count <= maximumClaimLength else {
                    return nil
                }
                return value
            }
            guard let version = integer("version") else {
                return .failure(Problem(message: "the receipt version is missing or not a non-negative integer"))
            }
            guard version == 1 else {
                return .failure(Problem(message: "receipt version \(version) is not supported (only 1)"))
            }
            guard let network = text("network"), let resourceURL = text("resourceUrl"), let payer = text("payer")
            else {
                return .failure(Problem(message: "network, resourceUrl or payer is missing, not a string or too long"))
            }
            guard let issuedAt = integer("issuedAt") else {
                return .failure(Problem(message: "issuedAt is missing or not a non-negative integer"))
            }
            let transaction: String
            if object["transaction"] == nil, !transactionRequired {
                transaction = ""
            } else if let value = text("transaction") {
                transaction = value
            } else {
                return .failure(Problem(message: "transaction is not a string or too long"))
            }
            return .success(
                Payload(
                    version: version, network: network, resourceURL: resourceURL, payer: payer, issuedAt: issuedAt,
                    transaction: transaction))
        }

        /// The signed claims that disagree with what was paid.
        func mismatches(_ expected: Expectation) -> [String] {
            var problems: [String] = []
            if EVMNetwork.parseCAIP2(network) == nil || !SettlementClaim.sameNetwork(network, expected.network) {
                problems.append("the receipt's network \(prefix(network)) is not the one signed for")
            }
            if payer.lowercased() != expected.payer.lowercased() {
                problems.append("the receipt's payer is not the signer")
            }
            if !expected.resourceURLs.contains(resourceURL) {
                problems.append("the receipt's resourceUrl \(prefix(resourceURL)) is not the paid resource")
            }
            if !transaction.isEmpty, transaction.lowercased() != expected.transaction.lowercased() {
                problems.append("the receipt's transaction is not the settlement's")
            }
            let earliest =
                expected.validAfter > SellerReceipt.issuedAtSkew
                ? expected.validAfter - SellerReceipt.issuedAtSkew : 0
            if issuedAt < earliest || issuedAt > expected.now + SellerReceipt.issuedAtSkew {
                problems.append("the receipt's issuedAt \(issuedAt) is outside the payment's time")
            }
            return problems
        }
    }

    private static func word(_ value: UInt64) -> [UInt8] {
        [UInt8](repeating: 0, count: 24) + (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// At most 64 characters of seller text, for messages.
    ///
    /// These messages reach the model in a refusal, so seller text is cut to identifier characters
    /// (`A–Z a–z 0–9 : . / _ - # @ %`, others as `?`): no spaces, no sentences to follow.
    static func prefix(_ text: String) -> String {
        let kept = text.unicodeScalars.prefix(64).map { scalar -> Character in
            let allowed =
                (scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)))
                || ":./_-#@%".unicodeScalars.contains(scalar)
            return allowed ? Character(scalar) : "?"
        }
        return String(kept) + (text.unicodeScalars.count > 64 ? "…" : "")
    }
}

/// Strict base64url without padding (RFC 7515 §2): the URL-safe alphabet only, no `=`, no whitespace, and
/// no non-zero bits left over in the last character.
enum Base64URL {
    static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        guard text.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = (buffer << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero, so each byte string has exactly one encoding.
        guard buffer == 0 else { return nil }
        return output
    }
}
