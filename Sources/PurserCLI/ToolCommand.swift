import Cedar
import FoundationEssentials
import HTTPClient
import JSONCore
import Ledger
import MCP
import Purser
import X402

/// `purser tool add URL [--name N]`: registers a paid API from its own 402 answer.
///
/// It calls the endpoint once without paying; a 402 carries the price, network, asset and payee, and
/// (when the seller declares the x402 bazaar discovery extension) the input schema. It writes
/// `tools/<name>.json` (never over an existing file) and says which lines of `limits.json` and the
/// payee allowlist must allow the offer before anything can be paid.
struct ToolCommand: Subcommand {
    static let name = "tool"
    static let summary = "register a paid API from its 402 answer: purser tool add URL [--name N]"
    static let usage =
        "purser tool add URL [--name NAME] [--method GET|POST] [--tools DIR] [--policies DIR] [--home DIR]"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("an action (add)")
        guard action == "add" else { throw UsageError(description: "unknown action '\(action)' (add)") }
        let nameOption = try arguments.option("name")
        let methodOption = try arguments.option("method")?.uppercased()
        let configuration = try RuntimeConfiguration.resolve(
            agent: nil, tools: try arguments.option("tools"), policies: try arguments.option("policies"),
            home: try arguments.option("home"))
        let urlText = try arguments.positional("the URL of the paid endpoint")
        try arguments.finish()
        guard let url = URL(string: urlText), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            url.host != nil
        else { throw UsageError(description: "the URL must be http(s)://host/path") }
        if let methodOption, methodOption != "GET", methodOption != "POST" {
            throw UsageError(description: "--method must be GET or POST")
        }
        let name = nameOption ?? derivedName(url)
        guard ToolDescription.isValidName(name) else {
            throw UsageError(description: "--name must be 1-128 characters of A-Z a-z 0-9 _ - . (got '\(name)')")
        }
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: configuration.toolsDirectory, isDirectory: &isDirectory),
            isDirectory
        else {
            printError(
                "purser tool add: "
                    + configuration.cannotRead(configuration.toolsDirectory, in: .tools, why: "no such folder"))
            return 1
        }
        let manifestPath = PathText.join(configuration.toolsDirectory, "\(name).json")
        guard !FileManager.default.fileExists(atPath: manifestPath) else {
            printError("purser tool add: \(manifestPath) already exists; nothing was changed. Choose another --name.")
            return 1
        }
        let limits = try LedgerHome.limits(configuration)

        // One unpaid request: the 402 is the offer.
        var method = methodOption ?? "GET"
        var response = try await probe(url: url, method: method)
        if methodOption == nil, response.status == 405 {
            method = "POST"
            response = try await probe(url: url, method: method)
        }
        guard response.status == 402 else {
            printError(
                "purser tool add: \(url.absoluteString) answered \(method) with HTTP \(response.status), not 402 Payment Required, so it asks for no x402 payment. A free API needs a hand-written manifest (docs/tool-manifests.md); for a POST-only endpoint pass --method POST."
            )
            return 1
        }
        let required: PaymentRequired
        do {
            required = try PaymentRequired.decode(from: response)
        } catch {
            printError("purser tool add: the 402 is not a valid x402 offer: \(error.message)")
            return 1
        }
        guard let offer = Offer.choose(required, limits: limits) else {
            printError(
                "purser tool add: the 402 offers no \"exact\" EVM payment Purser can make (offers: \(required.accepts.map { JSONValue.object($0).serialized() }.joined(separator: ", ")))"
            )
            return 1
        }
        guard let asset = offer.asset else {
            printError(
                """
                purser tool add: the offer's asset \(offer.contract) on \(offer.network) is not declared in \(configuration.limitsPath); nothing was written.
                Add it under "assets" (with its real number of decimals), then run this again:
                  "\(offer.symbolHint)": { "decimals": 6, "networks": { "\(offer.network)": "\(offer.contract)" } }
                """)
            return 1
        }
        let amount = AssetAmount.format(offer.atomic, decimals: asset.decimals)
        let discovery = Discovery(required.extensions)
        let description =
            required.resource?["description"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? offer.raw["description"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? "Paid API at \(url.host ?? "")\(url.path)."
        let manifest = manifestText(
            name: name, description: description, url: url.absoluteString, method: discovery.method ?? method,
            discovery: discovery, amount: amount, asset: asset.symbol, network: offer.network, payTo: offer.payTo)
        // The manifest must load like any other before it is written.
        let (loaded, problems) = ToolManifestLoader.load(bytes: Array(manifest.utf8), file: manifestPath)
        guard loaded != nil else {
            printError("purser tool add: the manifest built from the offer does not validate; nothing was written:")
            for problem in problems { printError("  \(problem.description)") }
            return 1
        }
        try manifest.write(toFile: manifestPath, atomically: true, encoding: .utf8)

        var lines = [
            "wrote \(manifestPath): \(name), up to \(amount) \(asset.symbol) a call to \(offer.payTo) on \(offer.network)",
            discovery.schema == nil
                ? "  input schema: none declared by the seller (bazaar discovery); the tool takes no arguments until you add them"
                : "  input schema: from the seller's bazaar discovery metadata (\(discovery.location))",
            "For it to be paid, these must allow the offer:",
        ]
        var missing = 0
        func require(_ ok: Bool, _ where_: String, _ fix: String) {
            lines.append("  \(ok ? "ok     " : "MISSING") \(where_)\(ok ? "" : " — \(fix)")")
            if !ok { missing += 1 }
        }
        let limitsFile = configuration.limitsPath
        require(
            limits.allowedNetworks.isEmpty || limits.allowedNetworks.contains(offer.network),
            "\(limitsFile) \"allow\".\"networks\" contains \"\(offer.network)\"", "add it")
        require(
            limits.allowedAssets.isEmpty || limits.allowedAssets.contains(asset.symbol),
            "\(limitsFile) \"allow\".\"assets\" contains \"\(asset.symbol)\"", "add it")
        require(
            limits.allowedPayees.allows(offer.payTo), "\(limitsFile) \"allow\".\"payees\" contains \"\(offer.payTo)\"",
            "add it")
        let cap = limits.limits(for: asset.symbol).perCall
        require(
            cap.map { offer.atomic <= $0 } ?? true,
            "\(limitsFile) \"limits\".\"\(asset.symbol)\".\"perCall\" is at least \(amount)", "raise it")
        if let allowlisted = payeeAllowlisted(offer.payTo, configuration: configuration) {
            require(
                allowlisted,
                "\(PathText.join(configuration.policiesDirectory, "entities.json")) Config::\"payments\" allowedPayTo contains \"\(offer.payTo)\"",
                "add it (the starter payments.cedar forbids other payees)")
        }
        lines.append(
            missing == 0
                ? "Then check who may call it: purser check --agent NAME"
                : "Fix the \(missing) line(s) above, then: purser check --agent NAME")
        printOut(lines.joined(separator: "\n"))
        return 0
    }

    private static func probe(url: URL, method: String) async throws -> HTTPResponse {
        var request = HTTPRequest(method: method, url: url, headers: ["Accept": "application/json"])
        if method == "POST" {
            request.headers.set(name: "Content-Type", value: "application/json")
            request.body = Array("{}".utf8)
        }
        let transport = HTTPClient(
            configuration: HTTPClient.Configuration(maximumResponseBytes: 1 << 20, timeout: .seconds(15)))
        do {
            return try await transport.send(request)
        } catch {
            throw LedgerHomeError(description: "cannot reach \(url.absoluteString): \(error)")
        }
    }

    /// `https://api.example.com/v1/weather-now` → `weather-now`.
    static func derivedName(_ url: URL) -> String {
        let last = url.pathComponents.last { $0 != "/" && !$0.isEmpty } ?? (url.host ?? "tool")
        let cleaned = String(
            last.map { character -> Character in
                character.isASCII && (character.isLetter || character.isNumber || "_-.".contains(character))
                    ? character : "_"
            })
        return String(cleaned.prefix(64))
    }

    /// True when entities.json's Config::"payments".allowedPayTo lists the payee; nil when there is no such list.
    private static func payeeAllowlisted(_ payee: String, configuration: RuntimeConfiguration) -> Bool? {
        guard let files = try? PolicyFiles.load(directory: configuration.policiesDirectory),
            let config = files.entities.all.first(where: { $0.uid.type == "Config" && $0.uid.id.value == "payments" }),
            case .set(let values)? = config.attributes["allowedPayTo"]
        else { return nil }
        return values.contains { value in
            if case .string(let text) = value { return text.value.lowercased() == payee.lowercased() }
            return false
        }
    }

    private static func manifestText(
        name: String, description: String, url: String, method: String, discovery: Discovery, amount: String,
        asset: String, network: String, payTo: String
    ) -> String {
        let schema = discovery.schema ?? ["type": "object", "properties": [:], "additionalProperties": false]
        var upstream: JSONObject = ["method": .string(method), "url": .string(url), "timeoutSeconds": 30]
        if !discovery.queryNames.isEmpty {
            upstream["query"] = .object(JSONObject(discovery.queryNames.map { ($0, .string($0)) }))
        }
        if !discovery.bodyNames.isEmpty { upstream["body"] = .array(discovery.bodyNames.map { .string($0) }) }
        let price: JSONValue = [
            "amount": .string(amount), "asset": .string(asset), "network": .string(network), "payTo": .string(payTo),
        ]
        let members: [(String, JSONValue)] = [
            ("name", .string(name)), ("description", .string(description)), ("inputSchema", schema),
            ("upstream", .object(upstream)), ("price", price), ("tags", ["paid"]), ("purpose", "data.paid"),
        ]
        return "{\n"
            + members.map { "  \(JSONValue.string($0.0).serialized()): \($0.1.serialized())" }.joined(separator: ",\n")
            + "\n}\n"
    }
}

