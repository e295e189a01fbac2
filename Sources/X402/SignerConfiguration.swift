public import FoundationEssentials
public import JSONCore

/// How Purser reaches its wallet, stored as `signer.json` in the state home; the CLI writes it, the
/// product reads it, both through this type.
///
/// ```json
/// {"kind": "keyfile", "keyFile": "wallet.key"}
/// {"kind": "command", "command": ["/usr/local/bin/sign", "--account", "a"], "address": "0x…", "timeoutSeconds": 30}
/// {"kind": "remote", "url": "http://127.0.0.1:8550", "address": "0x…"}
/// ```
/// A relative `keyFile` is resolved against the home. Unknown fields are refused.
public enum SignerConfiguration: Sendable, Hashable {
    /// A key file (path as written).
    case keyFile(path: String)
    /// An external command and the address it signs for.
    case command([String], address: EVMAddressText, timeoutSeconds: Int)
    /// A JSON-RPC endpoint and the account to use.
    case remote(URL, address: EVMAddressText)

    /// The configuration file name inside the home.
    public static let fileName = "signer.json"
    /// The default key file name inside the home.
    public static let defaultKeyFile = "wallet.key"

    /// Loads `signer.json` from `home`; without one, the default key file `wallet.key` in the home.
    ///
    /// - Throws: `X402Error` with code `configuration` when the home can be written by group or others or
    ///   belongs to another user, or `signer.json` is not an owner-only regular file of the current user
    ///   (see `OwnerOnlyFile`), or does not parse.
    public static func load(home: URL) throws(X402Error) -> SignerConfiguration {
        try OwnerOnlyFile.checkHome(home.path)
        let path = home.appendingPathComponent(fileName).path
        guard let bytes = try OwnerOnlyFile.read(path, what: "the signer configuration") else {
            return .keyFile(path: defaultKeyFile)
        }
        return try parse(bytes, source: path)
    }

    /// Parses the JSON form.
    public static func parse(_ bytes: [UInt8], source: String = fileName) throws(X402Error) -> SignerConfiguration {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw X402Error(.configuration, "\(source): \(error)")
        }
        guard case .object(let object) = value, case .string(let kind)? = object["kind"] else {
            throw X402Error(.configuration, "\(source): expected an object with a string \"kind\"")
        }
        func allow(_ keys: Set<String>) throws(X402Error) {
            for key in object.keys where !keys.contains(key) {
                throw X402Error(.configuration, "\(source): unknown field \"\(key)\" for kind \(kind)")
            }
        }
        func address() throws(X402Error) -> EVMAddressText {
            guard case .string(let text)? = object["address"], let address = EVMAddressText(text),
                EIP3009Crypto.hasValidChecksum(address)
            else {
                throw X402Error(
                    .configuration, "\(source): \"address\" must be 0x + 40 hex digits (EIP-55 if mixed case)")
            }
            return address
        }
        switch kind {
        case "keyfile":
            try allow(["kind", "keyFile"])
            guard case .string(let path)? = object["keyFile"], !path.isEmpty else {
                throw X402Error(.configuration, "\(source): \"keyFile\" must be a non-empty string")
            }
            return .keyFile(path: path)
        case "command":
            try allow(["kind", "command", "address", "timeoutSeconds"])
            guard case .array(let items)? = object["command"], !items.isEmpty else {
                throw X402Error(.configuration, "\(source): \"command\" must be a non-empty array of strings")
            }
            var command: [String] = []
            for item in items {
                guard case .string(let word) = item else {
                    throw X402Error(.configuration, "\(source): \"command\" must be a non-empty array of strings")
                }
                command.append(word)
            }
            var timeout = 30
            if let value = object["timeoutSeconds"] {
                guard let seconds = value.int64Value, seconds >= 1, seconds <= 600 else {
                    throw X402Error(.configuration, "\(source): \"timeoutSeconds\" must be an integer in 1...600")
                }
                timeout = Int(seconds)
            }
            return .command(command, address: try address(), timeoutSeconds: timeout)
        case "remote":
            try allow(["kind", "url", "address"])
            guard case .string(let text)? = object["url"], let url = URL(string: text),
                let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil
            else {
                throw X402Error(.configuration, "\(source): \"url\" must be an http or https URL")
            }
            return .remote(url, address: try address())
        default:
            throw X402Error(.configuration, "\(source): unknown kind \"\(kind)\" (keyfile, command, remote)")
        }
    }

    /// The JSON form, as written to `signer.json`.
    public var json: JSONValue {
        switch self {
        case .keyFile(let path):
            return ["kind": "keyfile", "keyFile": .string(path)]
        case .command(let command, let address, let timeout):
            return [
                "kind": "command", "command": .array(command.map { .string($0) }), "address": .string(address.text),
                "timeoutSeconds": .number(JSONNumber(timeout)),
            ]
        case .remote(let url, let address):
            return ["kind": "remote", "url": .string(url.absoluteString), "address": .string(address.text)]
        }
    }

    /// The file content: compact JSON and a newline.
    public var fileContent: [UInt8] { json.serializedBytes() + [0x0A] }

    /// The key file's absolute path, for `.keyFile`.
    public func keyFilePath(home: URL) -> String? {
        guard case .keyFile(let path) = self else { return nil }
        return path.hasPrefix("/") ? path : home.appendingPathComponent(path).path
    }

    /// Builds the signer.
    ///
    /// - Parameters:
    ///   - home: resolves a relative key file.
    ///   - transport: used by the remote signer.
    public func makeSigner(home: URL, transport: any HTTPTransport) throws(X402Error) -> any Signer {
        switch self {
        case .keyFile:
            return try KeyFileSigner(path: keyFilePath(home: home) ?? "")
        case .command(let command, let address, let timeout):
            return CommandSigner(command: command, address: address, timeout: .seconds(timeout))
        case .remote(let url, let address):
            return RemoteSigner(url: url, address: address, transport: transport)
        }
    }
}
