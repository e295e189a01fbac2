public import FoundationEssentials
import JSONCore
import X402

/// The Ethereum nodes the admin configured, one per network: `$PURSER_HOME/nodes.json`.
///
/// ```json
/// {"nodes": {"eip155:84532": {"url": "https://base-sepolia.example/rpc",
///                             "headers": {"Authorization": {"env": "PURSER_NODE_TOKEN", "prefix": "Bearer "}},
///                             "fromBlock": 0, "timeoutSeconds": 10, "confirmations": 12, "batchSize": 100,
///                             "maxLogBlocks": 2000}}}
/// ```
/// `confirmations` (1 to 10000, default 12) is the depth below `latest` taken as final when the node has no
/// `finalized` or `safe` block (`EthereumRPC.finalBlock`). `batchSize` (1 to 1000, default 100) is the most
/// calls sent in one JSON-RPC batch; 1 sends every call alone (for a provider that bills or limits batches).
/// `maxLogBlocks` (1 to 1000000, default 2000) is the widest block range one `eth_getLogs` asks about (hosted
/// nodes refuse wider ones); a wider search is split into consecutive ranges, batched like any other call.
/// A credential is never written in the file: a header names the environment variable holding it.
/// Every problem is reported as `file:line:col: message`; an unknown key is an error.
public struct NodeConfiguration: Sendable {
    /// One network's node.
    public struct Node: Sendable {
        /// CAIP-2 network, e.g. `eip155:84532`.
        public var network: String
        /// The chain id the network names; the node must report it.
        public var chainID: UInt64
        /// The endpoint (URL, headers with values resolved from the environment, limits).
        public var endpoint: EthereumRPC.Endpoint
        /// Where log searches start.
        public var fromBlock: UInt64
        /// The depth below `latest` taken as final when the node knows neither `finalized` nor `safe`.
        public var confirmations: UInt64
        /// The widest block range one `eth_getLogs` asks about.
        public var maxLogBlocks: UInt64

        /// Creates a node entry.
        public init(
            network: String, chainID: UInt64, endpoint: EthereumRPC.Endpoint, fromBlock: UInt64,
            confirmations: UInt64 = SettlementVerifier.defaultConfirmations,
            maxLogBlocks: UInt64 = SettlementVerifier.defaultMaxLogBlocks
        ) {
            self.network = network
            self.chainID = chainID
            self.endpoint = endpoint
            self.fromBlock = fromBlock
            self.confirmations = confirmations
            self.maxLogBlocks = maxLogBlocks
        }
    }

    /// Nodes by CAIP-2 network.
    public var nodes: [String: Node]

    /// The longest `timeoutSeconds` a node may be given.
    public static let maximumTimeoutSeconds = 120

    /// Creates a configuration from entries.
    public init(nodes: [String: Node]) {
        self.nodes = nodes
    }

    /// The file's name inside a state home.
    public static func path(inHome home: String) -> String {
        home.isEmpty ? "nodes.json" : home.hasSuffix("/") ? home + "nodes.json" : home + "/nodes.json"
    }

