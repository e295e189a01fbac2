public import JSONCore

/// One problem found in a configuration file, printed as `file:line:col: severity: message`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How bad it is.
    public enum Severity: String, Sendable, Hashable {
        /// Refuses the file: it is not loaded, and `purser check` exits non-zero.
        case error
        /// Worth fixing; does not stop loading.
        case warning
    }

    /// The file, as given to the loader.
    public var file: String
    /// Where in the file.
    public var location: SourceLocation
    /// Error or warning.
    public var severity: Severity
    /// What is wrong and, where possible, what to do.
    public var message: String

    /// Creates a diagnostic.
    public init(file: String, location: SourceLocation, severity: Severity = .error, message: String) {
        self.file = file
        self.location = location
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(file):\(location.line):\(location.column): \(severity.rawValue): \(message)" }
}
