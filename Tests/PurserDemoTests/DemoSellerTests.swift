import EVMSigning
import Foundation
import Glibc
import HTTPClient
import JSONCore
import Purser
import PurserDemo
import Synchronization
import Testing
import X402

// Expected values below are written from the task's contract and x402.md (§2, §5, §6), never from output.

private let fixedNow: Int64 = 1_800_000_000
private let payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
private let asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
private let weatherOfferJSON =
    #"{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"USDC","version":"2"}}"#
/// Anvil account #0 and #1: public test keys.
private let keyA = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
private let addressA = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
private let keyB = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
private let addressB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

private func object(_ text: String) throws -> JSONObject {
    try #require(try JSONParser.parse(text).objectValue)
}

private func send(
    _ seller: DemoSeller, _ path: String, method: String = "GET", headers: HTTPHeaders = [:], body: String = ""
) async throws -> HTTPResponse {
    let url = try #require(URL(string: seller.baseURL + path))
    return try await HTTPClient().send(
        HTTPRequest(method: method, url: url, headers: headers, body: Array(body.utf8)))
}

private func bodyObject(_ response: HTTPResponse) throws -> JSONObject {
    try #require(try JSONParser.parse(response.body).objectValue)
}

/// The decoded `PAYMENT-REQUIRED` of a 402 (decoded here with X402's strict codec).
private func required(_ response: HTTPResponse) throws -> PaymentRequired {
    #expect(response.status == 402)
    return try PaymentRequired.decode(from: response)
}

/// A hand-built `PAYMENT-SIGNATURE` value: every field can be set wrong on purpose.
private struct HandPayment {
    var signingKey = keyA
    var from = addressA
    var to = payTo
    var value = "10000"
    var validAfter = "0"
    var validBefore = String(fixedNow + 300)
    var nonce = [UInt8](repeating: 0x42, count: 32)
    var accepted: JSONObject
    var domainName = "USDC"
    var chainID: UInt64 = 84532
    var flipSignatureBit = false
    var extraAuthorizationField = false

    init() throws { accepted = try object(weatherOfferJSON) }

