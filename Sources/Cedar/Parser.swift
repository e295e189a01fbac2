/// The result of parsing a policy text: the policies, or the first feature outside the v1 subset.
struct ParsedPolicies {
    var policies: [Policy]
    /// Set when the text uses something this implementation does not evaluate (e.g. `ext:ip`, `templates`).
    var unsupported: String?
    /// Where that feature is first used.
    var unsupportedPosition: SourcePosition?
}

/// A recursive-descent parser for Cedar's policy grammar, with the checks Cedar makes after parsing
/// (reserved words, scope shapes, known functions and methods, arity of built-in methods, literals).
struct Parser {
    private var tokens: [Token]
    private var index = 0
    private var unsupported: String?
    private var unsupportedPosition: SourcePosition?
    private var depth = 0

    /// Deeper nesting is refused rather than risking the stack of the evaluator and the parser.
    static let maximumNesting = 200

    static let reservedWords: Set<String> = ["true", "false", "if", "then", "else", "in", "like", "has", "is"]
    static let builtinMethods: [String: Int] = [
        "contains": 1, "containsAll": 1, "containsAny": 1, "isEmpty": 0, "hasTag": 1, "getTag": 1,
    ]
    /// Extension methods (`ip("…").isLoopback()`, `d.offset(duration("1h"))`, …).
    static let extensionMethods: [String: ExtensionFunction] = Dictionary(
        uniqueKeysWithValues: ExtensionFunction.allCases.filter { !ExtensionFunction.functionStyle.contains($0) }
            .map { ($0.rawValue, $0) })
    /// Extension constructors (`decimal`, `ip`, `datetime`, `duration`).
    static let extensionFunctions: [String: ExtensionFunction] = Dictionary(
        uniqueKeysWithValues: ExtensionFunction.functionStyle.map { ($0.rawValue, $0) })

    private var file: String?

    init(tokens: [Token], file: String? = nil) {
        self.tokens = tokens
        self.file = file
    }

    /// True when every token has been consumed.
    var atEnd: Bool { current.kind == .end }

    /// Parses a whole policy set; ids continue from `firstIndex` (for sets spread over several files).
    static func parse(_ text: String, file: String? = nil, firstIndex: Int = 0) throws(CedarParseError)
        -> ParsedPolicies
    {
        var parser = Parser(tokens: try Lexer.tokenize(text), file: file)
        var policies: [Policy] = []
        while parser.current.kind != .end {
            policies.append(try parser.parsePolicy(id: "policy\(firstIndex + policies.count)"))
        }
        return ParsedPolicies(
            policies: policies, unsupported: parser.unsupported, unsupportedPosition: parser.unsupportedPosition)
    }

    // MARK: Token helpers

    private var current: Token { tokens[index] }

    private mutating func advance() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isPunct(_ text: String) -> Bool {
        current.kind == .punct(text)
    }

    private func isKeyword(_ text: String) -> Bool {
        current.kind == .identifier(text)
    }

    private func fail(_ message: String, at token: Token? = nil) -> CedarParseError {
        CedarParseError(position: (token ?? current).position, message: message)
    }

    private func unexpected(expecting: String) -> CedarParseError {
        if current.kind == .end { return fail("unexpected end of input, expected \(expecting)") }
        return fail("unexpected token \(current.display), expected \(expecting)")
    }

    private mutating func expect(_ text: String) throws(CedarParseError) {
        guard isPunct(text) else { throw unexpected(expecting: "`\(text)`") }
        _ = advance()
    }

    private mutating func identifier(_ what: String) throws(CedarParseError) -> (String, Token) {
        guard case .identifier(let name) = current.kind else { throw unexpected(expecting: what) }
        return (name, advance())
    }

    private mutating func markUnsupported(_ feature: String, at token: Token? = nil) {
        if unsupported == nil {
            unsupported = feature
            unsupportedPosition = (token ?? tokens[max(index - 1, 0)]).position
        }
    }

