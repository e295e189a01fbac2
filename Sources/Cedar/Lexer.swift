/// A 1-based line and column in a policy text (columns count Unicode scalars).
///
/// Stored in 8 bytes (two 32-bit halves, clamped): every expression node carries one, so the parsed policies
/// the authorizer walks stay small.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    private var storedLine: UInt32
    private var storedColumn: UInt32

    /// 1-based line.
    public var line: Int {
        get { Int(storedLine) }
        set { storedLine = UInt32(clamping: newValue) }
    }

    /// 1-based column, in Unicode scalars.
    public var column: Int {
        get { Int(storedColumn) }
        set { storedColumn = UInt32(clamping: newValue) }
    }

    /// Creates a position.
    public init(line: Int, column: Int) {
        storedLine = UInt32(clamping: line)
        storedColumn = UInt32(clamping: column)
    }

    public var description: String { "\(line):\(column)" }
}

/// A policy text that Cedar rejects, with where and why.
public struct CedarParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem was found.
    public var position: SourcePosition
    /// What is wrong, in words (close to Cedar's own messages).
    public var message: String

    /// Creates an error.
    public init(position: SourcePosition, message: String) {
        self.position = position
        self.message = message
    }

    public var description: String { "\(position): \(message)" }
}

enum TokenKind: Equatable {
    case identifier(String)
    case integer(String)
    /// A string literal's raw body, escapes not yet processed (patterns unescape differently).
    case string(String)
    case slot(String)
    case punct(String)
    case end
}

struct Token {
    var kind: TokenKind
    var position: SourcePosition

    var display: String {
        switch kind {
        case .identifier(let text): return "`\(text)`"
        case .integer(let text): return "`\(text)`"
        case .string(let text): return "`\"\(text)\"`"
        case .slot(let text): return "`?\(text)`"
        case .punct(let text): return "`\(text)`"
        case .end: return "end of input"
        }
    }
}

/// Splits policy text into tokens; `//` comments and Unicode white space are skipped.
struct Lexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func tokenize(_ text: String) throws(CedarParseError) -> [Token] {
        var lexer = Lexer(text)
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
    }

    private static func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
        isIdentifierStart(scalar) || (scalar >= "0" && scalar <= "9")
    }

    private mutating func next() throws(CedarParseError) -> Token {
        // Skip white space and comments.
        while let scalar = peek() {
            if scalar.properties.isWhitespace {
                advance()
            } else if scalar == "/", peek(1) == "/" {
                // Cedar's comment is `//[^\n\r]*`: a lone carriage return ends it too, so what follows one is
                // policy text (an editor shows it on a line of its own), never a hidden part of the comment.
                while let inner = peek(), inner != "\n", inner != "\r" { advance() }
            } else {
                break
            }
        }
        let position = SourcePosition(line: line, column: column)
        guard let scalar = peek() else { return Token(kind: .end, position: position) }
        if Lexer.isIdentifierStart(scalar) {
            var text = ""
            while let inner = peek(), Lexer.isIdentifierPart(inner) {
                text.unicodeScalars.append(inner)
                advance()
            }
            return Token(kind: .identifier(text), position: position)
        }
        if scalar >= "0" && scalar <= "9" {
            var text = ""
            while let inner = peek(), inner >= "0" && inner <= "9" {
                text.unicodeScalars.append(inner)
                advance()
            }
            return Token(kind: .integer(text), position: position)
        }
        if scalar == "\"" {
            advance()
            var body = ""
            while true {
                guard let inner = peek() else {
                    throw CedarParseError(position: position, message: "unterminated string literal")
                }
                if inner == "\"" {
                    advance()
                    break
                }
                if inner == "\\" {
                    // An escape takes the next scalar verbatim; a line break cannot be escaped.
                    guard let escaped = peek(1), escaped != "\n", escaped != "\r" else {
                        throw CedarParseError(position: position, message: "invalid token: unterminated escape")
                    }
                    body.unicodeScalars.append(inner)
                    body.unicodeScalars.append(escaped)
                    advance()
                    advance()
                    continue
                }
                body.unicodeScalars.append(inner)
                advance()
            }
            return Token(kind: .string(body), position: position)
        }
        if scalar == "?" {
            advance()
            var text = ""
            while let inner = peek(), Lexer.isIdentifierPart(inner) {
                text.unicodeScalars.append(inner)
                advance()
            }
            guard !text.isEmpty else { throw CedarParseError(position: position, message: "invalid token `?`") }
            return Token(kind: .slot(text), position: position)
        }
        let two: String? = peek(1).map { String(Character(scalar)) + String(Character($0)) }
        if let two, ["==", "!=", "<=", ">=", "&&", "||", "::"].contains(two) {
            advance()
            advance()
            return Token(kind: .punct(two), position: position)
        }
        let single = String(Character(scalar))
        if "(){}[],;:.@<>!-+*/%=".unicodeScalars.contains(scalar) {
            advance()
            return Token(kind: .punct(single), position: position)
        }
        throw CedarParseError(position: position, message: "invalid token `\(single)`")
    }
}

