/// A vault or vault-connection failure: a stable `code`, a human `message`, an optional cause.
public struct VaultError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable {
        /// The socket could not be created, bound, or connected to.
        case socket
        /// A frame broke the protocol (size, JSON, shape, version).
        case protocolViolation = "protocol"
        /// The caller's OS user may not act as the requested agent (or as any agent).
        case forbidden
        /// The vault's home or one of its files is unsafe or invalid (permissions, owner, content).
        case home
        /// The connection closed.
        case closed
    }

    /// What went wrong, for programs.
    public var code: Code
    /// What went wrong, for people.
    public var message: String
    /// The underlying error's description, if any (never secret).
    public var cause: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "\(code.rawValue): \(message)" + (cause.map { " (\($0))" } ?? "")
    }
}
