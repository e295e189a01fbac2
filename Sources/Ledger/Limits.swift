import Glibc
public import JSONCore

/// The spending limits of `policies/limits.json`, with every amount already in exact atomic units.
///
/// Shape of the file (every key is checked; an unknown key is an error, so a typo never loosens a limit):
/// ```json
/// {
///   "assets": { "USDC": { "decimals": 6, "networks": { "eip155:84532": "0x036C…" } } },
///   "sessionDefaults": { "asset": "USDC", "budget": "5.00", "ttl": "24h", "perCall": "0.50" },
///   "limits": { "USDC": { "perCall": "1.00", "perTool": { "weather": "2.00" },
///                         "velocity": { "window": "1h", "maxPayments": 60, "maxAmount": "10.00" },
///                         "approvalAbove": "0.25" } },
///   "allow": { "networks": ["eip155:84532"], "assets": ["USDC"], "payees": ["0x2096…"] }
/// }
/// ```
/// Amounts are whole-unit decimal strings of the asset they are listed under.
public struct LimitsConfiguration: Sendable {
    /// One asset the wallet may pay in.
    public struct Asset: Sendable, Hashable {
        /// The symbol, e.g. `USDC`.
        public var symbol: String
        /// Decimals of the token contract (USDC: 6).
        public var decimals: Int
        /// Contract address per CAIP-2 network, e.g. `eip155:84532` → `0x036C…`.
        public var contracts: [String: String]

        /// Creates an asset.
        public init(symbol: String, decimals: Int, contracts: [String: String]) {
            self.symbol = symbol
            self.decimals = decimals
            self.contracts = contracts
        }
    }

    /// What `purser session grant` uses when an option is omitted.
    public struct SessionDefaults: Sendable, Hashable {
        /// Asset symbol of a new session.
        public var asset: String
        /// Budget in atomic units, if the file sets one.
        public var budget: Int64?
        /// Lifetime in milliseconds.
        public var ttlMilliseconds: Int64
        /// Per-call cap of a new session, in atomic units.
        public var perCall: Int64?

        /// Creates defaults.
        public init(asset: String, budget: Int64? = nil, ttlMilliseconds: Int64, perCall: Int64? = nil) {
            self.asset = asset
            self.budget = budget
            self.ttlMilliseconds = ttlMilliseconds
            self.perCall = perCall
        }
    }

    /// A rolling-window rate limit per agent and asset.
    public struct Velocity: Sendable, Hashable {
        /// Window length in milliseconds.
        public var windowMilliseconds: Int64
        /// Most payments (reservations not released) inside the window.
        public var maxPayments: Int64?
        /// Most atomic units inside the window.
        public var maxAmount: Int64?

        /// Creates a velocity limit.
        public init(windowMilliseconds: Int64, maxPayments: Int64? = nil, maxAmount: Int64? = nil) {
            self.windowMilliseconds = windowMilliseconds
            self.maxPayments = maxPayments
            self.maxAmount = maxAmount
        }
    }

    /// The limits applied to payments in one asset; all amounts in that asset's atomic units.
    public struct AssetLimits: Sendable, Hashable {
        /// Largest single payment.
        public var perCall: Int64?
        /// Most a tool may spend within one session, by tool name.
        public var perTool: [String: Int64]
        /// Rate limit.
        public var velocity: Velocity?
        /// Payments above this need an approval.
        public var approvalAbove: Int64?

        /// Creates limits.
        public init(
            perCall: Int64? = nil, perTool: [String: Int64] = [:], velocity: Velocity? = nil,
            approvalAbove: Int64? = nil
        ) {
            self.perCall = perCall
            self.perTool = perTool
            self.velocity = velocity
            self.approvalAbove = approvalAbove
        }
    }

    /// Which payees may be paid.
    public enum Payees: Sendable, Hashable {
        /// Any payee (`"payees": "any"`).
        case any
        /// Only these addresses (compared case-insensitively).
        case only(Set<String>)

        /// True when `address` may be paid.
        public func allows(_ address: String) -> Bool {
            switch self {
            case .any: return true
            case .only(let set): return set.contains(address.lowercased())
            }
        }
    }

