public import FoundationEssentials
public import JSONCore

/// Why a template or its expansion is refused.
public struct TemplateError: Error, Sendable, Hashable {
    /// What is wrong.
    public var message: String
}

/// An upstream URL with `{argument}` placeholders in its path only.
///
/// The scheme, host and port are fixed when the manifest loads; an argument is percent-encoded with
/// everything but RFC 3986 unreserved characters escaped, so it can never change the scheme, host or
/// port, add a path segment, start a query or inject a fragment. A path segment that holds a placeholder
/// must not expand to an empty, `.` or `..` segment (`/x/{a}.{b}/end` with both empty would otherwise
/// request `/x/end`): such arguments are refused, because no encoding is safe (`%2E` is `.` to any
/// server that normalizes the path, RFC 3986 section 6.2.2.2). Dot segments in the template's own path
/// are refused when it loads.
public struct URLTemplate: Sendable, Hashable {
    enum Piece: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// `scheme://host[:port]`, fixed.
    public let origin: String
    let pathPieces: [Piece]
    /// The fixed query part of the template (without `?`), if any.
    public let fixedQuery: String?

    /// The argument names used in the path, in order.
    public var placeholders: [String] {
        pathPieces.compactMap { piece in
            if case .placeholder(let name) = piece { return name }
            return nil
        }
    }