/// The offer `tool add` records: the first `exact` EVM offer, preferring one whose asset `limits.json` knows.
struct Offer {
    var raw: JSONObject
    var network: String
    var contract: String
    var payTo: String
    var atomic: Int64
    var asset: LimitsConfiguration.Asset?
    var symbolHint: String

    static func choose(_ required: PaymentRequired, limits: LimitsConfiguration) -> Offer? {
        let offers = required.accepts.compactMap { Offer(raw: $0, version: required.version, limits: limits) }
        return offers.first { $0.asset != nil } ?? offers.first
    }

    init?(raw: JSONObject, version: X402Version, limits: LimitsConfiguration) {
        guard raw["scheme"]?.stringValue == "exact", let networkText = raw["network"]?.stringValue,
            let contract = raw["asset"]?.stringValue, let payTo = raw["payTo"]?.stringValue,
            let amountText = (version == .v2 ? raw["amount"] : raw["maxAmountRequired"])?.stringValue,
            !amountText.isEmpty, amountText.allSatisfy(\.isNumber), let atomic = Int64(amountText)
        else { return nil }
        // v1 names a network ("base-sepolia"); the manifest and limits use CAIP-2.
        let network: String
        if EVMNetwork.parseCAIP2(networkText) != nil {
            network = networkText
        } else if let known = EVMNetwork.parseV1Name(networkText) {
            network = "eip155:\(known.chainId)"
        } else {
            return nil
        }
        self.raw = raw
        self.network = network
        self.contract = contract
        self.payTo = payTo
        self.atomic = atomic
        self.asset = limits.asset(contract: contract, network: network)
        self.symbolHint = raw["extra"]?["name"]?.stringValue ?? "TOKEN"
    }
}