    /// Assets by symbol.
    public var assets: [String: Asset]
    /// Defaults for new sessions.
    public var sessionDefaults: SessionDefaults?
    /// Limits by asset symbol.
    public var limits: [String: AssetLimits]
    /// CAIP-2 networks payments may use.
    public var allowedNetworks: Set<String>
    /// Asset symbols payments may use.
    public var allowedAssets: Set<String>
    /// Payees payments may go to.
    public var allowedPayees: Payees
    /// What a change of payee, network, price or facilitator leads to (`"changes"`).
    public var changeRules = ChangeRules()
    /// Change rules of single tools (`"changes"."perTool"`).
    public var changeRulesByTool: [String: ChangeRules] = [:]

    /// Creates a configuration.
    public init(
        assets: [String: Asset], sessionDefaults: SessionDefaults? = nil, limits: [String: AssetLimits] = [:],
        allowedNetworks: Set<String>, allowedAssets: Set<String>, allowedPayees: Payees
    ) {
        self.assets = assets
        self.sessionDefaults = sessionDefaults
        self.limits = limits
        self.allowedNetworks = allowedNetworks
        self.allowedAssets = allowedAssets
        self.allowedPayees = allowedPayees
    }

    /// The limits for `symbol` (none configured: an empty set, so only the session limits apply).
    public func limits(for symbol: String) -> AssetLimits {
        limits[symbol] ?? AssetLimits()
    }

    /// The asset whose contract on `network` is `contract` (case-insensitive), if configured.
    public func asset(contract: String, network: String) -> Asset? {
        assets.values.first { $0.contracts[network]?.lowercased() == contract.lowercased() }
    }

    /// Reads and checks a limits file.
    /// - Throws: `LimitsError` listing every problem as `file:line:col: message`.
    public static func load(path: String) throws(LimitsError) -> LimitsConfiguration {
        guard let bytes = readWholeFile(path) else {
            throw LimitsError([
                LimitsError.Problem(
                    file: path, location: SourceLocation(line: 1, column: 1),
                    message: "cannot read the file")
            ])
        }
        return try parse(bytes, file: path)
    }

    /// Parses and checks limits JSON; `file` names the source in diagnostics.
    /// - Throws: `LimitsError` listing every problem as `file:line:col: message`.
    public static func parse(_ bytes: [UInt8], file: String) throws(LimitsError) -> LimitsConfiguration {
        let root: JSONValue
        let locations: JSONLocations
        do {
            (root, locations) = try JSONParser.parseWithLocations(bytes)
        } catch {
            throw LimitsError([LimitsError.Problem(file: file, location: error.location, message: error.message)])
        }
        var reader = LimitsReader(file: file, locations: locations)
        let configuration = reader.read(root)
        guard reader.problems.isEmpty, let configuration else { throw LimitsError(reader.problems) }
        return configuration
    }
}

/// Every problem found in a limits file.
public struct LimitsError: Error, Sendable, CustomStringConvertible {
    /// One problem at one place.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The file, as given.
        public var file: String
        /// Line and column of the offending value.
        public var location: SourceLocation
        /// What is wrong.
        public var message: String

        public var description: String { "\(file):\(location.line):\(location.column): \(message)" }
    }

    /// The problems, in document order of discovery.
    public let problems: [Problem]

    init(_ problems: [Problem]) { self.problems = problems }

    /// One `file:line:col: message` line per problem.
    public var description: String { problems.map { $0.description }.joined(separator: "\n") }
}

/// Parses a duration such as `24h`, `90m`, `3600s`, `7d` or `500ms` into milliseconds; nil when invalid,
/// zero or too large.
public func parseDurationMilliseconds(_ text: String) -> Int64? {
    let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        let number = text.dropLast(suffix.count)
        guard !number.isEmpty, number.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int64(number),
            value > 0
        else { continue }
        let (product, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : product
    }
    return nil
}

func readWholeFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if count == 0 { return bytes }
        bytes.append(contentsOf: buffer[0..<count])
        guard bytes.count <= 4 << 20 else { return nil }
    }
}

/// Walks the parsed document, collecting every problem with its location instead of stopping at the first.
private struct LimitsReader {
    let file: String
    let locations: JSONLocations
    var problems: [LimitsError.Problem] = []

    mutating func problem(_ pointer: String, _ message: String) {
        problems.append(LimitsError.Problem(file: file, location: locations.location(of: pointer), message: message))
    }

