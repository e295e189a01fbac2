public import JSONCore

/// The x402 protocol generations this client speaks.
public enum X402Version: Int, Sendable, Hashable, CustomStringConvertible {
    /// v1: requirements in the 402 JSON body, payment in `X-PAYMENT`, settlement in `X-PAYMENT-RESPONSE`.
    case v1 = 1
    /// v2: requirements in `PAYMENT-REQUIRED`, payment in `PAYMENT-SIGNATURE`, settlement in `PAYMENT-RESPONSE`.
    case v2 = 2

    public var description: String { "v\(rawValue)" }

    /// The header that carries the client's payment.
    public var paymentHeader: String { self == .v2 ? "PAYMENT-SIGNATURE" : "X-PAYMENT" }

    /// The header that carries the server's settlement result.
    public var settlementHeader: String { self == .v2 ? "PAYMENT-RESPONSE" : "X-PAYMENT-RESPONSE" }
}

/// Header names and size limits of the HTTP binding.
public enum X402Headers {
    /// v2 payment requirements on a 402.
    public static let paymentRequired = "PAYMENT-REQUIRED"
    /// Largest encoded header value accepted (requirements, settlement); larger ones are refused unread.
    public static let maximumHeaderBytes = 64 * 1024
    /// Largest v1 402 body parsed for requirements.
    public static let maximumBodyBytes = 256 * 1024
}

/// A decoded payment-required message (v2 `PaymentRequired` or v1 `PaymentRequirementsResponse`).
///
/// The offers in `accepts` are kept as the exact JSON objects received (key order and number lexemes
/// included), because the chosen one is echoed verbatim in the payment. They are validated one by one
/// by `PaymentSelector`, so one bad offer never hides a good one.
public struct PaymentRequired: Sendable {
    /// The protocol version it came in.
    public let version: X402Version
    /// The server's `error` text, if any (on a first 402 usually "Payment required").
    public let error: String?
    /// v2 top-level `resource` object, echoed in the payment when present.
    public let resource: JSONObject?
    /// v2 `extensions`, echoed in the payment when present (the client must keep what it received).
    public let extensions: JSONObject?
    /// The offers, as received.
    public let accepts: [JSONObject]

    /// Decodes the payment requirements of a 402 response.
    ///
    /// A `PAYMENT-REQUIRED` header makes it v2 (the body is ignored); otherwise a JSON body with
    /// `"x402Version": 1` makes it v1. Anything else is refused.
    ///
    /// - Throws: `X402Error` (`notX402`, `invalidBase64`, `invalidJSON`, `tooLarge`, `invalidMessage`,
    ///   `unsupportedVersion`).
    public static func decode(from response: HTTPResponse) throws(X402Error) -> PaymentRequired {
        let headerValues = response.headers.values(for: X402Headers.paymentRequired)
        if !headerValues.isEmpty {
            guard headerValues.count == 1 else {
                throw X402Error(.invalidMessage, "\(headerValues.count) PAYMENT-REQUIRED headers; expected one")
            }
            let object = try decodeHeaderObject(headerValues[0], name: X402Headers.paymentRequired)
            return try parse(object, expected: .v2)
        }
        guard !response.body.isEmpty else {
            throw X402Error(.notX402, "the 402 has no PAYMENT-REQUIRED header and no body")
        }
        guard response.body.count <= X402Headers.maximumBodyBytes else {
            throw X402Error(
                .tooLarge,
                "the 402 body has \(response.body.count) bytes; at most "
                    + "\(X402Headers.maximumBodyBytes) are read")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(response.body)
        } catch {
            throw X402Error(.notX402, "the 402 has no PAYMENT-REQUIRED header and its body is not JSON (\(error))")
        }
        guard let object = value.objectValue, object["x402Version"] != nil else {
            throw X402Error(.notX402, "the 402 has no PAYMENT-REQUIRED header and its body has no x402Version")
        }
        return try parse(object, expected: .v1)
    }