    private func unescapeString(_ raw: String, at token: Token) throws(CedarParseError) -> String {
        switch Unescaper.string(raw) {
        case .success(let text): return text
        case .failure(let problem): throw fail(problem.message, at: token)
        }
    }

    private func checkNotReserved(_ name: String, at token: Token) throws(CedarParseError) {
        if Parser.reservedWords.contains(name) {
            throw fail("this identifier is reserved and cannot be used: \(name)", at: token)
        }
    }

    // MARK: Policies

    private mutating func parsePolicy(id: String) throws(CedarParseError) -> Policy {
        let start = current
        var annotations: [(key: String, value: String)] = []
        while isPunct("@") {
            _ = advance()
            let (key, keyToken) = try identifier("an annotation name")
            var value = ""
            if isPunct("(") {
                _ = advance()
                guard case .string(let raw) = current.kind else { throw unexpected(expecting: "a string literal") }
                value = try unescapeString(raw, at: advance())
                try expect(")")
            }
            if annotations.contains(where: { $0.key == key }) {
                throw fail("duplicate annotation: @\(key)", at: keyToken)
            }
            annotations.append((key, value))
        }
        let (effectName, effectToken) = try identifier("`permit` or `forbid`")
        guard let effect = Effect(rawValue: effectName) else {
            throw fail("invalid policy effect: \(effectName), expected `permit` or `forbid`", at: effectToken)
        }
        try expect("(")
        let (principal, action, resource) = try parseScope(open: effectToken)
        var conditions: [(isWhen: Bool, body: Expr, position: SourcePosition)] = []
        while case .identifier(let word) = current.kind {
            let wordToken = advance()
            guard word == "when" || word == "unless" else {
                throw fail("invalid policy condition: \(word), expected `when` or `unless`", at: wordToken)
            }
            try expect("{")
            if isPunct("}") { throw fail("`\(word)` condition clause cannot be empty", at: wordToken) }
            let body = try parseExpression()
            try expect("}")
            conditions.append((word == "when", body, wordToken.position))
        }
        guard isPunct(";") else { throw unexpected(expecting: "`when`, `unless` or `;`") }
        _ = advance()
        return Policy(
            id: id, annotations: annotations, effect: effect, principal: principal, action: action,
            resource: resource, position: start.position, file: file, conditions: conditions)
    }

    private mutating func parseScope(open: Token) throws(CedarParseError) -> (EntityScope, ActionScope, EntityScope) {
        var principal = EntityScope.any
        var action = ActionScope.any
        var resource = EntityScope.any
        let order: [Variable] = [.principal, .action, .resource]
        var seen = 0
        while !isPunct(")") {
            if seen > 0 {
                try expect(",")
                if isPunct(")") { break }
            }
            let (name, nameToken) = try identifier("a scope variable")
            guard seen < 3 else { throw fail("this policy has an extra element in the scope: \(name)", at: nameToken) }
            let wanted = order[seen]
            guard name == wanted.rawValue else {
                if ["principal", "action", "resource", "context"].contains(name) {
                    throw fail(
                        "found the variable `\(name)` where the variable `\(wanted.rawValue)` must be used",
                        at: nameToken)
                }
                throw fail("expected the variable `\(wanted.rawValue)` in the scope, found `\(name)`", at: nameToken)
            }
            if isPunct(":") { throw fail("type constraints using `:` are not supported") }
            switch wanted {
            case .action: action = try parseActionConstraint()
            case .principal: principal = try parseEntityConstraint(wanted)
            default: resource = try parseEntityConstraint(wanted)
            }
            seen += 1
        }
        if seen < 3 {
            throw fail("this policy is missing the `\(order[seen].rawValue)` variable in the scope")
        }
        try expect(")")
        return (principal, action, resource)
    }

