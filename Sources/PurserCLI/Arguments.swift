import FoundationEssentials
import Purser

/// A command-line usage error: printed to stderr with the command's usage, exit status 64.
struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// The arguments of one subcommand: `--name value`, `--name=value`, `--flag` and positionals.
///
/// Each accessor consumes what it reads, so `finish()` can refuse anything left over: a typo in an
/// option name is an error, never silently ignored.
struct Arguments {
    private var options: [(name: String, value: String?)] = []
    private(set) var positionals: [String] = []

    init(_ raw: [String]) {
        var index = 0
        var onlyPositionals = false
        while index < raw.count {
            let word = raw[index]
            index += 1
            if onlyPositionals || !word.hasPrefix("--") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            let body = word.dropFirst(2)
            if let equals = body.firstIndex(of: "=") {
                options.append((String(body[..<equals]), String(body[body.index(after: equals)...])))
            } else if index < raw.count, !raw[index].hasPrefix("--") {
                options.append((String(body), raw[index]))
                index += 1
            } else {
                options.append((String(body), nil))
            }
        }
    }

    /// The value of `--name`, if given; an error when it is given twice or without a value.
    mutating func option(_ name: String) throws -> String? {
        let matches = options.filter { $0.name == name }
        guard !matches.isEmpty else { return nil }
        guard matches.count == 1 else { throw UsageError(description: "--\(name) is given more than once") }
        options.removeAll { $0.name == name }
        guard let value = matches[0].value else { throw UsageError(description: "--\(name) needs a value") }
        return value
    }

    /// True when `--name` is present as a flag. A flag swallows no value: `--batch x` is refused.
    mutating func flag(_ name: String) throws -> Bool {
        let matches = options.filter { $0.name == name }
        guard !matches.isEmpty else { return false }
        options.removeAll { $0.name == name }
        if let value = matches[0].value {
            // The parser could not know this was a flag; give the word back as a positional.
            positionals.append(value)
        }
        return true
    }

    /// Takes the next positional argument.
    mutating func positional(_ what: String) throws -> String {
        guard !positionals.isEmpty else { throw UsageError(description: "missing \(what)") }
        return positionals.removeFirst()
    }

    /// Refuses anything not consumed.
    func finish() throws {
        if let unknown = options.first { throw UsageError(description: "unknown option --\(unknown.name)") }
        if let extra = positionals.first { throw UsageError(description: "unexpected argument '\(extra)'") }
    }
}

/// Writes a line to stderr; stdout stays free for results (and for the protocol in `serve`).
func printError(_ text: String) {
    // One message, one line: control characters that came from files or arguments are escaped.
    StandardStream.error.write(Diagnostic.escaped(text) + "\n")
}

/// Writes a line to stdout.
func printOut(_ text: String) {
    StandardStream.output.write(text + "\n")
}
