public import JSONCore
public import MCP

/// The wire forms of the MCP values that cross the socket, decoded as strictly as any untrusted input.
public enum VaultWire {
    /// A decoding failure: what is wrong, for the protocol error.
    public struct Malformed: Error, Sendable {
        /// What is wrong.
        public var message: String
        init(_ message: String) { self.message = message }
    }

    // MARK: Client and era

    /// `{"info": {...}?, "capabilities": {...}}`.
    public static func encode(_ client: ClientDescription) -> JSONValue {
        var object: JSONObject = ["capabilities": .object(client.capabilities)]
        if let info = client.info { object["info"] = .object(info) }
        return .object(object)
    }

    /// Decodes a client description.
    public static func client(_ value: JSONValue?) throws(Malformed) -> ClientDescription {
        guard let object = value?.objectValue, let capabilities = object["capabilities"]?.objectValue else {
            throw Malformed("\"client\" must be an object with \"capabilities\"")
        }
        var info: JSONObject?
        if let raw = object["info"] {
            guard let value = raw.objectValue else { throw Malformed("\"client.info\" must be an object") }
            info = value
        }
        return ClientDescription(info: info, capabilities: capabilities)
    }

    /// `{"kind": "legacy"|"stateless", "version": "..."}`.
    public static func encode(_ era: ProtocolEra) -> JSONValue {
        switch era {
        case .legacy(let version): return ["kind": "legacy", "version": .string(version)]
        case .stateless(let version): return ["kind": "stateless", "version": .string(version)]
        }
    }

    /// A call's `logLevel`: absent (a front that does not send it) means every level, `null` none, a string
    /// one of the MCP levels.
    public static func logLevel(_ value: JSONValue?) throws(Malformed) -> LogLevel? {
        guard let value else { return .debug }
        if value.isNull { return nil }
        guard let text = value.stringValue, let level = LogLevel(rawValue: text) else {
            throw Malformed("\"logLevel\" must be null or an MCP log level")
        }
        return level
    }

    /// Decodes an era.
    public static func era(_ value: JSONValue?) throws(Malformed) -> ProtocolEra {
        guard let object = value?.objectValue, let version = object["version"]?.stringValue,
            (1...32).contains(version.utf8.count)
        else { throw Malformed("\"era\" must be an object with a short \"version\"") }
        switch object["kind"]?.stringValue {
        case "legacy": return .legacy(version: version)
        case "stateless": return .stateless(version: version)
        default: throw Malformed("\"era.kind\" must be \"legacy\" or \"stateless\"")
        }
    }

    // MARK: Tools

    /// Decodes a tool description as `tools/list` shows it.
    public static func tool(_ value: JSONValue) throws(Malformed) -> ToolDescription {
        guard let object = value.objectValue, let name = object["name"]?.stringValue,
            ToolDescription.isValidName(name), let schema = object["inputSchema"], schema.objectValue != nil
        else { throw Malformed("a tool must have a valid \"name\" and an object \"inputSchema\"") }
        func optionalString(_ key: String) throws(Malformed) -> String? {
            guard let raw = object[key] else { return nil }
            guard let text = raw.stringValue else { throw Malformed("tool \"\(key)\" must be a string") }
            return text
        }
        func optionalObject(_ key: String) throws(Malformed) -> JSONObject? {
            guard let raw = object[key] else { return nil }
            guard let value = raw.objectValue else { throw Malformed("tool \"\(key)\" must be an object") }
            return value
        }
        var outputSchema: JSONValue?
        if let raw = object["outputSchema"] {
            guard raw.objectValue != nil else { throw Malformed("tool \"outputSchema\" must be an object") }
            outputSchema = raw
        }
        return ToolDescription(
            name: name, title: try optionalString("title"), description: try optionalString("description"),
            inputSchema: schema, outputSchema: outputSchema, annotations: try optionalObject("annotations"),
            meta: try optionalObject("_meta"))
    }

    /// Decodes a tool result (the form `ToolResult.json` writes).
    public static func result(_ value: JSONValue?) throws(Malformed) -> ToolResult {
        guard let object = value?.objectValue, let content = object["content"]?.arrayValue else {
            throw Malformed("a result must have a \"content\" array")
        }
        var isError = false
        if let raw = object["isError"] {
            guard let flag = raw.boolValue else { throw Malformed("\"isError\" must be a boolean") }
            isError = flag
        }
        var meta: JSONObject?
        if let raw = object["_meta"] {
            guard let value = raw.objectValue else { throw Malformed("result \"_meta\" must be an object") }
            meta = value
        }
        return ToolResult(
            content: content, structuredContent: object["structuredContent"], isError: isError, meta: meta)
    }

    // MARK: Errors

    /// `{"code": n, "message": "...", "data": ...?}`.
    public static func encode(_ error: MCPError) -> JSONValue {
        var object: JSONObject = ["code": .number(JSONNumber(error.code)), "message": .string(error.message)]
        if let data = error.data { object["data"] = data }
        return .object(object)
    }

    /// Decodes an MCP error.
    public static func mcpError(_ value: JSONValue?) throws(Malformed) -> MCPError {
        guard let object = value?.objectValue, let code = object["code"]?.int64Value,
            let message = object["message"]?.stringValue
        else { throw Malformed("an error must have an integer \"code\" and a \"message\"") }
        return MCPError(code: Int(clamping: code), message: message, data: object["data"])
    }
}