    private mutating func scopeOperator() throws(CedarParseError) -> String? {
        switch current.kind {
        case .punct(let op) where ["==", "!=", "<", "<=", ">", ">="].contains(op):
            let token = advance()
            if op != "==" { throw fail("invalid operator in the policy scope: \(op)", at: token) }
            return op
        case .punct("="):
            throw fail("'=' is not a valid operator in Cedar")
        case .identifier("in"):
            _ = advance()
            return "in"
        default:
            return nil
        }
    }

    private mutating func parseEntityConstraint(_ variable: Variable) throws(CedarParseError) -> EntityScope {
        var typeName: CedarString?
        if isKeyword("is") {
            let isToken = advance()
            guard case .identifier = current.kind else {
                if case .slot(let slot) = current.kind {
                    throw fail("right hand side of an `is` expression must be an entity type name, but got `?\(slot)`")
                }
                throw fail("right hand side of an `is` expression must be an entity type name", at: isToken)
            }
            typeName = try parseTypeName()
        }
        guard let op = try scopeOperator() else {
            return typeName.map { .isType($0) } ?? .any
        }
        if typeName != nil, op != "in" { throw fail("`is` cannot be used together with `\(op)`") }
        guard let target = try parseScopeEntity(variable) else { return .any }
        if let typeName { return .isTypeIn(typeName, target) }
        return op == "==" ? .equals(target) : .isIn(target)
    }

    /// Parses the entity after `==`/`in` in the principal or resource scope; nil for a template slot.
    private mutating func parseScopeEntity(_ variable: Variable) throws(CedarParseError) -> EntityUID? {
        if case .slot(let slot) = current.kind {
            let token = advance()
            guard slot == variable.rawValue else {
                if slot == "principal" || slot == "resource" {
                    throw fail(
                        "expected an entity uid or matching template slot, found ?\(slot) instead of ?\(variable.rawValue)",
                        at: token)
                }
                throw fail("`?\(slot)` is not a valid template slot", at: token)
            }
            markUnsupported("templates")
            return nil
        }
        let token = current
        let expr = try parseExpression()
        switch expr {
        case .literal(.entity(let uid), _): return uid
        case .setLiteral: throw fail("expected single entity uid or template slot, found set of entity uids", at: token)
        default: throw fail("expected an entity uid or matching template slot", at: token)
        }
    }

    private mutating func parseActionConstraint() throws(CedarParseError) -> ActionScope {
        if isKeyword("is") { throw fail("`is` cannot appear in the action scope") }
        guard let op = try scopeOperator() else { return .any }
        let token = current
        if case .slot = current.kind { throw fail("expected single entity uid, found template slot") }
        let expr = try parseExpression()
        func checkAction(_ uid: EntityUID) throws(CedarParseError) -> EntityUID {
            let type = uid.type.value
            guard type == "Action" || type.hasSuffix("::Action") else {
                throw fail("expected an entity uid with type `Action` but got `\(uid)`", at: token)
            }
            return uid
        }
        switch (op, expr) {
        case ("==", .literal(.entity(let uid), _)):
            return .equals(try checkAction(uid))
        case ("==", .setLiteral):
            throw fail("expected single entity uid, found set of entity uids", at: token)
        case ("in", .literal(.entity(let uid), _)):
            return .isIn([try checkAction(uid)])
        case ("in", .setLiteral(let elements, _)):
            var uids: [EntityUID] = []
            for element in elements {
                guard case .literal(.entity(let uid), _) = element else {
                    throw fail("expected an entity uid in the action list", at: token)
                }
                uids.append(try checkAction(uid))
            }
            return .isIn(uids)
        default:
            throw fail("expected an entity uid or a list of entity uids", at: token)
        }
    }

    /// Parses `Ident {:: Ident}` as an entity type name.
    private mutating func parseTypeName() throws(CedarParseError) -> CedarString {
        var segments: [String] = []
        let start = current
        while true {
            let (name, token) = try identifier("an entity type name")
            try checkNotReserved(name, at: token)
            segments.append(name)
            guard isPunct("::") else { break }
            _ = advance()
            if case .string = current.kind {
                throw fail("right hand side of an `is` expression must be an entity type name, but got an entity uid")
            }
        }
        try checkName(segments, at: start)
        return CedarString(segments.joined(separator: "::"))
    }

