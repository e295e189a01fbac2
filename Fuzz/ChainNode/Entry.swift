import Chain
import Dispatch
import Foundation
import JSONCore
import Synchronization
import X402

// What was signed: the payment every input asks the chain about. Fixed, so the seeds' answers (and the
// fuzzer's mutations of them) speak about it; the input's first line varies the rest.
private let token = "0x036cbd53842c5426634e7929541ec2318f3dcf7e"
private let authorizer = "0x857b06519e91e3a54538791bdbb0e22373e36b66"
private let payTo = "0x209693bc6afc0c5328ba36faf03c514ef312287c"
private let nonce = "0x" + String(repeating: "11", count: 32)
private let amount = "10000"
private let usedTopic = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
private let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

/// One request the verifier sent and what the node answered (nil: the transport failed).
private struct Exchange: Sendable {
    var method: String
    var params: [JSONValue]
    var id: JSONValue
    var answer: HTTPResponse?
}

/// A node that answers the verifier's requests, in order, with the input's lines (after the first): each line
/// is the raw HTTP body, or `!NNN body` for HTTP status NNN. When the lines run out the node is unreachable.
/// A batch (an array of calls in one POST) takes one line too; each of its calls is recorded as an exchange
/// whose answer is the entry of that line's array with the call's id (the whole line when it is no array), so
/// the oracle judges batched answers as it judges lone ones.
private final class ScriptedNode: HTTPTransport {
    private let state: Mutex<(answers: [[UInt8]], exchanges: [Exchange])>

    init(answers: [[UInt8]]) { state = Mutex((answers, [])) }

    var exchanges: [Exchange] { state.withLock { $0.exchanges } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try JSONParser.parse(request.body)
        return try state.withLock { state in
            let calls = body.arrayValue ?? [body]
            var exchanges = calls.map { call in
                Exchange(
                    method: call["method"]?.stringValue ?? "", params: call["params"]?.arrayValue ?? [],
                    id: call["id"] ?? .null, answer: nil)
            }
            guard !state.answers.isEmpty else {
                state.exchanges += exchanges
                throw HTTPTransportError(.cannotConnect, "connection refused")
            }
            var line = state.answers.removeFirst()
            var status = 200
            if line.count >= 4, line[0] == UInt8(ascii: "!"),
                let code = Int(String(decoding: line[1..<4], as: UTF8.self))
            {
                status = code
                line = Array(line.dropFirst(line.count > 4 ? 5 : 4))
            }
            let response = HTTPResponse(status: status, body: line)
            if body.arrayValue != nil, case .array(let entries)? = try? JSONParser.parse(line) {
                for index in exchanges.indices {
                    // The first entry with this call's id; duplicates and strays the verifier must refuse.
                    let entry = entries.first { $0["id"] == exchanges[index].id }
                    exchanges[index].answer = entry.map { HTTPResponse(status: status, body: $0.serializedBytes()) }
                }
            } else {
                for index in exchanges.indices { exchanges[index].answer = response }
            }
            state.exchanges += exchanges
            return response
        }
    }
}

/// The input's first line: `{"validBefore": n|null, "validAfter": n|null, "claimed": "0x…"|null,
/// "confirmations": n, "fromBlock": n, "maxLogBlocks": n}`, every member optional (anything else: the defaults).
private struct Scenario {
    var validBefore: UInt64? = 1_800_000_060
    var validAfter: UInt64?
    var maxLogBlocks: UInt64 = SettlementVerifier.defaultMaxLogBlocks
    var claimed: String?
    var confirmations: UInt64 = 12
    var fromBlock: UInt64 = 0

    init(_ line: [UInt8]) {
        guard case .object(let object)? = try? JSONParser.parse(line) else { return }
        if let value = object["validBefore"] {
            validBefore = value.numberValue?.int64.flatMap { UInt64(exactly: $0) }
        }
        claimed = object["claimed"]?.stringValue
        if let value = object["confirmations"]?.numberValue?.int64, value >= 0 { confirmations = UInt64(value) }
        if let value = object["fromBlock"]?.numberValue?.int64, value >= 0 { fromBlock = UInt64(value) }
        if let value = object["validAfter"] { validAfter = value.numberValue?.int64.flatMap { UInt64(exactly: $0) } }
        if let value = object["maxLogBlocks"]?.numberValue?.int64, (1...1_000_000).contains(value) {
            maxLogBlocks = UInt64(value)
        }
    }
}

