public import JSONCore

/// A JSON-RPC request id: a string or an integer, never null (MCP forbids null ids).
public enum RequestID: Sendable, Hashable, CustomStringConvertible {
    case number(Int64)
    case string(String)

    /// The id as it appears on the wire.
    public var json: JSONValue {
        switch self {
        case .number(let value): return .number(JSONNumber(value))
        case .string(let value): return .string(value)
        }
    }

    /// Reads an id; nil for anything that is not a string or an integer.
    public init?(json: JSONValue) {
        switch json {
        case .string(let value): self = .string(value)
        case .number(let number):
            guard let value = number.int64 else { return nil }
            self = .number(value)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .number(let value): return String(value)
        case .string(let value): return "\"\(value)\""
        }
    }
}

/// A protocol-level error, sent as a JSON-RPC error object.
///
/// Tool failures are not `MCPError`s: they are `isError` results a model can read and act on.
public struct MCPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The JSON-RPC error code.
    public var code: Int
    /// A short human message.
    public var message: String
    /// Optional structured detail.
    public var data: JSONValue?

    /// Creates an error.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// -32700: the line is not JSON.
    public static func parseError(_ detail: String) -> MCPError {
        MCPError(code: -32700, message: "Parse error: \(detail)")
    }

    /// -32600: JSON, but not a valid JSON-RPC 2.0 message.
    public static func invalidRequest(_ detail: String) -> MCPError {
        MCPError(code: -32600, message: "Invalid request: \(detail)")
    }

    /// -32601: no such method.
    public static func methodNotFound(_ method: String) -> MCPError {
        MCPError(code: -32601, message: "Method not found: \(method)")
    }

    /// -32602: the method exists but its parameters are wrong.
    public static func invalidParams(_ detail: String, data: JSONValue? = nil) -> MCPError {
        MCPError(code: -32602, message: "Invalid params: \(detail)", data: data)
    }

    /// A line longer than the server accepts; it was dropped without being read whole.
    public static func messageTooLong(limit: Int) -> MCPError {
        MCPError(
            code: -32600, message: "Invalid request: message longer than \(limit) bytes; it was not read",
            data: ["reason": "message_too_long", "limit": .number(JSONNumber(limit))])
    }

    /// A request whose id is still in use by a running request. Answered with a null id so it cannot be
    /// mistaken for the running request's answer; `data.duplicateId` names the id.
    public static func duplicateRequestID(_ id: RequestID) -> MCPError {
        MCPError(
            code: -32600,
            message:
                "Invalid request: this id (data.duplicateId) is already used by a request that is still running; this duplicate was not processed, and the running request will get its own answer",
            data: ["reason": "duplicate_request_id", "duplicateId": id.json])
    }

    /// Too many requests are running on this connection; nothing was done for this one.
    public static func serverBusy(limit: Int) -> MCPError {
        MCPError(
            code: -32000,
            message:
                "Server busy: \(limit) requests are running on this connection and none finished in time; this request was not processed, retry after one finishes",
            data: ["reason": "too_many_requests", "limit": .number(JSONNumber(limit))])
    }

    /// -32603: the server failed.
    public static func internalError(_ detail: String) -> MCPError {
        MCPError(code: -32603, message: "Internal error: \(detail)")
    }

    /// -32021 (2026-07-28): the request needs a client capability it did not declare.
    public static func missingCapability(_ capabilities: JSONValue) -> MCPError {
        MCPError(
            code: -32021, message: "Missing required client capability",
            data: ["requiredCapabilities": capabilities])
    }

    /// -32022 (2026-07-28): the per-request protocol version is not one this server speaks.
    public static func unsupportedProtocolVersion(requested: String, supported: [String]) -> MCPError {
        MCPError(
            code: -32022, message: "Unsupported protocol version: \(requested)",
            data: ["supported": .array(supported.map { .string($0) }), "requested": .string(requested)])
    }

    /// The error object as it goes on the wire.
    public var json: JSONValue {
        var object: JSONObject = ["code": .number(JSONNumber(code)), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }

    public var description: String { "\(code) \(message)" }
}

/// One decoded line from the client.
enum IncomingMessage: Sendable {
    case request(id: RequestID, method: String, params: JSONObject)
    case notification(method: String, params: JSONObject)
    case response(id: RequestID, result: Result<JSONValue, MCPError>)
}

/// A line that could not be decoded: the error to answer with, and the id when it could be read.
struct DecodingFailure: Error {
    var error: MCPError
    var id: RequestID?
}

enum MessageDecoding {
    /// Decodes one line. A failure carries the error to answer with and the id, when it could be read.
    static func decode(_ line: [UInt8]) -> Result<IncomingMessage, DecodingFailure> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return .failure(DecodingFailure(error: .parseError("\(error)"), id: nil))
        }
        guard case .object(let object) = value else {
            if case .array = value {
                return .failure(
                    DecodingFailure(
                        error: .invalidRequest("batches are not supported (removed in 2025-06-18)"), id: nil))
            }
            return .failure(DecodingFailure(error: .invalidRequest("a message must be a JSON object"), id: nil))
        }
        let rawID = object["id"]
        let id = rawID.flatMap(RequestID.init(json:))
        guard object["jsonrpc"]?.stringValue == "2.0" else {
            return .failure(DecodingFailure(error: .invalidRequest("\"jsonrpc\" must be \"2.0\""), id: id))
        }
        if let rawID, id == nil {
            return .failure(
                DecodingFailure(
                    error: .invalidRequest("\"id\" must be a string or an integer, not \(rawID.schemaTypeName)"),
                    id: nil))
        }
        if let methodValue = object["method"] {
            guard let method = methodValue.stringValue else {
                return .failure(DecodingFailure(error: .invalidRequest("\"method\" must be a string"), id: id))
            }
            var params = JSONObject()
            if let rawParams = object["params"] {
                guard case .object(let paramsObject) = rawParams else {
                    return .failure(DecodingFailure(error: .invalidParams("\"params\" must be an object"), id: id))
                }
                params = paramsObject
            }
            if let id { return .success(.request(id: id, method: method, params: params)) }
            return .success(.notification(method: method, params: params))
        }
        if let id, let result = object["result"] {
            return .success(.response(id: id, result: .success(result)))
        }
        if let id, let error = object["error"]?.objectValue {
            let code = error["code"]?.int64Value.map { Int($0) } ?? -32603
            let message = error["message"]?.stringValue ?? "error"
            return .success(
                .response(id: id, result: .failure(MCPError(code: code, message: message, data: error["data"]))))
        }
        return .failure(
            DecodingFailure(
                error: .invalidRequest("a message needs a \"method\", or a \"result\" or \"error\" with an \"id\""),
                id: id))
    }
}

enum MessageEncoding {
    static func response(id: RequestID, result: JSONValue) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": id.json, "result": result]).serializedBytes()
    }

    static func error(id: RequestID?, error: MCPError) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": id?.json ?? .null, "error": error.json]).serializedBytes()
    }

    static func notification(method: String, params: JSONObject) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "method": .string(method), "params": .object(params)]).serializedBytes()
    }

    static func request(id: RequestID, method: String, params: JSONObject) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": id.json, "method": .string(method), "params": .object(params)])
            .serializedBytes()
    }
}