    mutating func object(_ value: JSONValue, _ pointer: String, allowed: [String], required: [String] = [])
        -> JSONObject?
    {
        guard let object = value.objectValue else {
            problem(pointer, "expected an object")
            return nil
        }
        for key in object.keys where !allowed.contains(key) {
            problem(
                pointer + "/" + JSONLocations.escape(key),
                "unknown key \"\(key)\"; expected one of \(allowed.joined(separator: ", "))")
        }
        for key in required where object[key] == nil {
            problem(pointer, "missing required key \"\(key)\"")
        }
        return object
    }

    mutating func string(_ value: JSONValue, _ pointer: String) -> String? {
        guard let text = value.stringValue, !text.isEmpty else {
            problem(pointer, "expected a non-empty string")
            return nil
        }
        return text
    }

    mutating func amount(_ value: JSONValue, _ pointer: String, decimals: Int?) -> Int64? {
        guard let text = value.stringValue else {
            problem(pointer, "expected an amount as a decimal string like \"0.50\" (numbers are refused)")
            return nil
        }
        guard let decimals else { return nil }
        switch AssetAmount.parse(text, decimals: decimals) {
        case .success(let atomic): return atomic
        case .failure(let error):
            problem(pointer, error.message)
            return nil
        }
    }

    mutating func count(_ value: JSONValue, _ pointer: String) -> Int64? {
        guard let number = value.int64Value, number >= 0 else {
            problem(pointer, "expected a non-negative integer")
            return nil
        }
        return number
    }

    mutating func duration(_ value: JSONValue, _ pointer: String) -> Int64? {
        guard let text = value.stringValue, let milliseconds = parseDurationMilliseconds(text) else {
            problem(pointer, "expected a duration like \"24h\", \"90m\" or \"3600s\"")
            return nil
        }
        return milliseconds
    }

    mutating func stringList(_ value: JSONValue, _ pointer: String) -> [String]? {
        guard let array = value.arrayValue else {
            problem(pointer, "expected an array of strings")
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            if let text = string(element, pointer + "/\(index)") { result.append(text) }
        }
        return result
    }

