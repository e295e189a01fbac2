import EVMSigning
public import FoundationEssentials
import JSONCore
import Synchronization
import X402

/// One payment the demo seller accepted and "settled" (recorded; there is no chain).
public struct DemoSettlement: Sendable, Hashable {
    /// The payer, EIP-55 (the address the signature recovered to).
    public let payer: String
    /// The amount in USDC atomic units (6 decimals): 10000 is 0.01 USDC.
    public let amountAtomic: UInt64
    /// Method and path of the paid request, e.g. `GET /weather/Lisbon`.
    public let route: String
    /// The stand-in transaction id: `0x` + Keccak-256 of the decoded payment payload.
    public let transaction: String

    /// Creates a record.
    public init(payer: String, amountAtomic: UInt64, route: String, transaction: String) {
        self.payer = payer
        self.amountAtomic = amountAtomic
        self.route = route
        self.transaction = transaction
    }
}

/// The demo's local paid upstream: an x402 v2 seller on 127.0.0.1 that verifies payments itself.
///
/// Routes:
/// - `GET /papers?q=…&limit=…`: free; `{"query","results":[{"title"}]}`.
/// - `GET /weather/{city}`: 0.01 USDC (`"10000"`); `{"city","temperature","weather"}`.
/// - `POST /reports` with `{"company": "…"}`: 0.50 USDC (`"500000"`); `{"company","summary"}`.
///
/// A paid route answers 402 with a `PAYMENT-REQUIRED` offer (Base Sepolia USDC, `exact`, payee
/// ``payTo``). A `PAYMENT-SIGNATURE` is decoded strictly and checked as the x402 facilitator checks an
/// EIP-3009 authorization: the echoed offer, recipient, exact value, time window, the EIP-712 signature
/// (recovered with Purser's own secp256k1) and nonce reuse. It is a stand-in seller, not a facilitator:
/// nothing is submitted anywhere, and "settled" means recorded in memory.
public final class DemoSeller: Sendable {
    /// The payee every offer names (a fixed demo address; nobody needs its key).
    public static let payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    /// Base Sepolia USDC.
    public static let asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
    /// Base Sepolia, CAIP-2.
    public static let network = "eip155:84532"

    private let server: LoopbackHTTPServer
    private let core: DemoSellerCore

    private init(server: LoopbackHTTPServer, core: DemoSellerCore) {
        self.server = server
        self.core = core
    }

    /// The port `purser seller` listens on and `purser init` points its sample tools at.
    public static let defaultPort: UInt16 = 8402

    /// Starts the seller on a loopback port.
    ///
    /// - Parameters:
    ///   - port: the port on 127.0.0.1; 0 (the default) asks for an ephemeral one.
    ///   - now: the seller's clock in unix seconds, for the authorization time window.
    /// - Throws: `DemoServerError` when no loopback socket can be bound (e.g. the port is taken).
    public static func start(
        port: UInt16 = 0, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) throws -> DemoSeller {
        let core = DemoSellerCore(now: now)
        let server = try LoopbackHTTPServer(configuration: LoopbackHTTPServer.Configuration(port: port)) { request in
            core.handle(request)
        }
        core.setOrigin("http://127.0.0.1:\(server.port)")
        return DemoSeller(server: server, core: core)
    }

    /// The bound port.
    public var port: Int { server.port }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(server.port)" }

    /// Every accepted payment so far, in order.
    public var settled: [DemoSettlement] { core.settlements }

    /// From now on, offers name `payee` and only payments to it are accepted (a seller that changed its
    /// payee, for the demo's change detection step). `payee` must be a 0x-prefixed 20-byte address.
    public func changePayee(to payee: String) { core.setPayee(payee) }

    /// Stops the server and closes every connection.
    public func stop() { server.stop() }

    deinit { server.stop() }
}

/// The seller's routes and payment checks; the server holds it, it holds nothing back.
final class DemoSellerCore: Sendable {
    struct Route {
        let price: UInt64
        let description: String
    }

    static let weather = Route(price: 10_000, description: "Current weather for a city")
    static let reports = Route(price: 500_000, description: "A company report")

    private struct Book {
        var usedNonces: Set<[UInt8]> = []
        var settlements: [DemoSettlement] = []
    }