    func header() throws -> String {
        let key = try PrivateKey(hex: signingKey)
        let message = try TransferWithAuthorization(
            from: try #require(EthereumAddress(hex: from)), to: try #require(EthereumAddress(hex: to)),
            value: try #require(UInt256(decimal: value)), validAfter: try #require(UInt256(decimal: validAfter)),
            validBefore: try #require(UInt256(decimal: validBefore)), nonce: nonce)
        let domain = EIP712Domain(
            name: domainName, version: "2", chainID: UInt256(chainID),
            verifyingContract: try #require(EthereumAddress(hex: asset)))
        var signature = try key.sign(digest: EIP712.digest(domain: domain, message: message)).bytes65
        if flipSignatureBit { signature[10] ^= 0x01 }
        var authorization: JSONObject = [
            "from": .string(from), "to": .string(to), "value": .string(value), "validAfter": .string(validAfter),
            "validBefore": .string(validBefore), "nonce": .string(HexBytes.prefixed(nonce)),
        ]
        if extraAuthorizationField { authorization["memo"] = "hi" }
        let payment: JSONValue = [
            "x402Version": 2,
            "payload": ["authorization": .object(authorization), "signature": .string(HexBytes.prefixed(signature))],
            "accepted": .object(accepted),
        ]
        return Base64.encode(payment.serializedBytes())
    }
}

/// Records every request it forwards, so a test can replay the exact paid request.
private final class RecordingTransport: HTTPTransport {
    let inner = HTTPClient()
    private let log = Mutex<[HTTPRequest]>([])
    var requests: [HTTPRequest] { log.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        log.withLock { $0.append(request) }
        return try await inner.send(request)
    }
}

/// Distinct, repeatable nonces: 0x01…01, 0x02…02, …
private final class NonceCounter: Sendable {
    private let value = Mutex<UInt8>(0)

    func next(_ count: Int) -> [UInt8] {
        let byte = value.withLock { value -> UInt8 in
            value &+= 1
            return value
        }
        return [UInt8](repeating: byte, count: count)
    }
}

private func makeClient(_ transport: any HTTPTransport, signer: any Signer) -> X402Client {
    let counter = NonceCounter()
    return X402Client(
        transport: transport, signer: signer, clock: { fixedNow }, randomBytes: { counter.next($0) })
}

private let policy = SelectionPolicy(
    allowedAssets: [AllowedAsset(chainId: 84532, address: asset)!], maximumAmount: AtomicAmount(1_000_000))

/// A key file in a fresh temp directory with mode 0600, loaded the way `purser` loads it.
private func keyFileSigner(_ hexKey: String) throws -> KeyFileSigner {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-seller-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("key").path
    #expect(FileManager.default.createFile(atPath: path, contents: Data((hexKey + "\n").utf8)))
    #expect(chmod(path, 0o600) == 0)
    return try KeyFileSigner(path: path)
}

@Suite("DemoSeller: the demo's x402 v2 upstream over real loopback sockets")
struct DemoSellerTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    @Test("a paid route answers 402 with one v2 offer exactly as the contract states, and body {}")
    func paymentRequired() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        #expect(seller.baseURL == "http://127.0.0.1:\(seller.port)")

        let weather = try await send(seller, "/weather/Lisbon")
        let decoded = try required(weather)
        #expect(decoded.version == .v2)
        #expect(decoded.error == "Payment required")
        #expect(decoded.resource?["url"] == .string(seller.baseURL + "/weather/Lisbon"))
        #expect(decoded.accepts.count == 1)
        #expect(decoded.accepts.first == (try object(weatherOfferJSON)))
        #expect(decoded.accepts.first?["maxTimeoutSeconds"]?.numberValue?.lexeme == "300")
        #expect(weather.body == Array("{}".utf8))
        #expect(weather.headers["Cache-Control"] == "no-store")

        let report = try await send(
            seller, "/reports", method: "POST", headers: ["Content-Type": "application/json"],
            body: #"{"company":"Acme"}"#)
        let reportOffer = try #require(try required(report).accepts.first)
        #expect(reportOffer["amount"] == "500000")
        #expect(reportOffer["payTo"] == .string(payTo))
        #expect(seller.settled.isEmpty)
    }

    @Test("X402Client with a 0600 key file pays the weather route once; the replayed header is refused")
    func payOnceThenReplay() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let transport = RecordingTransport()
        let signer = try keyFileSigner(keyB)
        #expect(signer.address.text == addressB)
        let client = makeClient(transport, signer: signer)
        let url = try #require(URL(string: seller.baseURL + "/weather/Lisbon"))

        let outcome = await client.pay(HTTPRequest(url: url), policy: policy)
        guard case .paid(let settlement, let response, let record) = outcome else {
            Issue.record("expected .paid, got \(outcome)")
            return
        }
        #expect(response.status == 200)
        #expect(settlement.success)
        #expect(settlement.network == "eip155:84532")
        #expect(settlement.payer == addressB)
        #expect(record.amount == AtomicAmount(10_000))
        let body = try bodyObject(response)
        #expect(body["city"] == "Lisbon")
        #expect(body["temperature"]?.numberValue?.isIntegerLexeme == true)
        #expect(body["weather"]?.stringValue?.isEmpty == false)

        // The transaction id is Keccak-256 of the decoded payment payload, recomputed here independently.
        let paid = try #require(transport.requests.last)
        let header = try #require(paid.headers["PAYMENT-SIGNATURE"])
        let expectedTransaction = HexBytes.prefixed(Keccak256.hash(try Base64.decode(header)))
        #expect(settlement.transaction == expectedTransaction)
        #expect(
            seller.settled == [
                DemoSettlement(
                    payer: addressB, amountAtomic: 10_000, route: "GET /weather/Lisbon",
                    transaction: expectedTransaction)
            ])