    mutating func read(_ root: JSONValue) -> LimitsConfiguration? {
        guard
            let top = object(
                root, "", allowed: ["assets", "sessionDefaults", "limits", "allow", "changes"],
                required: ["assets", "allow"])
        else { return nil }

        var assets: [String: LimitsConfiguration.Asset] = [:]
        if let assetsValue = top["assets"], assetsValue.objectValue == nil {
            problem("/assets", "expected an object of asset symbol → asset")
        }
        if let assetsObject = top["assets"]?.objectValue {
            for (symbol, value) in assetsObject {
                let pointer = "/assets/" + JSONLocations.escape(symbol)
                guard
                    let body = object(
                        value, pointer, allowed: ["decimals", "networks"], required: ["decimals", "networks"])
                else { continue }
                var decimals: Int?
                if let decimalsValue = body["decimals"] {
                    if let number = decimalsValue.int64Value, (0...Int64(AssetAmount.maximumDecimals)).contains(number)
                    {
                        decimals = Int(number)
                    } else {
                        problem(pointer + "/decimals", "expected an integer from 0 to \(AssetAmount.maximumDecimals)")
                    }
                }
                var contracts: [String: String] = [:]
                if let networksValue = body["networks"] {
                    if let networks = networksValue.objectValue {
                        for (network, address) in networks {
                            let addressPointer = pointer + "/networks/" + JSONLocations.escape(network)
                            if !isCAIP2(network) {
                                problem(
                                    addressPointer, "\"\(network)\" is not a CAIP-2 network id like \"eip155:84532\"")
                            }
                            if let text = string(address, addressPointer) {
                                if isAddress(text) {
                                    contracts[network] = text
                                } else {
                                    problem(addressPointer, "expected a 0x-prefixed 20-byte hex address")
                                }
                            }
                        }
                    } else {
                        problem(pointer + "/networks", "expected an object of network → contract address")
                    }
                }
                if let decimals {
                    assets[symbol] = LimitsConfiguration.Asset(symbol: symbol, decimals: decimals, contracts: contracts)
                }
            }
        }
        var sessionDefaults: LimitsConfiguration.SessionDefaults?
        if let value = top["sessionDefaults"],
            let body = object(
                value, "/sessionDefaults", allowed: ["asset", "budget", "ttl", "perCall"], required: ["asset", "ttl"])
        {
            var symbol: String?
            if let assetValue = body["asset"], let text = string(assetValue, "/sessionDefaults/asset") {
                if assets[text] != nil {
                    symbol = text
                } else {
                    problem("/sessionDefaults/asset", "unknown asset \"\(text)\"; declare it under \"assets\"")
                }
            }
            let decimals = symbol.flatMap { assets[$0]?.decimals }
            let budget = body["budget"].flatMap { amount($0, "/sessionDefaults/budget", decimals: decimals) }
            let perCall = body["perCall"].flatMap { amount($0, "/sessionDefaults/perCall", decimals: decimals) }
            let ttl = body["ttl"].flatMap { duration($0, "/sessionDefaults/ttl") }
            if let symbol, let ttl {
                sessionDefaults = LimitsConfiguration.SessionDefaults(
                    asset: symbol, budget: budget, ttlMilliseconds: ttl, perCall: perCall)
            }
        }

        var limits: [String: LimitsConfiguration.AssetLimits] = [:]
        if let value = top["limits"] {
            if let byAsset = value.objectValue {
                for (symbol, body) in byAsset {
                    let pointer = "/limits/" + JSONLocations.escape(symbol)
                    guard let asset = assets[symbol] else {
                        problem(pointer, "unknown asset \"\(symbol)\"; declare it under \"assets\"")
                        continue
                    }
                    if let parsed = assetLimits(body, pointer, decimals: asset.decimals) { limits[symbol] = parsed }
                }
            } else {
                problem("/limits", "expected an object of asset symbol → limits")
            }
        }

        var networks: Set<String> = []
        var allowedAssets: Set<String> = []
        var payees = LimitsConfiguration.Payees.only([])
        if let value = top["allow"],
            let body = object(
                value, "/allow", allowed: ["networks", "assets", "payees"], required: ["networks", "assets", "payees"])
        {
            if let list = body["networks"].flatMap({ stringList($0, "/allow/networks") }) {
                for (index, network) in list.enumerated() where !isCAIP2(network) {
                    problem("/allow/networks/\(index)", "\"\(network)\" is not a CAIP-2 network id")
                }
                networks = Set(list)
            }
            if let list = body["assets"].flatMap({ stringList($0, "/allow/assets") }) {
                for (index, symbol) in list.enumerated() where assets[symbol] == nil {
                    problem("/allow/assets/\(index)", "unknown asset \"\(symbol)\"; declare it under \"assets\"")
                }
                allowedAssets = Set(list)
            }
            if let payeesValue = body["payees"] {
                if payeesValue.stringValue == "any" {
                    payees = .any
                } else if let list = stringList(payeesValue, "/allow/payees") {
                    for (index, address) in list.enumerated() where !isAddress(address) {
                        problem("/allow/payees/\(index)", "expected a 0x-prefixed 20-byte hex address")
                    }
                    payees = .only(Set(list.map { $0.lowercased() }))
                }
            }
        }
        var configuration = LimitsConfiguration(
            assets: assets, sessionDefaults: sessionDefaults, limits: limits, allowedNetworks: networks,
            allowedAssets: allowedAssets, allowedPayees: payees)
        if let value = top["changes"] {
            let global = changeRules(value, "/changes", base: ChangeRules(), perTool: true)
            configuration.changeRules = global
            if let perTool = value.objectValue?["perTool"] {
                if let tools = perTool.objectValue {
                    for (tool, body) in tools {
                        configuration.changeRulesByTool[tool] = changeRules(
                            body, "/changes/perTool/" + JSONLocations.escape(tool), base: global, perTool: false)
                    }
                } else {
                    problem("/changes/perTool", "expected an object of tool name → change rules")
                }
            }
        }
        return configuration
    }

    mutating func changeAction(_ value: JSONValue, _ pointer: String) -> ChangeRules.Action? {
        guard let text = value.stringValue, let action = ChangeRules.Action(rawValue: text) else {
            problem(pointer, "expected \"allow\", \"approve\" or \"deny\"")
            return nil
        }
        return action
    }