/// Processes Cedar string escapes: `\n \r \t \\ \0 \' \" \xHH` (HH ≤ 7F) and `\u{1–6 hex}` (no surrogates,
/// at most 10FFFF). In a `like` pattern `\*` is a literal star, and an unescaped `*` is a wildcard.
enum Unescaper {
    struct EscapeError: Error {
        let message: String
    }

    enum PatternElement: Hashable, Sendable {
        case literal(Unicode.Scalar)
        case wildcard
    }

    static func string(_ raw: String) -> Result<String, EscapeError> {
        var out = ""
        let result = walk(raw, pattern: false) { element in
            if case .literal(let scalar) = element { out.unicodeScalars.append(scalar) }
        }
        if let problem = result { return .failure(EscapeError(message: problem)) }
        return .success(out)
    }

    static func pattern(_ raw: String) -> Result<[PatternElement], EscapeError> {
        var out: [PatternElement] = []
        let result = walk(raw, pattern: true) { out.append($0) }
        if let problem = result { return .failure(EscapeError(message: problem)) }
        return .success(out)
    }

    private static func walk(_ raw: String, pattern: Bool, emit: (PatternElement) -> Void) -> String? {
        let scalars = Array(raw.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            // Cedar unescapes string literals as Rust does, which refuses a bare carriage return (a file saved
            // with CRLF line endings and a string spanning two lines): refused here too, never kept.
            if scalar == "\r" { return "a carriage return in a string literal is not valid; write `\\r`" }
            if scalar != "\\" {
                emit(pattern && scalar == "*" ? .wildcard : .literal(scalar))
                index += 1
                continue
            }
            guard index + 1 < scalars.count else { return "the input `\\` is not a valid escape" }
            let code = scalars[index + 1]
            index += 2
            switch code {
            case "n": emit(.literal("\n"))
            case "r": emit(.literal("\r"))
            case "t": emit(.literal("\t"))
            case "\\": emit(.literal("\\"))
            case "0": emit(.literal("\0"))
            case "'": emit(.literal("'"))
            case "\"": emit(.literal("\""))
            case "*" where pattern: emit(.literal("*"))
            case "x":
                let digits = scalars[index..<min(index + 2, scalars.count)]
                let text = String(String.UnicodeScalarView(digits))
                guard digits.count == 2, let value = UInt32(text, radix: 16), value <= 0x7F,
                    let result = Unicode.Scalar(value)
                else { return "the input `\\x\(text)` is not a valid escape" }
                emit(.literal(result))
                index += 2
            case "u":
                guard index < scalars.count, scalars[index] == "{" else {
                    return "the input `\\u` is not a valid escape"
                }
                var end = index + 1
                while end < scalars.count, scalars[end] != "}", end - index <= 7 { end += 1 }
                let hex = String(String.UnicodeScalarView(scalars[(index + 1)..<min(end, scalars.count)]))
                guard end < scalars.count, scalars[end] == "}", (1...6).contains(hex.unicodeScalars.count),
                    hex.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit }),
                    let value = UInt32(hex, radix: 16), let result = Unicode.Scalar(value)
                else { return "the input `\\u{\(hex)}` is not a valid escape" }
                emit(.literal(result))
                index = end + 1
            default:
                return "the input `\\\(code)` is not a valid escape"
            }
        }
        return nil
    }
}
