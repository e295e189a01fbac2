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

    /// One line, always: control characters from the file name or the message (which may quote the
    /// file's content) are escaped, so a file cannot make one problem print as several lines or forge a
    /// `file:line:col` line of its own.
    public var description: String {
        "\(Self.escaped(file)):\(location.line):\(location.column): \(severity.rawValue): \(Self.escaped(message))"
    }

    /// `text` with C0/C1 controls, DEL and the Unicode line and paragraph separators escaped.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where needsEscape(scalar): result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