    private func checkName(_ segments: [String], at token: Token) throws(CedarParseError) {
        if segments.contains("__cedar") {
            let name = segments.joined(separator: "::")
            throw fail("The name `\(name)` contains `__cedar`, which is reserved", at: token)
        }
    }

    // MARK: Expressions

    mutating func parseExpression() throws(CedarParseError) -> Expr {
        depth += 1
        defer { depth -= 1 }
        if depth > Parser.maximumNesting {
            throw fail("expressions are nested more than \(Parser.maximumNesting) levels deep")
        }
        if isKeyword("if") {
            let ifToken = advance()
            let condition = try parseExpression()
            guard isKeyword("then") else { throw unexpected(expecting: "`then`") }
            _ = advance()
            let thenBranch = try parseExpression()
            guard isKeyword("else") else { throw unexpected(expecting: "`else`") }
            _ = advance()
            let elseBranch = try parseExpression()
            return .ifThenElse(condition, thenBranch, elseBranch, at: ifToken.position)
        }
        return try parseOr()
    }

    private mutating func parseOr() throws(CedarParseError) -> Expr {
        // Iterative and flat: a chain of any length neither recurses nor deepens the tree.
        var operands = [try parseAnd()]
        while isPunct("||") {
            _ = advance()
            operands.append(try parseAnd())
        }
        return operands.count == 1 ? operands[0] : .or(operands)
    }

    private mutating func parseAnd() throws(CedarParseError) -> Expr {
        var operands = [try parseRelation()]
        while isPunct("&&") {
            _ = advance()
            operands.append(try parseRelation())
        }
        return operands.count == 1 ? operands[0] : .and(operands)
    }

    private func relationalOperator() -> BinaryOperator? {
        switch current.kind {
        case .punct("=="): return .equal
        case .punct("!="): return .notEqual
        case .punct("<"): return .less
        case .punct("<="): return .lessOrEqual
        case .punct(">"): return .greater
        case .punct(">="): return .greaterOrEqual
        case .identifier("in"): return .in
        default: return nil
        }
    }

    private mutating func parseRelation() throws(CedarParseError) -> Expr {
        let left = try parseAdd()
        if let op = relationalOperator() {
            _ = advance()
            let right = try parseAdd()
            if relationalOperator() != nil || isPunct("=") {
                throw fail(
                    "multiple relational operators (>, ==, in, etc.) must be used with parentheses to make ordering explicit"
                )
            }
            let start = left.position
            switch op {
            case .notEqual: return .not(.binary(.equal, left, right, at: start), at: start)
            case .greater: return .binary(.less, right, left, at: start)
            case .greaterOrEqual: return .binary(.lessOrEqual, right, left, at: start)
            default: return .binary(op, left, right, at: start)
            }
        }
        if isPunct("=") { throw fail("'=' is not a valid operator in Cedar") }
        if isKeyword("has") {
            _ = advance()
            if case .string(let raw) = current.kind {
                let token = advance()
                return .hasAttribute(left, [CedarString(try unescapeString(raw, at: token))])
            }
            guard case .identifier = current.kind else { throw fail("invalid RHS of a `has` operation") }
            var path: [String] = []
            while true {
                let (name, token) = try identifier("an attribute name")
                try checkNotReserved(name, at: token)
                if isPunct("::") {
                    throw fail("`\(name)::…` cannot be used as an attribute as it contains a namespace")
                }
                if isPunct("(") || isPunct("[") { throw fail("invalid RHS of a `has` operation") }
                path.append(name)
                guard isPunct(".") else { break }
                _ = advance()
            }
            // `e has a.b.c` means `e has a && e.a has b && e.a.b has c`; one node evaluates it in one pass.
            return .hasAttribute(left, path.map { CedarString($0) })
        }
        if isKeyword("like") {
            _ = advance()
            guard case .string(let raw) = current.kind else {
                throw fail("right hand side of a `like` expression must be a pattern literal")
            }
            let token = advance()
            switch Unescaper.pattern(raw) {
            case .success(let pattern): return .like(left, pattern)
            case .failure(let problem): throw fail(problem.message, at: token)
            }
        }
        if isKeyword("is") {
            _ = advance()
            guard case .identifier = current.kind else {
                throw fail("right hand side of an `is` expression must be an entity type name")
            }
            let typePosition = current.position
            let typeName = try parseTypeName()
            if isKeyword("in") {
                _ = advance()
                let target = try parseAdd()
                return .and([
                    .isType(left, typeName, at: typePosition), .binary(.in, left, target, at: left.position),
                ])
            }
            return .isType(left, typeName, at: typePosition)
        }
        return left
    }