        let replay = try await HTTPClient().send(paid)
        #expect(try required(replay).error == "invalid_exact_evm_nonce_already_used")
        #expect(replay.headers["PAYMENT-RESPONSE"] == nil)
        #expect(seller.settled.count == 1)
    }

    @Test("the report costs 0.50 USDC: two paid calls settle 510000 atomic units in total")
    func reportAndTotal() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let client = makeClient(
            HTTPClient(), signer: try KeyFileSigner(privateKey: try #require(HexBytes.decodePrefixed(keyA))))
        let base = seller.baseURL
        let weather = await client.pay(
            HTTPRequest(url: try #require(URL(string: base + "/weather/Oslo"))), policy: policy)
        let report = await client.pay(
            HTTPRequest(
                method: "POST", url: try #require(URL(string: base + "/reports")),
                headers: ["Content-Type": "application/json"], body: Array(#"{"company":"Acme Corp"}"#.utf8)),
            policy: policy)
        guard case .paid = weather, case .paid(_, let response, let record) = report else {
            Issue.record("expected two payments, got \(weather) and \(report)")
            return
        }
        #expect(record.amount == AtomicAmount(500_000))
        let body = try bodyObject(response)
        #expect(body["company"] == "Acme Corp")
        #expect(body["summary"]?.stringValue?.contains("Acme Corp") == true)
        #expect(seller.settled.map { $0.amountAtomic }.reduce(0, +) == 510_000)
        #expect(seller.settled.map { $0.route } == ["GET /weather/Oslo", "POST /reports"])
        #expect(seller.settled.allSatisfy { $0.payer == addressA })
    }

    @Test("the published EIP-3009 vector (eth_account signature, x402.md §5) is accepted")
    func publishedVector() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        // §5's authorization and signature verbatim; `accepted` is this seller's offer (the signature does
        // not cover it).
        let payment = try object(
            #"{"x402Version":2,"payload":{"authorization":{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"10000","validAfter":"0","validBefore":"1900000000","nonce":"0x1111111111111111111111111111111111111111111111111111111111111111"},"signature":"0xce2966c3fccb19b78025ec464a806a65d3bf9755f72c2451a1b06b30ca074ddd36e247ce7c15ad88c8da6ccbde485de425459cbe54d1941d614b03b5bfefcf941b"},"accepted":"#
                + weatherOfferJSON + "}")
        let header = Base64.encode(JSONValue.object(payment).serializedBytes())
        let response = try await send(seller, "/weather/Paris", headers: ["PAYMENT-SIGNATURE": header])
        #expect(response.status == 200)
        let settlement = try #require(try Settlement.decode(from: response, version: .v2))
        #expect(settlement.success && settlement.payer == addressA)
        #expect(seller.settled.first?.payer == addressA)
    }

    enum Mutation: String, CaseIterable, Sendable {
        case valueBelow, valueAbove, wrongRecipient, acceptedWrongPayee, acceptedPayeeLowercased
        case acceptedOtherTimeout, expired, validBeforeInsideBuffer, notYetValid, signedByAnotherKey
        case corruptedSignature, mainnetDomainName, mainnetChainID, unknownAuthorizationField

        var expectedReason: String {
            switch self {
            case .valueBelow, .valueAbove: return "invalid_exact_evm_payload_authorization_value_mismatch"
            case .wrongRecipient: return "invalid_exact_evm_payload_recipient_mismatch"
            case .acceptedWrongPayee, .acceptedPayeeLowercased, .acceptedOtherTimeout:
                return "No matching payment requirements"
            case .expired, .validBeforeInsideBuffer: return "invalid_exact_evm_payload_authorization_valid_before"
            case .notYetValid: return "invalid_exact_evm_payload_authorization_valid_after"
            case .signedByAnotherKey, .corruptedSignature, .mainnetDomainName, .mainnetChainID:
                return "invalid_exact_evm_payload_signature"
            case .unknownAuthorizationField: return "invalid_payload"
            }
        }

        fileprivate func apply(to payment: inout HandPayment) {
            switch self {
            case .valueBelow: payment.value = "9999"
            case .valueAbove: payment.value = "10001"
            case .wrongRecipient: payment.to = addressB
            case .acceptedWrongPayee: payment.accepted["payTo"] = .string(addressB)
            case .acceptedPayeeLowercased: payment.accepted["payTo"] = .string(payTo.lowercased())
            case .acceptedOtherTimeout: payment.accepted["maxTimeoutSeconds"] = 60
            case .expired: payment.validBefore = String(fixedNow - 1)
            case .validBeforeInsideBuffer: payment.validBefore = String(fixedNow + 5)
            case .notYetValid: payment.validAfter = String(fixedNow + 60)
            case .signedByAnotherKey: payment.signingKey = keyB
            case .corruptedSignature: payment.flipSignatureBit = true
            case .mainnetDomainName: payment.domainName = "USD Coin"
            case .mainnetChainID: payment.chainID = 8453
            case .unknownAuthorizationField: payment.extraAuthorizationField = true
            }
        }
    }

    @Test("a wrong payment is refused with its x402 reason code and changes nothing", arguments: Mutation.allCases)
    func refusals(_ mutation: Mutation) async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        var wrong = try HandPayment()
        mutation.apply(to: &wrong)
        let refused = try await send(seller, "/weather/Rome", headers: ["PAYMENT-SIGNATURE": try wrong.header()])
        let reason = try required(refused).error
        #expect(reason == mutation.expectedReason)
        #expect(refused.headers["PAYMENT-RESPONSE"] == nil)
        #expect(seller.settled.isEmpty)

        // The refusal spent nothing: the correct payment with the same nonce still goes through.
        let right = try await send(seller, "/weather/Rome", headers: ["PAYMENT-SIGNATURE": try HandPayment().header()])
        #expect(right.status == 200)
        #expect(seller.settled.count == 1)
    }

    @Test("the time window is inclusive at its edges: validAfter = now and validBefore = now + 6 are accepted")
    func windowEdges() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        var payment = try HandPayment()
        payment.validAfter = String(fixedNow)
        payment.validBefore = String(fixedNow + 6)
        let response = try await send(seller, "/weather/Rome", headers: ["PAYMENT-SIGNATURE": try payment.header()])
        #expect(response.status == 200)
        #expect(seller.settled.count == 1)
    }

    @Test(
        "an undecodable or foreign payment header is refused as invalid_payload or invalid_x402_version",
        arguments: [
            ("not base64!", "invalid_payload"),
            (String(Base64.encode(Array(#"{"x402Version":2}"#.utf8)).dropLast()), "invalid_payload"),
            (Base64.encode(Array(#"{"x402Version":2}"#.utf8)), "invalid_payload"),
            (
                Base64.encode(Array(#"{"x402Version":1,"scheme":"exact","network":"base-sepolia","payload":{}}"#.utf8)),
                "invalid_payload"
            ),
            (Base64.encode(Array(#"{"x402Version":1,"payload":{},"accepted":{}}"#.utf8)), "invalid_x402_version"),
            (Base64.encode(Array("[1,2]".utf8)), "invalid_payload"),
        ])
    func malformedHeaders(_ header: String, _ reason: String) async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let response = try await send(seller, "/weather/Rome", headers: ["PAYMENT-SIGNATURE": header])
        #expect(try required(response).error == reason)
        #expect(seller.settled.isEmpty)
    }

    @Test("a value sent as a JSON number instead of a string is refused")
    func numericValue() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let good = try HandPayment().header()
        let text = String(decoding: try Base64.decode(good), as: UTF8.self)
        let numeric = text.replacingOccurrences(of: #""value":"10000""#, with: #""value":10000"#)
        #expect(numeric != text)
        let response = try await send(
            seller, "/weather/Rome", headers: ["PAYMENT-SIGNATURE": Base64.encode(Array(numeric.utf8))])
        #expect(try required(response).error == "invalid_payload")
        #expect(seller.settled.isEmpty)
    }

    @Test("the free papers route answers JSON with the query and limited results")
    func papers() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let response = try await send(seller, "/papers?q=zero%20knowledge+proofs&limit=2")
        #expect(response.status == 200)
        #expect(response.headers["PAYMENT-REQUIRED"] == nil)
        let body = try bodyObject(response)
        #expect(body["query"] == "zero knowledge proofs")
        let results = try #require(body["results"]?.arrayValue)
        #expect(results.count == 2)
        #expect(results.allSatisfy { $0["title"]?.stringValue?.contains("zero knowledge proofs") == true })
        #expect(try bodyObject(try await send(seller, "/papers?q=ledgers"))["results"]?.arrayValue?.isEmpty == false)
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let method: String
        let path: String
        let body: String
        let status: Int

        init(_ method: String, _ path: String, body: String = "", _ status: Int) {
            self.method = method
            self.path = path
            self.body = body
            self.status = status
        }

        var testDescription: String { "\(method) \(path) \(body) → \(status)" }
    }

    @Test(
        "bad input gets a clear 4xx and never a payment demand",
        arguments: [
            BadInput("GET", "/papers?q=x&limit=0", 400), BadInput("GET", "/papers?q=x&limit=11", 400),
            BadInput("GET", "/papers?q=x&limit=02", 400), BadInput("GET", "/papers?limit=2", 400),
            BadInput("GET", "/papers?q=x&color=red", 400),
            BadInput("POST", "/reports", 400), BadInput("POST", "/reports", body: #"{"company":""}"#, 400),
            BadInput("POST", "/reports", body: #"{"company":"A","x":1}"#, 400),
            BadInput("POST", "/reports", body: "[]", 400),
            BadInput("GET", "/weather/", 400), BadInput("POST", "/weather/Rome", 405), BadInput("GET", "/reports", 405),
            BadInput("GET", "/nothing", 404),
        ])
    func badInput(_ input: BadInput) async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let response = try await send(seller, input.path, method: input.method, body: input.body)
        #expect(response.status == input.status)
        #expect(response.headers["PAYMENT-REQUIRED"] == nil)
        #expect(try bodyObject(response)["error"]?.stringValue?.isEmpty == false)
    }

    @Test("a malformed percent escape in the query is refused (sent raw: URLSession would re-encode it)")
    func malformedEscape() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        defer { seller.stop() }
        let output = try RawClient.exchange(
            port: seller.port, "GET /papers?q=%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(RawClient.statusLines(output) == ["HTTP/1.1 400 Bad Request"])
    }

    @Test("stop() closes the port: a later request cannot connect")
    func stopCloses() async throws {
        let seller = try DemoSeller.start(now: { fixedNow })
        let port = seller.port
        #expect(try await send(seller, "/papers?q=a").status == 200)
        seller.stop()
        #expect(RawClient.connect(port: port) == nil)
    }
}

// MARK: - The HTTP server itself

/// A blocking loopback client for byte-exact requests.
private enum RawClient {
    static func connect(port: Int) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    static func write(_ descriptor: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// Everything until the server closes (or 5 s of silence).
    static func readToEnd(_ descriptor: Int32) -> String {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            output.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Sends `text` on a fresh connection and returns everything until the server closes.
    static func exchange(port: Int, _ text: String) throws -> String {
        let descriptor = try #require(connect(port: port))
        defer { close(descriptor) }
        write(descriptor, text)
        return readToEnd(descriptor)
    }

    /// Every status line, wherever it starts (a body without a newline runs straight into the next one).
    static func statusLines(_ text: String) -> [String] {
        var lines: [String] = []
        var rest = text[...]
        while let start = rest.range(of: "HTTP/1.1 ") {
            let end = rest[start.lowerBound...].range(of: "\r\n")?.lowerBound ?? rest.endIndex
            lines.append(String(rest[start.lowerBound..<end]))
            rest = rest[end...]
        }
        return lines
    }
}

@Suite("LoopbackHTTPServer: HTTP/1.1 framing, limits and shutdown")
struct LoopbackHTTPServerTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    static func echo(_ request: DemoHTTPRequest) -> DemoHTTPResponse {
        DemoHTTPResponse(status: 200, headers: ["X-Path": request.path], body: request.body)
    }

    @Test("keep-alive: pipelined requests on one connection are answered in order; Connection: close ends it")
    func keepAlive() throws {
        let server = try LoopbackHTTPServer(handler: Self.echo)
        defer { server.stop() }
        let output = try RawClient.exchange(
            port: server.port,
            "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                + "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(RawClient.statusLines(output) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"])
        #expect(output.contains("X-Path: /one\r\nContent-Length: 3\r\n\r\nabc"))
        #expect(output.contains("X-Path: /two\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
    }

    @Test("a connection stays open between requests and serves the next one")
    func sequentialOnOneConnection() throws {
        let server = try LoopbackHTTPServer(handler: Self.echo)
        defer { server.stop() }
        let descriptor = try #require(RawClient.connect(port: server.port))
        defer { close(descriptor) }
        RawClient.write(descriptor, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &chunk, chunk.count, 0)
        #expect(String(decoding: chunk[0..<max(0, count)], as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\nX-Path: /a"))
        RawClient.write(descriptor, "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(RawClient.readToEnd(descriptor).hasPrefix("HTTP/1.1 200 OK\r\nX-Path: /b"))
    }

    @Test(
        "malformed or unsupported requests are refused with the right status and the connection closed",
        arguments: [
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("GET /x HTTP/2.0\r\n\r\n", 505),
            ("GET  /x HTTP/1.1\r\n\r\n", 400),
            ("GET http://evil/ HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 1100) + "\r\n\r\n", 431),
        ])
    func refusals(_ request: String, _ status: Int) throws {
        let server = try LoopbackHTTPServer(
            configuration: .init(maximumHeaderBytes: 1024, maximumBodyBytes: 1000), handler: Self.echo)
        defer { server.stop() }
        let output = try RawClient.exchange(port: server.port, request)
        #expect(RawClient.statusLines(output).first?.hasPrefix("HTTP/1.1 \(status) ") == true)
        #expect(output.contains("Connection: close"))
    }

    @Test("Expect: 100-continue gets an interim 100 before the body is read")
    func expectContinue() throws {
        let server = try LoopbackHTTPServer(handler: Self.echo)
        defer { server.stop() }
        let descriptor = try #require(RawClient.connect(port: server.port))
        defer { close(descriptor) }
        RawClient.write(
            descriptor,
            "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &chunk, chunk.count, 0)
        #expect(String(decoding: chunk[0..<max(0, count)], as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        RawClient.write(descriptor, "body")
        #expect(RawClient.readToEnd(descriptor).hasSuffix("\r\n\r\nbody"))
    }

    @Test("connections beyond the cap are answered 503 and closed")
    func connectionCap() throws {
        let server = try LoopbackHTTPServer(configuration: .init(maximumConnections: 1), handler: Self.echo)
        defer { server.stop() }
        let first = try #require(RawClient.connect(port: server.port))
        defer { close(first) }
        // The first connection is admitted (a full exchange proves it) and then stays open.
        RawClient.write(first, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        var chunk = [UInt8](repeating: 0, count: 4096)
        #expect(recv(first, &chunk, chunk.count, 0) > 0)
        // The refused client sends nothing, so the server's close can never turn into a reset.
        let refused = try #require(RawClient.connect(port: server.port))
        defer { close(refused) }
        let second = RawClient.readToEnd(refused)
        #expect(RawClient.statusLines(second) == ["HTTP/1.1 503 Service Unavailable"])
    }

    @Test("stop() closes idle keep-alive connections and the listener")
    func stopClosesConnections() throws {
        let server = try LoopbackHTTPServer(handler: Self.echo)
        let descriptor = try #require(RawClient.connect(port: server.port))
        defer { close(descriptor) }
        RawClient.write(descriptor, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        var chunk = [UInt8](repeating: 0, count: 4096)
        #expect(recv(descriptor, &chunk, chunk.count, 0) > 0)
        let started = Date()
        server.stop()
        #expect(recv(descriptor, &chunk, chunk.count, 0) == 0)
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(RawClient.connect(port: server.port) == nil)
    }

    @Test("a handler cannot inject header lines: a CR or LF in a field value becomes a 500")
    func headerInjection() throws {
        let server = try LoopbackHTTPServer { _ in
            DemoHTTPResponse(status: 200, headers: ["X-Bad": "a\r\nSet-Cookie: x=1"])
        }
        defer { server.stop() }
        let output = try RawClient.exchange(port: server.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(RawClient.statusLines(output) == ["HTTP/1.1 500 Internal Server Error"])
        #expect(!output.contains("Set-Cookie"))
    }
}