    /// Loads `path`; a missing file is an empty configuration (no node: settlements stay `claimed`).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(NodeConfigurationError) -> NodeConfiguration
    {
        guard FileManager.default.fileExists(atPath: path) else { return NodeConfiguration(nodes: [:]) }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            throw NodeConfigurationError(problems: ["\(path): cannot be read (or larger than 1 MiB)"])
        }
        return try parse(Array(data), file: path, environment: environment)
    }

    /// Parses the file's bytes; `file` names it in messages.
    /// An RFC 9110 `tchar`: ASCII letters, digits and ``!#$%&'*+-.^_`|~``.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    public static func parse(_ bytes: [UInt8], file: String, environment: [String: String])
        throws(NodeConfigurationError) -> NodeConfiguration
    {
        let root: JSONValue
        let locations: JSONLocations
        do {
            (root, locations) = try JSONParser.parseWithLocations(bytes)
        } catch {
            throw NodeConfigurationError(problems: ["\(file):\(error.location): \(error.message)"])
        }
        var problems: [String] = []
        func problem(_ pointer: String, _ message: String) {
            problems.append("\(file):\(locations.location(of: pointer)): \(message)")
        }
        var nodes: [String: Node] = [:]
        guard case .object(let top) = root else {
            throw NodeConfigurationError(problems: ["\(file):1:1: expected an object with \"nodes\""])
        }
        for key in top.keys where key != "nodes" { problem("/" + JSONLocations.escape(key), "unknown key \"\(key)\"") }
        guard case .object(let entries)? = top["nodes"] else {
            problem("/nodes", "\"nodes\" must be an object of CAIP-2 network → node")
            throw NodeConfigurationError(problems: problems)
        }
        for (network, value) in entries.sorted(by: { $0.key < $1.key }) {
            let pointer = "/nodes/" + JSONLocations.escape(network)
            guard let chain = EVMNetwork.parseCAIP2(network) else {
                problem(pointer, "\"\(network)\" is not an eip155 CAIP-2 network id")
                continue
            }
            guard case .object(let fields) = value else {
                problem(pointer, "a node is an object with \"url\"")
                continue
            }
            for key in fields.keys
            where !["url", "headers", "fromBlock", "timeoutSeconds", "confirmations", "batchSize", "maxLogBlocks"]
                .contains(key)
            {
                problem(pointer + "/" + JSONLocations.escape(key), "unknown key \"\(key)\"")
            }
            guard let text = fields["url"]?.stringValue, let url = URL(string: text),
                url.scheme == "http" || url.scheme == "https", url.host != nil, url.user == nil, url.password == nil
            else {
                problem(pointer + "/url", "\"url\" must be an http(s) URL without credentials (use headers with env)")
                continue
            }
            var headers = HTTPHeaders()
            if let headerValue = fields["headers"] {
                guard case .object(let headerFields) = headerValue else {
                    problem(pointer + "/headers", "\"headers\" must be an object")
                    continue
                }
                for (name, spec) in headerFields.sorted(by: { $0.key < $1.key }) {
                    let at = pointer + "/headers/" + JSONLocations.escape(name)
                    guard case .object(let specFields) = spec, let variable = specFields["env"]?.stringValue,
                        specFields.keys.allSatisfy({ $0 == "env" || $0 == "prefix" }),
                        specFields["prefix"] == nil || specFields["prefix"]?.stringValue != nil
                    else {
                        problem(
                            at, "a header is {\"env\": \"VARIABLE\", \"prefix\": \"...\"}; values never go in the file")
                        continue
                    }
                    guard let secret = environment[variable], !secret.isEmpty else {
                        problem(at, "the environment variable \(variable) is not set")
                        continue
                    }
                    let value = (specFields["prefix"]?.stringValue ?? "") + secret
                    // Checked as the HTTP client checks them, on bytes, so a bad name or a line break in the
                    // value is a problem here rather than a refusal of every call to the node (the value is a
                    // secret: the message never repeats it).
                    guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte),
                        !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 })
                    else {
                        problem(at, "a header name must be an HTTP token and its value one line")
                        continue
                    }
                    headers.add(name: name, value: value)
                }
            }
            var fromBlock: UInt64 = 0
            if let value = fields["fromBlock"] {
                guard let number = value.numberValue.flatMap({ UInt64($0.description) }) else {
                    problem(pointer + "/fromBlock", "\"fromBlock\" must be a non-negative integer")
                    continue
                }
                fromBlock = number
            }
            var timeout = 10.0
            if let value = fields["timeoutSeconds"] {
                guard let number = value.numberValue.flatMap({ Int($0.description) }),
                    (1...Self.maximumTimeoutSeconds).contains(number)
                else {
                    problem(pointer + "/timeoutSeconds", "\"timeoutSeconds\" must be an integer from 1 to 120")
                    continue
                }
                timeout = Double(number)
            }
            var confirmations = SettlementVerifier.defaultConfirmations
            if let value = fields["confirmations"] {
                guard let number = value.numberValue.flatMap({ UInt64($0.description) }), (1...10_000).contains(number)
                else {
                    problem(pointer + "/confirmations", "\"confirmations\" must be an integer from 1 to 10000")
                    continue
                }
                confirmations = number
            }
            var batchSize = EthereumRPC.Endpoint.defaultBatchSize
            if let value = fields["batchSize"] {
                guard let number = value.numberValue.flatMap({ Int($0.description) }), (1...1000).contains(number)
                else {
                    problem(pointer + "/batchSize", "\"batchSize\" must be an integer from 1 to 1000")
                    continue
                }
                batchSize = number
            }
            var maxLogBlocks = SettlementVerifier.defaultMaxLogBlocks
            if let value = fields["maxLogBlocks"] {
                guard let number = value.numberValue.flatMap({ UInt64($0.description) }),
                    (1...1_000_000).contains(number)
                else {
                    problem(pointer + "/maxLogBlocks", "\"maxLogBlocks\" must be an integer from 1 to 1000000")
                    continue
                }
                maxLogBlocks = number
            }
            nodes[network] = Node(
                network: network, chainID: chain.chainId,
                endpoint: EthereumRPC.Endpoint(
                    url: url, headers: headers, timeoutSeconds: timeout, batchSize: batchSize),
                fromBlock: fromBlock, confirmations: confirmations, maxLogBlocks: maxLogBlocks)
        }
        guard problems.isEmpty else { throw NodeConfigurationError(problems: problems) }
        return NodeConfiguration(nodes: nodes)
    }
}

/// Every problem of a node configuration file, each `file:line:col: message`.
public struct NodeConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [String]

    public var description: String { problems.joined(separator: "\n") }
}
