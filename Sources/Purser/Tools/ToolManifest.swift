import FoundationEssentials
public import JSONCore
public import MCP

/// One paid (or free) upstream HTTP endpoint registered as an MCP tool: `tools/<name>.json`.
///
/// The format is documented in `docs/tool-manifests.md`. Unknown keys are errors: a typo in a money or
/// security field must never be silently ignored.
public struct ToolManifest: Sendable {
    /// How the upstream request is built.
    public struct Upstream: Sendable {
        /// HTTP method.
        public var method: String
        /// The URL template, e.g. `https://api.example.com/v1/papers/{id}`; placeholders only in the path.
        public var urlTemplate: URLTemplate
        /// Query parameter name → argument name.
        public var query: [(parameter: String, argument: String)]
        /// Arguments sent as a JSON object body (methods with a body only); nil sends none.
        public var bodyArguments: [String]?
        /// Static, non-secret headers.
        public var headers: [(name: String, value: String)]
        /// Headers whose values come from secrets, by name (read from the environment at call time).
        public var secretHeaders: [(name: String, secret: String, prefix: String)]
        /// Deadline for the whole upstream exchange, in whole seconds.
        public var timeoutSeconds: Int
        /// Largest response body accepted.
        public var maxResponseBytes: Int
    }

    /// The announced price: a hint shown to the model and to policy, never what is paid (the 402 decides).
    public struct PriceHint: Sendable, Hashable {
        /// Whole-unit decimal string, e.g. `"0.01"`.
        public var amount: String
        /// Asset symbol, e.g. `"USDC"`.
        public var asset: String
        /// The CAIP-2 network the seller offered (`purser tool add` records it), for `purser check`.
        public var network: String? = nil
        /// The payee the seller offered (`purser tool add` records it), for `purser check`.
        public var payTo: String? = nil
    }

    /// MCP tool name.
    public var name: String
    /// Display title.
    public var title: String?
    /// What the tool does.
    public var description: String
    /// JSON Schema of the arguments (root type object).
    public var inputSchema: JSONSchema
    /// JSON Schema of the structured result, when declared.
    public var outputSchema: JSONSchema?
    /// MCP annotations.
    public var annotations: JSONObject?
    /// How to call the upstream.
    public var upstream: Upstream
    /// The price hint, absent for free tools.
    public var price: PriceHint?
    /// Free-form tags, visible to policy (`resource.tags`).
    public var tags: [String]
    /// Tool groups, visible to policy as parents (`ToolGroup::"…"`).
    public var groups: [String]
    /// A compact purpose code recorded in receipts and traces instead of raw arguments.
    public var purpose: String
    /// The file it came from.
    public var file: String

    /// The MCP listing of this tool, with the price announced in the description and `_meta`.
    public var toolDescription: ToolDescription {
        var text = description
        var meta: JSONObject?
        if let price {
            text += " Price: up to \(price.amount) \(price.asset) per call, paid by Purser within the user's budget."
            meta = ["com.purser/price": ["amount": .string(price.amount), "asset": .string(price.asset)]]
        }
        return ToolDescription(
            name: name, title: title, description: text, inputSchema: inputSchema.document,
            outputSchema: outputSchema?.document, annotations: annotations, meta: meta)
    }
}