/// libFuzzer entry: a whole settlement check against a node whose every answer comes from the input.
/// Beyond "no crash, no hang": a `settled` or `unused` (void) decision must follow from well-formed,
/// consistent answers, as this file's own strict reading of the exchanges (`Oracle`) sees them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let lines = UnsafeBufferPointer(start: data, count: size).split(
        separator: 0x0A, omittingEmptySubsequences: false
    ).map { Array($0) }
    guard let first = lines.first else { return 0 }
    let scenario = Scenario(first)
    let node = ScriptedNode(answers: Array(lines.dropFirst()))
    let rpc = EthereumRPC(
        transport: node, endpoint: .init(url: URL(string: "http://127.0.0.1:8545")!, timeoutSeconds: 60))
    let verifier = SettlementVerifier(
        rpc: rpc, fromBlock: scenario.fromBlock, confirmations: scenario.confirmations,
        maxLogBlocks: scenario.maxLogBlocks)
    let facts = SignedPaymentFacts(
        token: token, authorizer: authorizer, nonce: nonce, payTo: payTo, amount: amount,
        validAfter: scenario.validAfter, validBefore: scenario.validBefore, claimedTransaction: scenario.claimed)
    let outcome = Mutex<Result<ChainEvidence, ChainError>?>(nil)
    let finished = DispatchSemaphore(value: 0)
    Task {
        do throws(ChainError) {
            let evidence = try await verifier.check(facts)
            outcome.withLock { $0 = .success(evidence) }
        } catch {
            outcome.withLock { $0 = .failure(error) }
        }
        finished.signal()
    }
    guard finished.wait(timeout: .now() + 60) == .success else { fatalError("the verifier did not finish") }
    guard case .success(let evidence)? = outcome.withLock({ $0 }) else { return 0 }
    Oracle(scenario: scenario, exchanges: node.exchanges).judge(evidence)
    return 0
}

/// An independent, strict reading of what the node said, to judge the verifier's decision by.
private struct Oracle {
    let scenario: Scenario
    let exchanges: [Exchange]

    func judge(_ evidence: ChainEvidence) {
        switch evidence {
        case .pending, .usedUnmatched: return  // nothing is decided: the amount stays held
        case .settled(let transaction, let block):
            let final = finalBlock()
            guard block <= final.number else { violation("settled in block \(block), above the final \(final.number)") }
            guard
                exchanges.contains(where: {
                    $0.method == "eth_getTransactionReceipt"
                        && $0.params.first?.stringValue?.lowercased() == transaction
                        && matchingReceiptBlock($0) == block
                })
            else { violation("settled by \(transaction) without a well-formed matching receipt for it") }
        case .unused(let block, let timestamp):
            let final = finalBlock()
            guard block == final.number, timestamp == final.timestamp else {
                violation("void at block \(block) time \(timestamp), not the final block \(final)")
            }
            guard let validBefore = scenario.validBefore, timestamp >= validBefore else {
                violation("void before validBefore")
            }
            let calldata =
                "0xe94a0102" + String(repeating: "0", count: 24) + authorizer.dropFirst(2) + nonce.dropFirst(2)
            guard
                exchanges.contains(where: {
                    $0.method == "eth_call" && $0.params.count == 2
                        && $0.params[0]["to"]?.stringValue?.lowercased() == token
                        && $0.params[0]["data"]?.stringValue?.lowercased() == calldata
                        && $0.params[1].stringValue.flatMap(quantity) == final.number
                        && result($0)?.stringValue?.lowercased() == "0x" + String(repeating: "0", count: 64)
                })
            else { violation("void without authorizationState false at the final block") }
            // A receipt of the signed transfer, in any block, contradicts "unused for ever".
            for exchange in exchanges where exchange.method == "eth_getTransactionReceipt" {
                if let seen = matchingReceiptBlock(exchange) {
                    violation("void although a receipt shows the transfer in block \(seen)")
                }
            }
        }
    }

    /// The final block as the exchanges establish it: the last of the leading `eth_getBlockByNumber`
    /// answers, reached only through the fallbacks the node's answers allow.
    func finalBlock() -> (number: UInt64, timestamp: UInt64) {
        let blocks = exchanges.prefix { $0.method == "eth_getBlockByNumber" }
        guard let last = blocks.last, let header = result(last), let number = quantity(header["number"]),
            let timestamp = quantity(header["timestamp"])
        else { violation("a decision without a well-formed final block") }
        let tags = blocks.map { $0.params.first?.stringValue ?? "" }
        // A fallback only after the node did not know the stronger tag (a JSON-RPC error or a null block).
        for (index, tag) in tags.dropLast().enumerated() where tag == "finalized" || tag == "safe" {
            guard unknownTag(blocks[blocks.startIndex + index]) else { violation("fell back past a known \(tag)") }
        }
        switch tags.last {
        case "finalized": return (number, timestamp)
        case "safe" where tags.dropLast() == ["finalized"]: return (number, timestamp)
        default:
            guard tags.count == 4, Array(tags.prefix(3)) == ["finalized", "safe", "latest"],
                let latest = result(blocks[blocks.startIndex + 2]).flatMap({ quantity($0["number"]) }),
                let requested = quantity(tags[3])
            else { violation("final block chosen by an unexpected sequence \(tags)") }
            let depth = scenario.confirmations
            guard requested == (latest >= depth ? latest - depth : 0) else {
                violation("block \(requested) asked, latest \(latest) minus \(depth) expected")
            }
            guard number == requested else { violation("asked for block \(requested), the node answered \(number)") }
            return (number, timestamp)
        }
    }