    /// Parses a decoded payment-required object of the given version.
    public static func parse(_ object: JSONObject, expected: X402Version) throws(X402Error) -> PaymentRequired {
        let version = try X402Messages.version(of: object)
        guard version == expected else {
            throw X402Error(.unsupportedVersion, "x402Version \(version.rawValue) where \(expected) was expected")
        }
        let error: String?
        switch object["error"] {
        case nil, .null?: error = nil
        case .string(let text)?: error = text
        default: throw X402Error(.invalidMessage, "error is not a string")
        }
        guard let acceptsValue = object["accepts"] else {
            throw X402Error(.invalidMessage, "accepts is missing")
        }
        guard case .array(let entries) = acceptsValue else {
            throw X402Error(.invalidMessage, "accepts is not an array")
        }
        var accepts: [JSONObject] = []
        for (index, entry) in entries.enumerated() {
            guard case .object(let offer) = entry else {
                throw X402Error(.invalidMessage, "accepts[\(index)] is not an object")
            }
            accepts.append(offer)
        }
        var resource: JSONObject?
        var extensions: JSONObject?
        if version == .v2 {
            switch object["resource"] {
            case nil, .null?: resource = nil
            case .object(let value)?: resource = value
            default: throw X402Error(.invalidMessage, "resource is not an object")
            }
            switch object["extensions"] {
            case nil, .null?: extensions = nil
            case .object(let value)?: extensions = value
            default: throw X402Error(.invalidMessage, "extensions is not an object")
            }
        }
        return PaymentRequired(
            version: version, error: error, resource: resource, extensions: extensions, accepts: accepts)
    }

    static func decodeHeaderObject(_ value: String, name: String) throws(X402Error) -> JSONObject {
        guard value.utf8.count <= X402Headers.maximumHeaderBytes else {
            throw X402Error(
                .tooLarge, "\(name) has \(value.utf8.count) bytes; at most \(X402Headers.maximumHeaderBytes)")
        }
        let bytes: [UInt8]
        do {
            bytes = try Base64.decode(value)
        } catch {
            throw X402Error(.invalidBase64, "\(name): \(error.message)")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw X402Error(.invalidJSON, "\(name): \(error)")
        }
        guard case .object(let object) = json else {
            throw X402Error(.invalidMessage, "\(name) is not a JSON object")
        }
        return object
    }
}

/// The server's settlement result (`PAYMENT-RESPONSE` in v2, `X-PAYMENT-RESPONSE` in v1).
public struct Settlement: Sendable, Hashable {
    /// True when the server reports the transfer as settled.
    public let success: Bool
    /// The transaction hash (empty on failure).
    public let transaction: String
    /// The network, as the server names it.
    public let network: String
    /// The payer address, if reported.
    public let payer: String?
    /// The machine-readable failure reason, if any.
    public let errorReason: String?
    /// The human failure message, if any.
    public let errorMessage: String?
    /// The settled amount (v2 `amount`), if reported.
    public let amount: String?
    /// The decoded object, as received.
    public let raw: JSONObject

    /// Decodes the settlement header of `response` for `version`; nil when the header is absent.
    ///
    /// - Throws: `X402Error` when the header is present but malformed, duplicated or oversized.
    public static func decode(from response: HTTPResponse, version: X402Version) throws(X402Error) -> Settlement? {
        let values = response.headers.values(for: version.settlementHeader)
        guard !values.isEmpty else { return nil }
        guard values.count == 1 else {
            throw X402Error(.invalidMessage, "\(values.count) \(version.settlementHeader) headers; expected one")
        }
        let object = try PaymentRequired.decodeHeaderObject(values[0], name: version.settlementHeader)
        return try parse(object)
    }

    /// Parses a decoded settlement object.
    public static func parse(_ object: JSONObject) throws(X402Error) -> Settlement {
        guard case .bool(let success)? = object["success"] else {
            throw X402Error(.invalidMessage, "settlement success is missing or not a Boolean")
        }
        func optionalString(_ key: String) throws(X402Error) -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw X402Error(.invalidMessage, "settlement \(key) is not a string")
            }
        }
        let transaction = try optionalString("transaction") ?? ""
        let network = try optionalString("network") ?? ""
        return Settlement(
            success: success, transaction: transaction, network: network, payer: try optionalString("payer"),
            errorReason: try optionalString("errorReason"), errorMessage: try optionalString("errorMessage"),
            amount: try optionalString("amount"), raw: object)
    }
}

enum X402Messages {
    static func version(of object: JSONObject) throws(X402Error) -> X402Version {
        guard let value = object["x402Version"] else {
            throw X402Error(.unsupportedVersion, "x402Version is missing")
        }
        guard case .number(let number) = value, number.isIntegerLexeme, let integer = number.int64 else {
            throw X402Error(.unsupportedVersion, "x402Version is not an integer")
        }
        guard let version = X402Version(rawValue: Int(integer)) else {
            throw X402Error(.unsupportedVersion, "x402Version \(integer) is not supported (1 and 2 are)")
        }
        return version
    }
}