    mutating func changeRules(_ value: JSONValue, _ pointer: String, base: ChangeRules, perTool: Bool)
        -> ChangeRules
    {
        var keys = ["newPayee", "changedNetwork", "priceAbove", "facilitators"]
        if perTool { keys.append("perTool") }
        var rules = base
        guard let body = object(value, pointer, allowed: keys) else { return rules }
        if let action = body["newPayee"].flatMap({ changeAction($0, pointer + "/newPayee") }) {
            rules.newPayee = action
        }
        if let action = body["changedNetwork"].flatMap({ changeAction($0, pointer + "/changedNetwork") }) {
            rules.changedNetwork = action
        }
        if let price = body["priceAbove"],
            let priceBody = object(
                price, pointer + "/priceAbove", allowed: ["multiple", "action"], required: ["multiple"])
        {
            if let multiple = priceBody["multiple"] {
                // A multiple below 1 would flag every unchanged price; hundredths are exact.
                if let hundredths = amount(multiple, pointer + "/priceAbove/multiple", decimals: 2) {
                    if hundredths >= 100 {
                        rules.priceMultipleHundredths = hundredths
                    } else {
                        problem(pointer + "/priceAbove/multiple", "a price multiple is at least \"1\"")
                    }
                }
            }
            if let action = priceBody["action"].flatMap({ changeAction($0, pointer + "/priceAbove/action") }) {
                rules.priceAbove = action
            }
        }
        if let facilitators = body["facilitators"],
            let listBody = object(
                facilitators, pointer + "/facilitators", allowed: ["allow", "action"], required: ["allow"])
        {
            if let list = listBody["allow"].flatMap({ stringList($0, pointer + "/facilitators/allow") }) {
                rules.facilitators = Set(list)
            }
            if let action = listBody["action"].flatMap({ changeAction($0, pointer + "/facilitators/action") }) {
                rules.unlistedFacilitator = action
            }
        }
        return rules
    }

    mutating func assetLimits(_ value: JSONValue, _ pointer: String, decimals: Int)
        -> LimitsConfiguration.AssetLimits?
    {
        guard let body = object(value, pointer, allowed: ["perCall", "perTool", "velocity", "approvalAbove"]) else {
            return nil
        }
        var result = LimitsConfiguration.AssetLimits()
        result.perCall = body["perCall"].flatMap { amount($0, pointer + "/perCall", decimals: decimals) }
        result.approvalAbove = body["approvalAbove"].flatMap {
            amount($0, pointer + "/approvalAbove", decimals: decimals)
        }
        if let perTool = body["perTool"] {
            if let tools = perTool.objectValue {
                for (tool, cap) in tools {
                    let toolPointer = pointer + "/perTool/" + JSONLocations.escape(tool)
                    if let atomic = amount(cap, toolPointer, decimals: decimals) { result.perTool[tool] = atomic }
                }
            } else {
                problem(pointer + "/perTool", "expected an object of tool name → amount")
            }
        }
        if let velocityValue = body["velocity"],
            let velocity = object(
                velocityValue, pointer + "/velocity", allowed: ["window", "maxPayments", "maxAmount"],
                required: ["window"])
        {
            let window = velocity["window"].flatMap { duration($0, pointer + "/velocity/window") }
            let maxPayments = velocity["maxPayments"].flatMap { count($0, pointer + "/velocity/maxPayments") }
            let maxAmount = velocity["maxAmount"].flatMap {
                amount($0, pointer + "/velocity/maxAmount", decimals: decimals)
            }
            if velocity["maxPayments"] == nil && velocity["maxAmount"] == nil {
                problem(pointer + "/velocity", "set \"maxPayments\", \"maxAmount\" or both")
            }
            if let window {
                result.velocity = LimitsConfiguration.Velocity(
                    windowMilliseconds: window, maxPayments: maxPayments, maxAmount: maxAmount)
            }
        }
        return result
    }
}

private func isHex(_ text: Substring) -> Bool {
    text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) }
}

/// A 0x-prefixed 20-byte hex address (checksum case is not verified here; comparison is case-insensitive).
func isAddress(_ text: String) -> Bool {
    text.utf8.count == 42 && text.hasPrefix("0x") && isHex(text.dropFirst(2))
}

/// A CAIP-2 chain id: `namespace:reference`.
func isCAIP2(_ text: String) -> Bool {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, (3...8).contains(parts[0].count), (1...32).contains(parts[1].count) else { return false }
    return parts[0].utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        && parts[1].utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95
        }
}