/// What the x402 bazaar discovery extension (`extensions.bazaar`) says about the input.
///
/// The SDK's `declare_discovery_extension` puts the input's JSON Schema at
/// `schema.properties.input.properties.queryParams` (GET) or `.body` (POST), and the method at
/// `info.input.method`.
struct Discovery {
    var schema: JSONValue?
    var method: String?
    var queryNames: [String] = []
    var bodyNames: [String] = []
    var location = ""

    init(_ extensions: JSONObject?) {
        guard let bazaar = extensions?["bazaar"]?.objectValue else { return }
        method = bazaar["info"]?["input"]?["method"]?.stringValue.map { $0.uppercased() }
        if let method, method != "GET", method != "POST" { self.method = nil }
        let input = bazaar["schema"]?["properties"]?["input"]?["properties"]
        for key in ["queryParams", "body"] {
            guard let declared = input?[key]?.objectValue, let properties = declared["properties"]?.objectValue else {
                continue
            }
            var object: JSONObject = ["type": "object", "properties": .object(properties)]
            if let required = declared["required"], required.arrayValue != nil { object["required"] = required }
            object["additionalProperties"] = false
            schema = .object(object)
            location = "extensions.bazaar.schema…input.\(key)"
            if key == "queryParams" {
                queryNames = properties.keys
            } else {
                bodyNames = properties.keys
                if method == nil { method = "POST" }
            }
            return
        }
    }
}