    private mutating func parseAdd() throws(CedarParseError) -> Expr {
        let first = try parseMultiply()
        var steps: [(BinaryOperator, Expr)] = []
        while isPunct("+") || isPunct("-") {
            let op: BinaryOperator = advance().kind == .punct("+") ? .add : .subtract
            steps.append((op, try parseMultiply()))
        }
        return steps.isEmpty ? first : .arithmetic(first, steps)
    }

    private mutating func parseMultiply() throws(CedarParseError) -> Expr {
        let first = try parseUnary()
        var steps: [(BinaryOperator, Expr)] = []
        while isPunct("*") || isPunct("/") || isPunct("%") {
            let token = advance()
            if token.kind == .punct("/") { throw fail("division is not supported", at: token) }
            if token.kind == .punct("%") { throw fail("remainder/modulo is not supported", at: token) }
            steps.append((.multiply, try parseUnary()))
        }
        return steps.isEmpty ? first : .arithmetic(first, steps)
    }

    private mutating func parseUnary() throws(CedarParseError) -> Expr {
        guard isPunct("!") || isPunct("-") else { return try parseMember().checked() }
        let symbol = current.kind
        let start = current
        var count = 0
        while current.kind == symbol {
            _ = advance()
            count += 1
        }
        if count > 4 {
            let text = symbol == .punct("!") ? "!" : "-"
            throw fail("too many occurrences of `\(text)`", at: start)
        }
        let member = try parseMember()
        if symbol == .punct("!") {
            var expr = try member.checked()
            for _ in 0..<count { expr = .not(expr, at: start.position) }
            return expr
        }
        var expr: Expr
        var remaining = count
        if let digits = member.bareInteger {
            // The minus folds into the literal, so `-9223372036854775808` is a valid Long.
            guard let magnitude = UInt64(digits), magnitude <= UInt64(Int64.max) + 1 else {
                throw fail("integer literal `\(digits)` is too large", at: start)
            }
            expr = .literal(
                .long(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)), at: start.position)
            remaining -= 1
        } else {
            expr = try member.checked()
        }
        for _ in 0..<remaining { expr = .negate(expr, at: start.position) }
        return expr
    }

    /// A member expression, kept unresolved when it is a bare integer literal so that a leading minus can fold.
    private struct Member {
        var expr: Expr
        var bareInteger: String?
        var integerToken: Token?

        func checked() throws(CedarParseError) -> Expr {
            if let digits = bareInteger, let token = integerToken {
                guard let value = UInt64(digits), value <= UInt64(Int64.max) else {
                    throw CedarParseError(position: token.position, message: "integer literal `\(digits)` is too large")
                }
                return .literal(.long(Int64(value)), at: token.position)
            }
            return expr
        }
    }

    private mutating func parseMember() throws(CedarParseError) -> Member {
        if case .integer(let digits) = current.kind {
            let token = advance()
            if !isPunct(".") && !isPunct("[") && !isPunct("(") {
                return Member(expr: .literal(.long(0), at: token.position), bareInteger: digits, integerToken: token)
            }
            let base = try Member(
                expr: .literal(.long(0), at: token.position), bareInteger: digits, integerToken: token
            ).checked()
            return Member(expr: try parseAccessors(base))
        }
        let primary = try parsePrimary()
        return Member(expr: try parseAccessors(primary))
    }

    private mutating func parseAccessors(_ base: Expr) throws(CedarParseError) -> Expr {
        // The whole chain becomes one node: its length never deepens the tree.
        var accessors: [Accessor] = []
        while true {
            if isPunct(".") {
                _ = advance()
                let (name, token) = try identifier("an attribute or method name")
                if isPunct("(") {
                    let arguments = try parseArguments()
                    accessors.append(try methodCall(name, arguments, at: token))
                } else {
                    try checkNotReserved(name, at: token)
                    accessors.append(.attribute(CedarString(name), at: token.position))
                }
            } else if isPunct("[") {
                _ = advance()
                guard case .string(let raw) = current.kind else { throw fail("invalid string literal") }
                let token = advance()
                let key = try unescapeString(raw, at: token)
                try expect("]")
                accessors.append(.attribute(CedarString(key), at: token.position))
            } else if isPunct("(") {
                throw fail("function calls must be of the form `<name>(arg1, arg2, ...)`")
            } else {
                return accessors.isEmpty ? base : .access(base, accessors)
            }
        }
    }

    private mutating func parseArguments() throws(CedarParseError) -> [Expr] {
        try expect("(")
        var arguments: [Expr] = []
        while !isPunct(")") {
            arguments.append(try parseExpression())
            guard isPunct(",") else { break }
            _ = advance()
        }
        try expect(")")
        return arguments
    }

    /// The accessor for a method call.
    private func methodCall(_ name: String, _ arguments: [Expr], at token: Token)
        throws(CedarParseError) -> Accessor
    {
        if let arity = Parser.builtinMethods[name] {
            guard arguments.count == arity else {
                let plural = arity == 1 ? "argument" : "arguments"
                let gotPlural = arguments.count == 1 ? "argument" : "arguments"
                throw fail(
                    "call to `\(name)` requires exactly \(arity) \(plural), but got \(arguments.count) \(gotPlural)",
                    at: token)
            }
            let position = token.position
            switch name {
            case "contains": return .method(.contains, arguments[0], at: position)
            case "containsAll": return .method(.containsAll, arguments[0], at: position)
            case "containsAny": return .method(.containsAny, arguments[0], at: position)
            case "hasTag": return .method(.hasTag, arguments[0], at: position)
            case "getTag": return .method(.getTag, arguments[0], at: position)
            default: return .isEmpty(at: position)
            }
        }
        if let function = Parser.extensionMethods[name] {
            return .call(function, arguments, at: token.position)
        }
        if Parser.extensionFunctions[name] != nil {
            throw fail("`\(name)` is a function, not a method", at: token)
        }
        throw fail("`\(name)` is not a valid method\(suggestion(name, among: Parser.allMethods))", at: token)
    }

    static let allMethods: [String] = Array(builtinMethods.keys) + Array(extensionMethods.keys)

    private func suggestion(_ name: String, among candidates: [String]) -> String {
        let lowered = name.lowercased()
        if let match = candidates.sorted().first(where: { $0.lowercased() == lowered }) {
            return "; did you mean `\(match)`?"
        }
        if let match = candidates.sorted().first(where: { editDistance($0.lowercased(), lowered) <= 2 }) {
            return "; did you mean `\(match)`?"
        }
        return ""
    }

    private mutating func parsePrimary() throws(CedarParseError) -> Expr {
        let token = current
        switch token.kind {
        case .string(let raw):
            _ = advance()
            return .literal(.string(CedarString(try unescapeString(raw, at: token))), at: token.position)
        case .slot(let slot):
            _ = advance()
            if slot == "principal" || slot == "resource" {
                throw fail("found template slot ?\(slot) in a condition clause", at: token)
            }
            throw fail("`?\(slot)` is not a valid template slot", at: token)
        case .punct("("):
            _ = advance()
            let inner = try parseExpression()
            try expect(")")
            return inner
        case .punct("["):
            _ = advance()
            var elements: [Expr] = []
            while !isPunct("]") {
                elements.append(try parseExpression())
                guard isPunct(",") else { break }
                _ = advance()
            }
            try expect("]")
            return .setLiteral(elements, at: token.position)
        case .punct("{"):
            _ = advance()
            var fields: [(CedarString, Expr)] = []
            while !isPunct("}") {
                let keyToken = current
                let key: CedarString
                switch current.kind {
                case .string(let raw):
                    _ = advance()
                    key = CedarString(try unescapeString(raw, at: keyToken))
                case .identifier(let name):
                    _ = advance()
                    if isPunct("::") {
                        throw fail("`\(name)::…` cannot be used as an attribute as it contains a namespace")
                    }
                    try checkNotReserved(name, at: keyToken)
                    key = CedarString(name)
                case .integer(let digits):
                    throw fail("invalid attribute name: \(digits)", at: keyToken)
                default:
                    throw unexpected(expecting: "a record key")
                }
                try expect(":")
                let value = try parseExpression()
                if fields.contains(where: { $0.0 == key }) {
                    throw fail("duplicate key `\(key.value)` in record literal", at: keyToken)
                }
                fields.append((key, value))
                guard isPunct(",") else { break }
                _ = advance()
            }
            try expect("}")
            return .recordLiteral(fields, at: token.position)
        case .identifier(let first):
            if first == "if" { throw fail("an `if` expression must be parenthesized here", at: token) }
            _ = advance()
            if first == "true" || first == "false" {
                if isPunct("::") { throw fail("this identifier is reserved and cannot be used: \(first)", at: token) }
                return .literal(.bool(first == "true"), at: token.position)
            }
            var segments = [first]
            while isPunct("::") {
                _ = advance()
                switch current.kind {
                case .identifier(let next):
                    segments.append(next)
                    _ = advance()
                case .string(let raw):
                    let idToken = advance()
                    for segment in segments { try checkNotReserved(segment, at: token) }
                    try checkName(segments, at: token)
                    let id = try unescapeString(raw, at: idToken)
                    return .literal(
                        .entity(EntityUID(type: segments.joined(separator: "::"), id: id)), at: token.position)
                default:
                    throw unexpected(expecting: "an identifier or an entity id string")
                }
            }
            let name = segments.joined(separator: "::")
            if isPunct("(") {
                let arguments = try parseArguments()
                if segments.count == 1 {
                    if let function = Parser.extensionFunctions[first] {
                        return .call(function, arguments, at: token.position)
                    }
                    if Parser.extensionMethods[first] != nil {
                        throw fail("`\(first)` is a method, not a function", at: token)
                    }
                }
                let functions = ["decimal", "ip", "datetime", "duration"]
                throw fail("`\(name)` is not a valid function\(suggestion(name, among: functions))", at: token)
            }
            if segments.count == 1, let variable = Variable(rawValue: first) {
                return .variable(variable, at: token.position)
            }
            for segment in segments { try checkNotReserved(segment, at: token) }
            throw fail("invalid variable: \(name)", at: token)
        case .integer:
            throw fail("unexpected integer", at: token)
        default:
            throw unexpected(expecting: "an expression")
        }
    }
}

/// Levenshtein distance over Unicode scalars, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let left = Array(a.unicodeScalars)
    let right = Array(b.unicodeScalars)
    if left.isEmpty { return right.count }
    if right.isEmpty { return left.count }
    var previous = Array(0...right.count)
    for i in 1...left.count {
        var row = [i] + Array(repeating: 0, count: right.count)
        for j in 1...right.count {
            let cost = left[i - 1] == right[j - 1] ? 0 : 1
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
        }
        previous = row
    }
    return previous[right.count]
}