    /// The block of a receipt that proves the signed transfer, read strictly; nil when it does not.
    func matchingReceiptBlock(_ exchange: Exchange) -> UInt64? {
        guard let asked = exchange.params.first?.stringValue?.lowercased(), let receipt = result(exchange),
            word(receipt["transactionHash"]) == asked, receipt["status"]?.stringValue == "0x1",
            let block = quantity(receipt["blockNumber"]), case .array(let logs)? = receipt["logs"]
        else { return nil }
        var used = false
        var transferred = false
        let amountWord = "0x" + String(repeating: "0", count: 60) + "2710"  // 10000
        for log in logs {
            guard let address = address(log["address"]), case .array(let topicValues)? = log["topics"],
                topicValues.count <= 4, let data = log["data"]?.stringValue, data.hasPrefix("0x"),
                HexBytes.decode(Array(data.utf8.dropFirst(2))) != nil, word(log["transactionHash"]) == asked
            else { return nil }
            let topics = topicValues.map { word($0) }
            guard !topics.contains(nil) else { return nil }
            if let number = log["blockNumber"], quantity(number) != block { return nil }
            guard log["removed"] == nil || log["removed"]?.boolValue != nil else { return nil }
            guard address == token, log["removed"]?.boolValue != true else { continue }
            if topics == [usedTopic, padded(authorizer), nonce] { used = true }
            if topics == [transferTopic, padded(authorizer), padded(payTo)], data.lowercased() == amountWord {
                transferred = true
            }
        }
        return used && transferred ? block : nil
    }

    /// The `result` of a well-formed JSON-RPC answer to this exchange (no error), else nil.
    func result(_ exchange: Exchange) -> JSONValue? {
        guard case .object(let object)? = envelope(exchange), object["error"] == nil || object["error"] == .null
        else { return nil }
        return object["result"]
    }

    /// True when the node answered a block tag with a JSON-RPC error or a null block.
    func unknownTag(_ exchange: Exchange) -> Bool {
        guard case .object(let object)? = envelope(exchange) else { return false }
        if let error = object["error"], error != .null { return true }
        return object["result"] == .null
    }

    func envelope(_ exchange: Exchange) -> JSONValue? {
        guard let answer = exchange.answer, (200..<300).contains(answer.status),
            let value = try? JSONParser.parse(answer.body), value["jsonrpc"] == "2.0", value["id"] == exchange.id
        else { return nil }
        return value
    }
}

/// A JSON-RPC quantity exactly as the spec writes it: `0x0`, or `0x` and hex digits without a leading zero.
private func quantity(_ value: JSONValue?) -> UInt64? {
    value?.stringValue.flatMap(quantity)
}

private func quantity(_ text: String) -> UInt64? {
    let digits = Array(text.utf8.dropFirst(2))
    guard text.hasPrefix("0x"), (1...16).contains(digits.count), digits.count == 1 || digits[0] != 0x30,
        digits.allSatisfy({ HexBytes.decode([0x30, $0]) != nil })
    else { return nil }
    return digits.reduce(0) { $0 << 4 | UInt64(HexBytes.decode([0x30, $1])![0]) }
}

/// `0x` and exactly `count` bytes of hex, lower-cased.
private func hex(_ value: JSONValue?, count: Int) -> String? {
    guard let text = value?.stringValue, text.hasPrefix("0x"), text.utf8.count == 2 + 2 * count,
        HexBytes.decode(Array(text.utf8.dropFirst(2))) != nil
    else { return nil }
    return text.lowercased()
}

private func word(_ value: JSONValue?) -> String? { hex(value, count: 32) }
private func address(_ value: JSONValue?) -> String? { hex(value, count: 20) }
private func padded(_ address: String) -> String { "0x" + String(repeating: "0", count: 24) + address.dropFirst(2) }

private func violation(_ message: String) -> Never {
    fatalError("wrong decision from the node's answers: \(message)")
}
