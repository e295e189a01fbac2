import Foundation
import HTTPClient
import JSONCore
import Purser
@_spi(Interop) import X402

/// `purser-interop x402-pay --url URL --key-file PATH [options]`: one paid request through `X402Client`,
/// printing the outcome as one JSON line on stdout.
///
/// Options: `--asset CHAIN:0xADDR` (repeatable; allow-list), `--max-amount N`, `--validity-cap SECONDS`,
/// `--signer command --signer-command PATH --address 0x…` (external signer instead of the key file),
/// `--proxy-loopback 1` (the loopback peer is reached through `HTTP_PROXY` from the environment, as the
/// product reads it, instead of bypassing it), `--mutate M` for the conformance table: `none`, `replay`, `domain-name:NAME`, `domain-version:V`,
/// `chain-id:N`, `valid-before:+S|-S`, `valid-after:+S|-S`, `value:+1|-1`, `accepted-payto-lower`.
struct X402Tool: InteropTool {
    static let name = "x402-pay"

    static func run(_ arguments: [String]) async throws -> Int32 {
        var options: [String: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            guard word.hasPrefix("--"), index + 1 < arguments.count else {
                throw X402Error(.configuration, "unexpected argument \(word)")
            }
            options[String(word.dropFirst(2)), default: []].append(arguments[index + 1])
            index += 2
        }
        guard let urlText = options["url"]?.first, let url = URL(string: urlText) else {
            throw X402Error(.configuration, "--url is required")
        }
        var transportConfiguration = HTTPClient.Configuration(timeout: .seconds(20))
        if options["proxy-loopback"]?.first == "1" { transportConfiguration.proxy.bypassesLoopback = false }
        let transport = HTTPClient(configuration: transportConfiguration)
        let signer: any Signer
        if options["signer"]?.first == "command" {
            guard let command = options["signer-command"]?.first, let addressText = options["address"]?.first,
                let address = EVMAddressText(addressText)
            else { throw X402Error(.configuration, "--signer command needs --signer-command and --address") }
            signer = CommandSigner(command: [command], address: address, timeout: .seconds(20))
        } else {
            guard let keyFile = options["key-file"]?.first else {
                throw X402Error(.configuration, "--key-file is required")
            }
            signer = try KeyFileSigner(path: keyFile)
        }
        var assets = Set<AllowedAsset>()
        for entry in options["asset"] ?? ["84532:0x036CbD53842c5426634e7929541eC2318f3dCF7e"] {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let chain = UInt64(parts[0]),
                let asset = AllowedAsset(chainId: chain, address: parts[1])
            else { throw X402Error(.configuration, "--asset must be CHAIN:0xADDRESS") }
            assets.insert(asset)
        }
        guard let maximum = AtomicAmount(options["max-amount"]?.first ?? "1000000") else {
            throw X402Error(.configuration, "--max-amount must be a decimal integer")
        }
        let cap = Int64(options["validity-cap"]?.first ?? "600") ?? 600
        let client = X402Client(
            transport: transport, signer: signer, configuration: .init(validAfterBackdate: 600, validityCap: cap))
        let policy = SelectionPolicy(allowedAssets: assets, maximumAmount: maximum)
        let mutation = options["mutate"]?.first ?? "none"

        var output: JSONObject = [:]
        let outcome: PaymentOutcome
        if mutation == "none" {
            outcome = await client.pay(HTTPRequest(url: url), policy: policy)
        } else {
            outcome = try await mutated(client: client, url: url, policy: policy, mutation: mutation, output: &output)
        }
        describe(outcome, into: &output)
        FileHandle.standardOutput.write(Data((JSONValue.object(output).serialized() + "\n").utf8))
        return 0
    }

    private static func mutated(
        client: X402Client, url: URL, policy: SelectionPolicy, mutation: String, output: inout JSONObject
    ) async throws -> PaymentOutcome {
        guard case .paymentRequired(let challenge) = try await client.send(HTTPRequest(url: url)) else {
            return .refusedBeforeSigning(PaymentRefusal(code: .unreadableChallenge, message: "no readable 402"))
        }
        let selection = challenge.select(policy)
        guard let offer = selection.cheapest else {
            return .refusedBeforeSigning(
                PaymentRefusal(code: .noPayableOffer, message: "no payable offer", rejections: selection.rejections))
        }
        let parts = mutation.split(separator: ":", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1] : ""
        let change: InteropMutation
        switch parts[0] {
        case "replay": change = .none
        case "domain-name": change = .domainName(argument)
        case "domain-version": change = .domainVersion(argument)
        case "chain-id": change = .chainId(UInt64(argument) ?? 0)
        case "valid-before": change = .validBefore(Int64(argument) ?? 0)
        case "valid-after": change = .validAfter(Int64(argument) ?? 0)
        case "value":
            guard let amount = UInt64(offer.amount.decimal), let delta = Int64(argument) else {
                throw X402Error(.configuration, "value mutation needs a small amount and a delta")
            }
            change = .value(AtomicAmount(UInt64(Int64(amount) + delta)))
        case "accepted-payto-lower": change = .acceptedPayToLowercased
        default: throw X402Error(.configuration, "unknown mutation \(mutation)")
        }
        let payment = try await client.authorizeMutated(offer, for: challenge, mutation: change)
        let first = await client.retry(payment)
        guard parts[0] == "replay" else { return first }
        var firstObject: JSONObject = [:]
        describe(first, into: &firstObject)
        output["first"] = .object(firstObject)
        return await client.replayForInterop(payment)
    }

    private static func describe(_ outcome: PaymentOutcome, into output: inout JSONObject) {
        func add(_ record: AuthorizationRecord) {
            output["payer"] = .string(record.payer)
            output["nonce"] = .string(record.nonce)
            output["validAfter"] = .string(String(record.validAfter))
            output["validBefore"] = .string(String(record.validBefore))
            output["amount"] = .string(record.amount.decimal)
            output["network"] = .string(record.network)
        }
        func add(_ response: HTTPResponse?) {
            guard let response else { return }
            output["status"] = .number(JSONNumber(response.status))
            output["body"] = .string(String(decoding: response.body.prefix(2000), as: UTF8.self))
        }
        switch outcome {
        case .noPaymentRequired(let response):
            output["outcome"] = "noPaymentRequired"
            add(response)
        case .refusedBeforeSigning(let refusal):
            output["outcome"] = "refusedBeforeSigning"
            output["code"] = .string(refusal.code.name)
            output["message"] = .string(refusal.message)
            output["rejections"] = .array(refusal.rejections.map { .string($0.description) })
        case .paid(let settlement, let response, let record):
            output["outcome"] = "paid"
            output["settlement"] = .object(settlement.raw)
            add(response)
            add(record)
        case .failedAfterSigning(let failure, let record):
            output["outcome"] = "failedAfterSigning"
            output["code"] = .string(failure.code.name)
            output["reason"] = failure.reason.map { .string($0) } ?? .null
            add(failure.response)
            add(record)
        case .inDoubt(let failure, let record):
            output["outcome"] = "inDoubt"
            output["code"] = .string(failure.code.name)
            output["reason"] = failure.reason.map { .string($0) } ?? .null
            add(failure.response)
            add(record)
        }
    }
}