    /// Parses a template; the failure is a message for `purser check`.
    public static func parse(_ template: String) -> Result<URLTemplate, TemplateError> {
        // A URI is ASCII text (RFC 3986). Reading it as Characters would let a combining mark glue itself to
        // "#", "?", "/" or "{" and hide a fragment or a placeholder from the checks below, so anything outside
        // visible ASCII is refused; other characters go in percent-encoded.
        if let offset = template.utf8.firstIndex(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            let column = template.utf8.distance(from: template.utf8.startIndex, to: offset) + 1
            return .failure(
                TemplateError(
                    message:
                        "\"url\" has a space, control or non-ASCII character at character \(column); percent-encode it"
                ))
        }
        guard let schemeEnd = template.firstRange(of: "://") else {
            return .failure(TemplateError(message: "\"url\" must be an absolute http or https URL"))
        }
        let scheme = template[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            return .failure(TemplateError(message: "\"url\" scheme must be http or https"))
        }
        let afterScheme = template[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        if authority.contains("{") || authority.contains("}") {
            return .failure(
                TemplateError(message: "placeholders may appear only in the path, never in the host or port"))
        }
        if authority.contains("@") { return .failure(TemplateError(message: "\"url\" must not contain credentials")) }
        guard !authority.isEmpty, let components = URLComponents(string: "\(scheme)://\(authority)"),
            let host = components.host, !host.isEmpty
        else { return .failure(TemplateError(message: "\"url\" has no valid host")) }
        var rest = afterScheme[authorityEnd...]
        if rest.contains("#") { return .failure(TemplateError(message: "\"url\" must not contain a fragment")) }
        var fixedQuery: String?
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            if query.contains("{") {
                return .failure(
                    TemplateError(message: "placeholders in the query are not allowed; use the \"query\" mapping"))
            }
            fixedQuery = String(query)
            rest = rest[..<question]
        }
        var pieces: [Piece] = []
        var literal = ""
        var index = rest.startIndex
        while index < rest.endIndex {
            let character = rest[index]
            if character == "{" {
                guard let close = rest[index...].firstIndex(of: "}") else {
                    return .failure(TemplateError(message: "unclosed \"{\" in \"url\""))
                }
                let name = String(rest[rest.index(after: index)..<close])
                guard !name.isEmpty,
                    name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." })
                else { return .failure(TemplateError(message: "invalid placeholder {\(name)} in \"url\"")) }
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = ""
                pieces.append(.placeholder(name))
                index = rest.index(after: close)
                continue
            }
            if character == "}" { return .failure(TemplateError(message: "unmatched \"}\" in \"url\"")) }
            literal.append(character)
            index = rest.index(after: index)
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        let origin = "\(scheme)://\(authority)"
        // The template without placeholders must itself be a valid URL.
        let probe = origin + pieces.map { if case .literal(let text) = $0 { return text } else { return "x" } }.joined()
        guard URL(string: probe + (fixedQuery.map { "?" + $0 } ?? "")) != nil else {
            return .failure(TemplateError(message: "\"url\" is not a valid URL"))
        }
        let literalPath = pieces.map { if case .literal(let text) = $0 { return text } else { return "x" } }.joined()
        if literalPath.split(separator: "/", omittingEmptySubsequences: false).contains(where: Self.isDotSegment) {
            return .failure(TemplateError(message: "\"url\" must not contain \".\" or \"..\" path segments"))
        }
        return .success(URLTemplate(origin: origin, pathPieces: pieces, fixedQuery: fixedQuery))
    }

    /// Percent-encodes a value for a path segment or a query component: everything except RFC 3986
    /// unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped, byte by byte of its UTF-8.
    public static func encode(_ text: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text form of a scalar argument; nil for arrays, objects and null, which have no URL form.
    public static func scalarText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let number): return number.lexeme
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    /// Builds the URL; fails with a message when a path argument is missing or not a scalar.
    public func expand(arguments: JSONObject, query: [(parameter: String, argument: String)]) -> Result<
        URL, TemplateError
    > {
        var path = ""
        // Indexes (counted by "/") of the segments that hold a placeholder.
        var expandedSegments = Set<Int>()
        for piece in pathPieces {
            switch piece {
            case .literal(let text):
                path += text
            case .placeholder(let name):
                guard let value = arguments[name] else {
                    return .failure(TemplateError(message: "argument \"\(name)\" is required to build the request"))
                }
                guard let text = Self.scalarText(value) else {
                    return .failure(TemplateError(message: "argument \"\(name)\" must be a string, number or boolean"))
                }
                expandedSegments.insert(path.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) })
                path += Self.encode(text)
            }
        }
        // An empty, "." or ".." segment would be dropped or resolved by the URL machinery or the server and
        // change the path's structure (climb out of it, or reach another endpoint): refuse, never send.
        for (index, segment) in path.split(separator: "/", omittingEmptySubsequences: false).enumerated()
        where expandedSegments.contains(index) && (segment.isEmpty || Self.isDotSegment(segment)) {
            return .failure(
                TemplateError(
                    message:
                        "the arguments would make the path segment \(segment.isEmpty ? "empty" : "\"\(segment)\"") and change the request's path; use other values"
                ))
        }
        var queryItems: [String] = fixedQuery.map { [$0] } ?? []
        for (parameter, argument) in query {
            guard let value = arguments[argument], !value.isNull else { continue }
            let values = value.arrayValue ?? [value]
            for element in values {
                guard let text = Self.scalarText(element) else {
                    return .failure(
                        TemplateError(message: "argument \"\(argument)\" cannot be sent as a query parameter"))
                }
                queryItems.append(Self.encode(parameter) + "=" + Self.encode(text))
            }
        }
        let text = origin + path + (queryItems.isEmpty ? "" : "?" + queryItems.joined(separator: "&"))
        guard let url = URL(string: text), url.scheme != nil, url.host != nil else {
            return .failure(TemplateError(message: "the request URL is invalid"))
        }
        return .success(url)
    }

    /// True when `url` has this template's scheme, host and port (used to refuse cross-origin redirects).
    public func isSameOrigin(_ url: URL) -> Bool {
        guard let expected = URL(string: origin) else { return false }
        return url.scheme?.lowercased() == expected.scheme?.lowercased()
            && url.host?.lowercased() == expected.host?.lowercased()
            && (url.port ?? Self.defaultPort(url.scheme)) == (expected.port ?? Self.defaultPort(expected.scheme))
    }

    /// `.` or `..`, the segments URL resolution removes.
    static func isDotSegment(_ segment: Substring) -> Bool {
        segment == "." || segment == ".."
    }

    private static func defaultPort(_ scheme: String?) -> Int {
        scheme?.lowercased() == "https" ? 443 : 80
    }
}