/// Loads and validates `tools/*.json`.
public enum ToolManifestLoader {
    /// Header names that carry credentials or payments and therefore may not be written inline.
    static let sensitiveHeaderNames: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token",
        "payment-signature", "x-payment", "payment-required", "payment-response", "x-payment-response",
    ]
    /// Header names Purser sets itself.
    static let reservedHeaderNames: Set<String> = ["host", "content-length", "transfer-encoding", "connection"]

    private static let topLevelKeys: Set<String> = [
        "name", "title", "description", "inputSchema", "outputSchema", "annotations", "upstream", "price", "tags",
        "groups", "purpose",
    ]
    private static let upstreamKeys: Set<String> = [
        "method", "url", "query", "body", "headers", "secretHeaders", "timeoutSeconds", "maxResponseBytes",
    ]
    private static let annotationKeys: Set<String> = [
        "title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint",
    ]

    /// Loads every `*.json` in `directory`, sorted by file name.
    ///
    /// - Returns: the valid manifests and every diagnostic. A manifest with any error is left out.
    public static func loadDirectory(_ directory: String) -> (manifests: [ToolManifest], diagnostics: [Diagnostic]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
                .sorted()
        } catch {
            return (
                [],
                [
                    Diagnostic(
                        file: directory, location: SourceLocation(line: 1, column: 1),
                        message: "cannot read the tools directory")
                ]
            )
        }
        var manifests: [ToolManifest] = []
        var diagnostics: [Diagnostic] = []
        var seen: [String: String] = [:]
        for name in names {
            let path = PathText.join(directory, name)
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(
                    Diagnostic(
                        file: path, location: SourceLocation(line: 1, column: 1), message: "cannot read the file"))
                continue
            }
            let (manifest, problems) = load(bytes: Array(data), file: path)
            diagnostics += problems
            guard let manifest else { continue }
            if let other = seen[manifest.name] {
                diagnostics.append(
                    Diagnostic(
                        file: path, location: SourceLocation(line: 1, column: 1),
                        message: "tool name \"\(manifest.name)\" is already used by \(other)"))
                continue
            }
            seen[manifest.name] = path
            manifests.append(manifest)
        }
        return (manifests, diagnostics)
    }

    /// Parses and validates one manifest.
    public static func load(bytes: [UInt8], file: String) -> (ToolManifest?, [Diagnostic]) {
        let document: JSONValue
        let locations: JSONLocations
        do {
            (document, locations) = try JSONParser.parseWithLocations(bytes)
        } catch {
            return (nil, [Diagnostic(file: file, location: error.location, message: error.message)])
        }
        var reader = ManifestReader(file: file, locations: locations)
        let manifest = reader.read(document)
        return (reader.diagnostics.contains { $0.severity == .error } ? nil : manifest, reader.diagnostics)
    }

    private struct ManifestReader {
        let file: String
        let locations: JSONLocations
        var diagnostics: [Diagnostic] = []

        init(file: String, locations: JSONLocations) {
            self.file = file
            self.locations = locations
        }

        mutating func problem(_ pointer: String, _ message: String, severity: Diagnostic.Severity = .error) {
            diagnostics.append(
                Diagnostic(file: file, location: locations.location(of: pointer), severity: severity, message: message))
        }

        mutating func unknownKeys(_ object: JSONObject, allowed: Set<String>, at pointer: String) {
            for key in object.keys where !allowed.contains(key) {
                problem(
                    pointer + "/" + JSONLocations.escape(key),
                    "unknown key \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }

        mutating func string(_ object: JSONObject, _ key: String, at pointer: String, required: Bool) -> String? {
            guard let value = object[key] else {
                if required { problem(pointer, "missing required key \"\(key)\"") }
                return nil
            }
            guard let text = value.stringValue else {
                problem(pointer + "/" + key, "\"\(key)\" must be a string")
                return nil
            }
            return text
        }

        mutating func stringList(_ object: JSONObject, _ key: String) -> [String] {
            guard let value = object[key] else { return [] }
            guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                problem("/" + key, "\"\(key)\" must be an array of strings")
                return []
            }
            return list.compactMap(\.stringValue)
        }

        mutating func schema(_ value: JSONValue, at pointer: String, label: String) -> JSONSchema? {
            guard value["type"]?.stringValue == "object" else {
                problem(pointer, "\(label) must have \"type\": \"object\" at its root")
                return nil
            }
            switch JSONSchema.compile(value) {
            case .success(let schema): return schema
            case .failure(let problems):
                for item in problems.items { problem(pointer + item.pointer, item.message) }
                return nil
            }
        }

        mutating func read(_ document: JSONValue) -> ToolManifest? {
            guard let root = document.objectValue else {
                problem("", "a tool manifest must be a JSON object")
                return nil
            }
            unknownKeys(root, allowed: topLevelKeys, at: "")
            let name = string(root, "name", at: "", required: true)
            if let name, !ToolDescription.isValidName(name) {
                problem("/name", "tool name must be 1-128 characters of A-Z a-z 0-9 _ - .")
            } else if let name, name.hasPrefix("purser_") {
                // Purser's own tools (the spend-plan tools) are named purser_…: a manifest cannot shadow them.
                problem("/name", "tool names starting with \"purser_\" are reserved for Purser's own tools")
            }
            let title = string(root, "title", at: "", required: false)
            let description = string(root, "description", at: "", required: true)
            var inputSchema: JSONSchema?
            if let value = root["inputSchema"] {
                inputSchema = schema(value, at: "/inputSchema", label: "inputSchema")
            } else {
                problem("", "missing required key \"inputSchema\"")
            }
            let outputSchema = root["outputSchema"].flatMap { schema($0, at: "/outputSchema", label: "outputSchema") }
            var annotations: JSONObject?
            if let value = root["annotations"] {
                if let object = value.objectValue {
                    unknownKeys(object, allowed: annotationKeys, at: "/annotations")
                    for (key, flag) in object where key != "title" && flag.boolValue == nil {
                        problem("/annotations/" + key, "\"\(key)\" must be true or false")
                    }
                    annotations = object
                } else {
                    problem("/annotations", "\"annotations\" must be an object")
                }
            }
            let upstream = root["upstream"].flatMap { readUpstream($0, inputSchema: inputSchema) }
            if root["upstream"] == nil { problem("", "missing required key \"upstream\"") }
            let price = root["price"].flatMap { readPrice($0) }
            let tags = stringList(root, "tags")
            let groups = stringList(root, "groups")
            let declaredPurpose = string(root, "purpose", at: "", required: false)
            let purpose = declaredPurpose ?? name ?? ""
            // ASCII bytes, like tool names: `Character.isLetter` also took "a" + any number of combining marks
            // (or an invisible U+200D) as one letter, so 64 "letters" could exceed the ledger's 256-byte limit
            // and fail every paid call at reservation instead of here.
            if declaredPurpose != nil,
                purpose.isEmpty || purpose.utf8.count > 64
                    || !purpose.utf8.allSatisfy({ byte in
                        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                            || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                            || byte == UInt8(ascii: "-")
                    })
            {
                problem(
                    "/purpose",
                    "\"purpose\" is a compact code (ASCII letters, digits, . _ -, at most 64), not free text")
            }
            guard let name, let description, let inputSchema, let upstream else { return nil }
            return ToolManifest(
                name: name, title: title, description: description, inputSchema: inputSchema,
                outputSchema: outputSchema, annotations: annotations, upstream: upstream, price: price, tags: tags,
                groups: groups, purpose: purpose, file: file)
        }

        mutating func readPrice(_ value: JSONValue) -> ToolManifest.PriceHint? {
            guard let object = value.objectValue else {
                problem("/price", "\"price\" must be an object like {\"amount\": \"0.01\", \"asset\": \"USDC\"}")
                return nil
            }
            unknownKeys(object, allowed: ["amount", "asset", "network", "payTo"], at: "/price")
            let amount = string(object, "amount", at: "/price", required: true)
            let asset = string(object, "asset", at: "/price", required: true)
            // Facts recorded from a seller's offer: informative only (the 402 decides what is paid).
            let network = string(object, "network", at: "/price", required: false)
            let payTo = string(object, "payTo", at: "/price", required: false)
            if let amount, !Self.isDecimalString(amount) {
                problem("/price/amount", "\"amount\" must be a decimal string like \"0.01\" (never a JSON number)")
                return nil
            }
            guard let amount, let asset else { return nil }
            return ToolManifest.PriceHint(amount: amount, asset: asset, network: network, payTo: payTo)
        }

        static func isDecimalString(_ text: String) -> Bool {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count),
                parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
            else { return false }
            return true
        }

        mutating func readUpstream(_ value: JSONValue, inputSchema: JSONSchema?) -> ToolManifest.Upstream? {
            guard let object = value.objectValue else {
                problem("/upstream", "\"upstream\" must be an object")
                return nil
            }
            unknownKeys(object, allowed: upstreamKeys, at: "/upstream")
            let method = (string(object, "method", at: "/upstream", required: false) ?? "GET").uppercased()
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) {
                problem("/upstream/method", "\"method\" must be GET, POST, PUT, PATCH or DELETE")
            }
            // By UTF-8 bytes, as arguments are looked up at call time (`JSONObject` keys): a `Set<String>` would
            // take the placeholder {K} for a property named "\u{212A}" (KELVIN SIGN), and the argument the
            // request is built from would then be one the schema never checked.
            let properties = PropertyNames(inputSchema?.document["properties"]?.objectValue?.keys ?? [])
            var template: URLTemplate?
            if let url = string(object, "url", at: "/upstream", required: true) {
                switch URLTemplate.parse(url) {
                case .success(let parsed):
                    template = parsed
                    for placeholder in parsed.placeholders where inputSchema != nil && !properties.contains(placeholder)
                    {
                        problem("/upstream/url", "placeholder {\(placeholder)} is not a property of inputSchema")
                    }
                case .failure(let error):
                    problem("/upstream/url", error.message)
                }
            }
            var query: [(String, String)] = []
            if let raw = object["query"] {
                if let mapping = raw.objectValue {
                    for (parameter, argument) in mapping {
                        guard let argument = argument.stringValue else {
                            problem(
                                "/upstream/query/" + JSONLocations.escape(parameter),
                                "query mapping values name an argument (a string)")
                            continue
                        }
                        if inputSchema != nil && !properties.contains(argument) {
                            problem(
                                "/upstream/query/" + JSONLocations.escape(parameter),
                                "\"\(argument)\" is not a property of inputSchema")
                        }
                        query.append((parameter, argument))
                    }
                } else {
                    problem("/upstream/query", "\"query\" must map query parameter names to argument names")
                }
            }
            var body: [String]?
            if let raw = object["body"] {
                if let list = raw.arrayValue, list.allSatisfy({ $0.stringValue != nil }) {
                    body = list.compactMap(\.stringValue)
                    if method == "GET" || method == "DELETE" {
                        problem("/upstream/body", "a \(method) request carries no body")
                    }
                    for argument in body ?? [] where inputSchema != nil && !properties.contains(argument) {
                        problem("/upstream/body", "\"\(argument)\" is not a property of inputSchema")
                    }
                } else {
                    problem("/upstream/body", "\"body\" must be an array of argument names sent as a JSON object")
                }
            }
            var headers: [(String, String)] = []
            if let raw = object["headers"] {
                if let mapping = raw.objectValue {
                    for (name, value) in mapping {
                        let here = "/upstream/headers/" + JSONLocations.escape(name)
                        guard let text = value.stringValue else {
                            problem(here, "header values must be strings")
                            continue
                        }
                        if ToolManifestLoader.sensitiveHeaderNames.contains(name.lowercased()) {
                            problem(
                                here,
                                "\"\(name)\" carries credentials: reference a secret in \"secretHeaders\" instead of writing it inline"
                            )
                        } else if ToolManifestLoader.reservedHeaderNames.contains(name.lowercased()) {
                            problem(here, "\"\(name)\" is set by Purser itself")
                        } else if !Self.isValidHeader(name: name, value: text) {
                            problem(here, "invalid header name or value")
                        }
                        headers.append((name, text))
                    }
                } else {
                    problem("/upstream/headers", "\"headers\" must be an object of header names to strings")
                }
            }
            var secretHeaders: [(String, String, String)] = []
            if let raw = object["secretHeaders"] {
                if let mapping = raw.objectValue {
                    for (name, reference) in mapping {
                        let here = "/upstream/secretHeaders/" + JSONLocations.escape(name)
                        guard let reference = reference.objectValue, let secret = reference["secret"]?.stringValue
                        else {
                            problem(here, "a secret header is {\"secret\": \"ENV_VAR_NAME\", \"prefix\": \"Bearer \"}")
                            continue
                        }
                        unknownKeys(reference, allowed: ["secret", "prefix"], at: here)
                        if secret.isEmpty
                            || !secret.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
                        {
                            problem(here + "/secret", "\"secret\" names an environment variable (A-Z, 0-9, _)")
                        }
                        let prefix = reference["prefix"]?.stringValue ?? ""
                        if ToolManifestLoader.reservedHeaderNames.contains(name.lowercased()) {
                            problem(here, "\"\(name)\" is set by Purser itself")
                        } else if !Self.isValidHeader(name: name, value: prefix) {
                            // Checked here as for "headers": otherwise the HTTP client refuses it on every call.
                            problem(here, "invalid header name or prefix")
                        }
                        secretHeaders.append((name, secret, prefix))
                    }
                } else {
                    problem("/upstream/secretHeaders", "\"secretHeaders\" must be an object")
                }
            }
            let timeout = object["timeoutSeconds"]?.int64Value ?? 15
            if object["timeoutSeconds"] != nil,
                object["timeoutSeconds"]?.int64Value == nil || !(1...300).contains(timeout)
            {
                problem("/upstream/timeoutSeconds", "\"timeoutSeconds\" must be a whole number from 1 to 300")
            }
            let maxBytes = object["maxResponseBytes"]?.int64Value ?? 1_048_576
            if object["maxResponseBytes"] != nil,
                object["maxResponseBytes"]?.int64Value == nil || !(1...67_108_864).contains(maxBytes)
            {
                problem("/upstream/maxResponseBytes", "\"maxResponseBytes\" must be a whole number from 1 to 67108864")
            }
            guard let template else { return nil }
            return ToolManifest.Upstream(
                method: method, urlTemplate: template, query: query.map { (parameter: $0.0, argument: $0.1) },
                bodyArguments: body, headers: headers.map { (name: $0.0, value: $0.1) },
                secretHeaders: secretHeaders.map { (name: $0.0, secret: $0.1, prefix: $0.2) },
                timeoutSeconds: Int(timeout), maxResponseBytes: Int(maxBytes))
        }

        /// Property names compared byte for byte.
        struct PropertyNames {
            private let names: Set<[UInt8]>

            init(_ names: [String]) { self.names = Set(names.map { Array($0.utf8) }) }

            func contains(_ name: String) -> Bool { names.contains(Array(name.utf8)) }
        }

        static func isValidHeader(name: String, value: String) -> Bool {
            // A token is ASCII bytes (RFC 9110 §5.6.2), checked as the wire carries them: a `Set<Character>`
            // compares by canonical equivalence, under which U+212A KELVIN SIGN is "K" and U+1FEF is "`".
            let tokenBytes = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
            return !name.isEmpty && name.utf8.allSatisfy(tokenBytes.contains)
                && value.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
        }
    }
}