    private let now: @Sendable () -> Int64
    private let origin = Mutex("http://127.0.0.1")
    private let book = Mutex(Book())
    /// The payee offers name now (changed by `DemoSeller.changePayee`).
    private let payee = Mutex(DemoSeller.payTo)
    private let domain: EIP712Domain

    init(now: @escaping @Sendable () -> Int64) {
        self.now = now
        // Both are compile-time constants that parse; a failure here is a programming error.
        self.domain = EIP712Domain(
            name: "USDC", version: "2", chainID: UInt256(84532),
            verifyingContract: EthereumAddress(hex: DemoSeller.asset)!)
    }

    func setOrigin(_ text: String) { origin.withLock { $0 = text } }
    func setPayee(_ text: String) { payee.withLock { $0 = text } }

    var settlements: [DemoSettlement] { book.withLock { $0.settlements } }

    // MARK: Routing

    func handle(_ request: DemoHTTPRequest) -> DemoHTTPResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        switch (segments.first, segments.count) {
        case ("papers"?, 1):
            guard request.method == "GET" else { return Self.methodNotAllowed("GET") }
            return papers(request)
        case ("weather"?, 2):
            guard request.method == "GET" else { return Self.methodNotAllowed("GET") }
            guard let city = PercentDecoding.decode(segments.last!, plusIsSpace: false), Self.isReasonableText(city)
            else { return Self.badRequest("the city must be 1 to 64 characters of text") }
            let (temperature, weather) = Self.forecast(city)
            let body: JSONValue = [
                "city": .string(city), "temperature": .number(JSONNumber(temperature)), "weather": .string(weather),
            ]
            return paid(request, route: Self.weather, body: body)
        case ("reports"?, 1):
            guard request.method == "POST" else { return Self.methodNotAllowed("POST") }
            guard let company = Self.company(in: request.body) else {
                return Self.badRequest("the body must be a JSON object {\"company\": \"…\"} (1 to 64 characters)")
            }
            let body: JSONValue = [
                "company": .string(company),
                "summary": .string("\(company): revenue up 4% on the year, costs flat, outlook stable (demo data)."),
            ]
            return paid(request, route: Self.reports, body: body)
        default:
            return Self.json(404, ["error": "no such route"])
        }
    }

    private func papers(_ request: DemoHTTPRequest) -> DemoHTTPResponse {
        guard let items = request.queryItems else { return Self.badRequest("the query string is malformed") }
        var query: String?
        var limit = 3
        for item in items {
            switch item.name {
            case "q":
                guard query == nil else { return Self.badRequest("q is given twice") }
                query = item.value
            case "limit":
                guard let value = Int(item.value), (1...10).contains(value), String(value) == item.value else {
                    return Self.badRequest("limit must be an integer from 1 to 10")
                }
                limit = value
            default:
                return Self.badRequest("unknown query parameter \(item.name.debugDescription)")
            }
        }
        guard let query, Self.isReasonableText(query) else {
            return Self.badRequest("q must be 1 to 64 characters of text")
        }
        let templates = [
            "A Survey of %@", "%@ at Scale", "Rethinking %@", "Lessons from a Decade of %@",
            "%@: Benchmarks and Pitfalls", "Formal Foundations of %@", "%@ in Practice", "Towards Robust %@",
            "An Empirical Study of %@", "%@ Considered Harmful",
        ]
        let results: [JSONValue] = templates.prefix(limit).map { template in
            ["title": .string(template.replacing("%@", with: query))]
        }
        return Self.json(200, ["query": .string(query), "results": .array(results)])
    }

    // MARK: Payment

    private func paid(_ request: DemoHTTPRequest, route: Route, body: JSONValue) -> DemoHTTPResponse {
        let offer = Self.offer(price: route.price, payTo: payee.withLock { $0 })
        let resource: JSONObject = [
            "url": .string(origin.withLock { $0 } + request.path), "description": .string(route.description),
            "mimeType": "application/json",
        ]
        let values = request.headers.values(for: X402Version.v2.paymentHeader)
        guard !values.isEmpty else { return Self.paymentRequired("Payment required", offer: offer, resource: resource) }
        guard values.count == 1 else {
            return Self.paymentRequired("invalid_payload", offer: offer, resource: resource)
        }
        let verified: Verified
        switch verify(values[0], offer: offer, price: route.price) {
        case .success(let value): verified = value
        case .failure(let refusal): return Self.paymentRequired(refusal.reason, offer: offer, resource: resource)
        }
        let settlement = DemoSettlement(
            payer: verified.payer.checksummed, amountAtomic: route.price, route: "\(request.method) \(request.path)",
            transaction: "0x" + HexBytes.encode(Keccak256.hash(verified.payloadBytes)))
        let fresh = book.withLock { book -> Bool in
            // The nonce is spent here, atomically with the record, as the token contract would spend it.
            guard book.usedNonces.insert(verified.payer.bytes + verified.nonce).inserted else { return false }
            book.settlements.append(settlement)
            return true
        }
        guard fresh else {
            return Self.paymentRequired("invalid_exact_evm_nonce_already_used", offer: offer, resource: resource)
        }
        let receipt: JSONValue = [
            "success": true, "transaction": .string(settlement.transaction), "network": .string(DemoSeller.network),
            "payer": .string(settlement.payer),
        ]
        var response = Self.json(200, body)
        response.headers.add(name: X402Version.v2.settlementHeader, value: Base64.encode(receipt.serializedBytes()))
        response.headers.add(name: "Cache-Control", value: "private")
        return response
    }

    struct Verified {
        let payer: EthereumAddress
        let nonce: [UInt8]
        let payloadBytes: [UInt8]
    }

    struct Refusal: Error {
        let reason: String
    }

    /// Decodes and checks one `PAYMENT-SIGNATURE` value, in the x402 facilitator's order.
    func verify(_ header: String, offer: JSONObject, price: UInt64) -> Result<Verified, Refusal> {
        let invalid = Refusal(reason: "invalid_payload")
        guard let bytes = try? Base64.decode(header), let json = try? JSONParser.parse(bytes),
            case .object(let payment) = json
        else { return .failure(invalid) }
        guard Self.hasOnlyKeys(payment, ["x402Version", "payload", "accepted", "resource", "extensions"]) else {
            return .failure(invalid)
        }
        guard case .number(let version)? = payment["x402Version"], version.lexeme == "2" else {
            return .failure(Refusal(reason: "invalid_x402_version"))
        }
        for key in ["resource", "extensions"] {
            if let value = payment[key], value.objectValue == nil { return .failure(invalid) }
        }
        guard case .object(let accepted)? = payment["accepted"] else { return .failure(invalid) }
        guard Self.strictlyEqual(.object(accepted), .object(offer)) else {
            return .failure(Refusal(reason: "No matching payment requirements"))
        }
        guard case .object(let payload)? = payment["payload"],
            Self.hasOnlyKeys(payload, ["signature", "authorization"]),
            case .string(let signatureText)? = payload["signature"],
            case .object(let authorization)? = payload["authorization"],
            Self.hasOnlyKeys(authorization, ["from", "to", "value", "validAfter", "validBefore", "nonce"])
        else { return .failure(invalid) }
        func field(_ key: String) -> String? { authorization[key]?.stringValue }
        guard let fromText = field("from"), let from = EthereumAddress(hex: fromText),
            let toText = field("to"), let to = EthereumAddress(hex: toText),
            let valueText = field("value"), let value = UInt256(decimal: valueText),
            let validAfter = field("validAfter").flatMap(UInt256.init(decimal:)),
            let validBefore = field("validBefore").flatMap(UInt256.init(decimal:)),
            let nonceText = field("nonce"), nonceText.hasPrefix("0x"), nonceText.utf8.count == 66,
            let nonce = HexBytes.decodePrefixed(nonceText)
        else { return .failure(invalid) }

        guard let payToAddress = EthereumAddress(hex: payee.withLock { $0 }), to == payToAddress else {
            return .failure(Refusal(reason: "invalid_exact_evm_payload_recipient_mismatch"))
        }
        guard valueText == String(price) else {
            return .failure(Refusal(reason: "invalid_exact_evm_payload_authorization_value_mismatch"))
        }
        let current = max(0, now())
        guard validBefore >= UInt256(UInt64(current) + 6) else {
            return .failure(Refusal(reason: "invalid_exact_evm_payload_authorization_valid_before"))
        }
        guard validAfter <= UInt256(UInt64(current)) else {
            return .failure(Refusal(reason: "invalid_exact_evm_payload_authorization_valid_after"))
        }
        let badSignature = Refusal(reason: "invalid_exact_evm_payload_signature")
        guard signatureText.hasPrefix("0x"), signatureText.utf8.count == 132,
            let signature = RecoverableSignature(hex: signatureText),
            let message = try? TransferWithAuthorization(
                from: from, to: to, value: value, validAfter: validAfter, validBefore: validBefore, nonce: nonce)
        else { return .failure(badSignature) }
        let digest = EIP712.digest(domain: domain, message: message)
        guard let signer = recoverAddress(digest: digest, signature: signature), signer == from else {
            return .failure(badSignature)
        }
        return .success(Verified(payer: from, nonce: nonce, payloadBytes: bytes))
    }

    // MARK: Messages

    /// The one offer of a paid route, in the SDK's key order.
    static func offer(price: UInt64, payTo: String = DemoSeller.payTo) -> JSONObject {
        [
            "scheme": "exact", "network": .string(DemoSeller.network), "amount": .string(String(price)),
            "asset": .string(DemoSeller.asset), "payTo": .string(payTo), "maxTimeoutSeconds": 300,
            "extra": ["name": "USDC", "version": "2"],
        ]
    }

    private static func paymentRequired(_ error: String, offer: JSONObject, resource: JSONObject) -> DemoHTTPResponse {
        let required: JSONValue = [
            "x402Version": 2, "error": .string(error), "resource": .object(resource), "accepts": [.object(offer)],
        ]
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "PAYMENT-REQUIRED", value: Base64.encode(required.serializedBytes()))
        headers.add(name: "Cache-Control", value: "no-store")
        return DemoHTTPResponse(status: 402, headers: headers, body: Array("{}".utf8))
    }

    private static func json(_ status: Int, _ value: JSONValue) -> DemoHTTPResponse {
        DemoHTTPResponse(
            status: status, headers: ["Content-Type": "application/json"], body: value.serializedBytes())
    }

    private static func badRequest(_ message: String) -> DemoHTTPResponse {
        json(400, ["error": .string(message)])
    }

    private static func methodNotAllowed(_ allowed: String) -> DemoHTTPResponse {
        var response = json(405, ["error": "method not allowed"])
        response.headers.add(name: "Allow", value: allowed)
        return response
    }

    // MARK: Helpers

    /// Same members, same string scalars, same number lexemes: stricter than `JSONValue ==`, which
    /// compares numbers by value.
    static func strictlyEqual(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            return left.allSatisfy { member in right[member.key].map { strictlyEqual(member.value, $0) } ?? false }
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { strictlyEqual($0, $1) }
        case (.number(let left), .number(let right)):
            return left.lexeme == right.lexeme
        default:
            return lhs == rhs
        }
    }

    private static func hasOnlyKeys(_ object: JSONObject, _ allowed: Set<String>) -> Bool {
        object.keys.allSatisfy { allowed.contains($0) }
    }

    private static func isReasonableText(_ text: String) -> Bool {
        (1...64).contains(text.count) && !text.unicodeScalars.contains { $0.properties.generalCategory == .control }
            && !text.allSatisfy { $0 == " " }
    }

    private static func company(in body: [UInt8]) -> String? {
        guard let value = try? JSONParser.parse(body), case .object(let object) = value,
            hasOnlyKeys(object, ["company"]), case .string(let company)? = object["company"],
            isReasonableText(company)
        else { return nil }
        return company
    }

    /// Made-up but stable weather: the same city always gets the same answer.
    static func forecast(_ city: String) -> (temperature: Int, weather: String) {
        var hash: UInt32 = 2_166_136_261  // FNV-1a
        for byte in city.lowercased().utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let temperature = Int(hash % 36) - 5
        let kinds = temperature <= 1 ? ["snowy", "cloudy", "foggy"] : ["sunny", "cloudy", "rainy", "windy", "foggy"]
        return (temperature, kinds[Int((hash >> 8) % UInt32(kinds.count))])
    }
}
