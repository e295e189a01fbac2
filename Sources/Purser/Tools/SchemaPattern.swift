/// A JSON Schema `pattern`: ECMA-262 regular expression syntax (the subset below), searched anywhere in a
/// string (unanchored, as JSON Schema says), in time linear in the input.
///
/// Why not `NSRegularExpression` or the standard library's `Regex`: both backtrack, so a tool manifest's
/// pattern such as `^(a+)+$` and a 30-character argument chosen by the agent keep a core busy for minutes
/// (`Regex` does not even stop when its task is cancelled), and `NSRegularExpression` links ICU into
/// `purser`. This matcher compiles the pattern to a small automaton and runs every alternative side by
/// side (Thompson's construction, a Pike VM without captures): the work is at most the pattern's size
/// times the input's length, and that product is capped.
///
/// Supported: literals; `.` (any code point but a line terminator); classes `[...]`, `[^...]` with ranges;
/// `\d \D \w \W \s \S`; `\t \n \v \f \r \0 \cX \xHH \uHHHH \u{H…}` and escaped punctuation; `^` and `$`
/// (start and end of the string: there are no flags, so no multiline); `\b \B`; groups `(…)`, `(?:…)`,
/// `(?<name>…)`; alternation; `* + ? {n} {n,} {n,m}` (lazy forms too: whether a match exists does not
/// depend on laziness). Refused with a clear reason: backreferences, lookahead and lookbehind, `\p{…}`, and
/// any other escape of a letter or digit. Matching is by Unicode code point (ECMA-262's `u` mode).
struct SchemaPattern: Sendable {
    /// Why a pattern cannot be used.
    struct Problem: Error, Sendable, Equatable {
        /// The reason, with the code-point offset in the pattern where it was found.
        let message: String
    }

    /// Most automaton states a pattern may compile to (counted repetitions are expanded).
    static let maximumStates = 10_000
    /// Most steps (states times input code points) one match may take.
    static let maximumWork = 50_000_000
    /// Deepest group nesting accepted (the parser recurses once per level).
    static let maximumNesting = 64

    private let program: [Instruction]
    private let sets: [ScalarSet]

    /// Compiles `source`.
    init(_ source: String) throws(Problem) {
        var parser = Parser(Array(source.unicodeScalars))
        let tree = try parser.parseWhole()
        var compiler = Compiler()
        try compiler.emit(tree)
        compiler.append(.match)
        program = compiler.program
        sets = compiler.sets
    }

    /// Whether the pattern matches somewhere in `text`; nil when that would take more than `maximumWork`
    /// steps (the caller refuses the value: it could not be checked).
    func matches(_ text: String) -> Bool? {
        let scalars = Array(text.unicodeScalars)
        let (work, overflow) = (scalars.count + 1).multipliedReportingOverflow(by: program.count)
        guard !overflow, work <= Self.maximumWork else { return nil }
        var visited = [Int](repeating: -1, count: program.count)
        var current: [Int] = []
        var next: [Int] = []
        var stack: [Int] = []
        current.reserveCapacity(program.count)
        next.reserveCapacity(program.count)

        /// Follows jumps, splits and assertions from `start` at `position`, collecting the consuming states
        /// into `list`; true when the match state is reached.
        func close(_ start: Int, at position: Int, into list: inout [Int]) -> Bool {
            stack.append(start)
            while let pc = stack.popLast() {
                guard visited[pc] != position else { continue }
                visited[pc] = position
                switch program[pc] {
                case .consume: list.append(pc)
                case .jump(let target): stack.append(target)
                case .split(let first, let second):
                    stack.append(second)
                    stack.append(first)
                case .assert(let assertion):
                    if assertion.holds(at: position, in: scalars) { stack.append(pc + 1) }
                case .match:
                    stack.removeAll(keepingCapacity: true)
                    return true
                }
            }
            return false
        }

        if close(0, at: 0, into: &current) { return true }
        for position in 0..<scalars.count {
            let scalar = scalars[position].value
            next.removeAll(keepingCapacity: true)
            for pc in current {
                guard case .consume(let set) = program[pc], sets[set].contains(scalar) else { continue }
                if close(pc + 1, at: position + 1, into: &next) { return true }
            }
            // A match may also start at the next position (the search is unanchored).
            if close(0, at: position + 1, into: &next) { return true }
            swap(&current, &next)
        }
        return false
    }
}

// MARK: - The automaton

extension SchemaPattern {
    fileprivate enum Instruction: Sendable {
        /// Consumes one code point in `sets[index]`.
        case consume(Int)
        case jump(Int)
        /// Both continuations, the first preferred (preference does not matter for match existence).
        case split(Int, Int)
        case assert(Assertion)
        case match
    }

    fileprivate enum Assertion: Sendable {
        case start, end, wordBoundary, notWordBoundary

        func holds(at position: Int, in scalars: [Unicode.Scalar]) -> Bool {
            switch self {
            case .start: return position == 0
            case .end: return position == scalars.count
            case .wordBoundary, .notWordBoundary:
                let before = position > 0 && ScalarSet.isWordCharacter(scalars[position - 1].value)
                let after = position < scalars.count && ScalarSet.isWordCharacter(scalars[position].value)
                return (before != after) == (self == .wordBoundary)
            }
        }
    }

    /// A set of code points: sorted, non-overlapping closed ranges, possibly negated.
    fileprivate struct ScalarSet: Sendable {
        var ranges: [ClosedRange<UInt32>]
        var negated = false

        func contains(_ scalar: UInt32) -> Bool {
            var low = 0
            var high = ranges.count - 1
            var found = false
            while low <= high {
                let middle = (low + high) / 2
                if scalar < ranges[middle].lowerBound {
                    high = middle - 1
                } else if scalar > ranges[middle].upperBound {
                    low = middle + 1
                } else {
                    found = true
                    break
                }
            }
            return found != negated
        }

        /// Sorted and merged.
        static func normalized(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
            var merged: [ClosedRange<UInt32>] = []
            for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                    merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
                } else {
                    merged.append(range)
                }
            }
            return merged
        }

        /// The complement within all code points.
        static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
            var result: [ClosedRange<UInt32>] = []
            var next: UInt32 = 0
            for range in normalized(ranges) {
                if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
                next = range.upperBound &+ 1
                if range.upperBound == 0x10FFFF { return result }
            }
            result.append(next...0x10FFFF)
            return result
        }

        static let digits: [ClosedRange<UInt32>] = [0x30...0x39]
        static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
        /// ECMA-262 WhiteSpace and LineTerminator.
        static let space: [ClosedRange<UInt32>] = [
            0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029,
            0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF,
        ]
        static let lineTerminators: [ClosedRange<UInt32>] = [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029]

        static func isWordCharacter(_ scalar: UInt32) -> Bool {
            (0x30...0x39).contains(scalar) || (0x41...0x5A).contains(scalar) || scalar == 0x5F
                || (0x61...0x7A).contains(scalar)
        }
    }

    /// The parsed pattern.
    fileprivate indirect enum Node {
        case empty
        case set([ClosedRange<UInt32>], negated: Bool)
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, minimum: Int, maximum: Int?)
        case assertion(Assertion)
    }
}

// MARK: - Parsing

extension SchemaPattern {
    fileprivate struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0
        var depth = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        private var atEnd: Bool { position >= scalars.count }
        private var peek: Unicode.Scalar? { atEnd ? nil : scalars[position] }

        private func problem(_ text: String, at offset: Int? = nil) -> Problem {
            Problem(message: "\(text) (at offset \(offset ?? position))")
        }

        mutating func parseWhole() throws(Problem) -> Node {
            let node = try parseAlternation()
            guard atEnd else { throw problem("unmatched \")\"") }
            return node
        }

        private mutating func parseAlternation() throws(Problem) -> Node {
            var branches = [try parseSequence()]
            while peek == "|" {
                position += 1
                branches.append(try parseSequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        private mutating func parseSequence() throws(Problem) -> Node {
            var items: [Node] = []
            while let scalar = peek, scalar != "|", scalar != ")" {
                let start = position
                var atom = try parseAtom()
                if let (minimum, maximum) = try parseQuantifier() {
                    if case .assertion = atom { throw problem("nothing to repeat", at: start) }
                    atom = .repetition(atom, minimum: minimum, maximum: maximum)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        /// `* + ? {n} {n,} {n,m}`, each optionally followed by `?`; nil when none follows.
        private mutating func parseQuantifier() throws(Problem) -> (Int, Int?)? {
            guard let scalar = peek else { return nil }
            var bounds: (Int, Int?)
            switch scalar {
            case "*": bounds = (0, nil)
            case "+": bounds = (1, nil)
            case "?": bounds = (0, 1)
            case "{":
                guard let braced = try parseBraces() else { return nil }
                bounds = braced
                if peek == "?" { position += 1 }
                try refuseSecondQuantifier()
                return bounds
            default: return nil
            }
            position += 1
            if peek == "?" { position += 1 }
            try refuseSecondQuantifier()
            return bounds
        }

        private mutating func refuseSecondQuantifier() throws(Problem) {
            if let next = peek, next == "*" || next == "+" || next == "?" {
                throw problem("nothing to repeat (a quantifier follows another)")
            }
            if peek == "{" {
                let saved = position
                let braced = try? parseBraces()
                position = saved
                if braced != nil { throw problem("nothing to repeat (a quantifier follows another)") }
            }
        }

        /// `{n}`, `{n,}` or `{n,m}` at the current position; nil (position unchanged) when the brace does not
        /// start one, and then it is a literal `{` (ECMA-262 Annex B).
        private mutating func parseBraces() throws(Problem) -> (Int, Int?)? {
            let start = position
            position += 1
            guard let minimum = parseNumber() else {
                position = start
                return nil
            }
            var maximum: Int? = minimum
            if peek == "," {
                position += 1
                maximum = parseNumber()
            }
            guard peek == "}" else {
                position = start
                return nil
            }
            position += 1
            if let maximum, maximum < minimum { throw problem("numbers out of order in {} quantifier", at: start) }
            if minimum > 1000 || (maximum ?? 0) > 1000 {
                throw problem("a counted repetition above 1000 is not supported", at: start)
            }
            return (minimum, maximum)
        }

        private mutating func parseNumber() -> Int? {
            var value = 0
            var digits = 0
            while let scalar = peek, ("0"..."9").contains(scalar) {
                value = min(value * 10 + Int(scalar.value - 0x30), 1_000_000)
                digits += 1
                position += 1
            }
            return digits == 0 ? nil : value
        }

        private mutating func parseAtom() throws(Problem) -> Node {
            let start = position
            let scalar = scalars[position]
            position += 1
            switch scalar {
            case "^": return .assertion(.start)
            case "$": return .assertion(.end)
            case ".": return .set(ScalarSet.lineTerminators, negated: true)
            case "(":
                return try parseGroup(start: start)
            case "[":
                return try parseClass(start: start)
            case "\\":
                return try parseEscape(inClass: false)
            case "*", "+", "?":
                throw problem("nothing to repeat", at: start)
            case "{":
                position = start
                if (try parseBraces()) != nil { throw problem("nothing to repeat", at: start) }
                position = start + 1
                return .set([scalar.value...scalar.value], negated: false)
            default:
                return .set([scalar.value...scalar.value], negated: false)
            }
        }

        private mutating func parseGroup(start: Int) throws(Problem) -> Node {
            if peek == "?" {
                let next = position + 1 < scalars.count ? scalars[position + 1] : nil
                switch next {
                case ":":
                    position += 2
                case "=", "!":
                    throw problem("lookahead is not supported", at: start)
                case "<":
                    let after = position + 2 < scalars.count ? scalars[position + 2] : nil
                    if after == "=" || after == "!" { throw problem("lookbehind is not supported", at: start) }
                    // A named group: its name is skipped (there are no backreferences to use it).
                    position += 2
                    while let scalar = peek, scalar != ">" {
                        guard
                            scalar == "_" || scalar == "$" || scalar.properties.isAlphabetic
                                || ("0"..."9").contains(scalar)
                        else { throw problem("invalid group name", at: start) }
                        position += 1
                    }
                    guard peek == ">", position > start + 3 else { throw problem("invalid group name", at: start) }
                    position += 1
                default:
                    throw problem("invalid group", at: start)
                }
            }
            depth += 1
            guard depth <= SchemaPattern.maximumNesting else {
                throw problem("groups nested deeper than \(SchemaPattern.maximumNesting)", at: start)
            }
            let inner = try parseAlternation()
            depth -= 1
            guard peek == ")" else { throw problem("unterminated group", at: start) }
            position += 1
            return inner
        }

        private mutating func parseClass(start: Int) throws(Problem) -> Node {
            var negated = false
            if peek == "^" {
                negated = true
                position += 1
            }
            var ranges: [ClosedRange<UInt32>] = []
            while true {
                guard let scalar = peek else { throw problem("unterminated character class", at: start) }
                if scalar == "]" {
                    position += 1
                    break
                }
                let lowStart = position
                let low = try parseClassAtom()
                if peek == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                    position += 1
                    let high = try parseClassAtom()
                    guard case .single(let from) = low, case .single(let to) = high else {
                        throw problem("a class escape cannot bound a range", at: lowStart)
                    }
                    guard from <= to else { throw problem("range out of order in character class", at: lowStart) }
                    ranges.append(from...to)
                } else {
                    switch low {
                    case .single(let value): ranges.append(value...value)
                    case .set(let set): ranges += set
                    }
                }
            }
            return .set(ScalarSet.normalized(ranges), negated: negated)
        }

        private enum ClassAtom {
            case single(UInt32)
            case set([ClosedRange<UInt32>])
        }

        private mutating func parseClassAtom() throws(Problem) -> ClassAtom {
            let scalar = scalars[position]
            position += 1
            guard scalar == "\\" else { return .single(scalar.value) }
            switch try parseEscape(inClass: true) {
            case .set(let ranges, let negated):
                if ranges.count == 1, !negated, ranges[0].lowerBound == ranges[0].upperBound {
                    return .single(ranges[0].lowerBound)
                }
                return .set(negated ? ScalarSet.complement(ranges) : ranges)
            default:
                throw problem("invalid escape in character class", at: position - 1)
            }
        }

        /// After a backslash.
        private mutating func parseEscape(inClass: Bool) throws(Problem) -> Node {
            let start = position - 1
            guard let scalar = peek else { throw problem("\\ at end of pattern", at: start) }
            position += 1
            func single(_ value: UInt32) -> Node { .set([value...value], negated: false) }
            switch scalar {
            case "d": return .set(ScalarSet.digits, negated: false)
            case "D": return .set(ScalarSet.digits, negated: true)
            case "w": return .set(ScalarSet.word, negated: false)
            case "W": return .set(ScalarSet.word, negated: true)
            case "s": return .set(ScalarSet.space, negated: false)
            case "S": return .set(ScalarSet.space, negated: true)
            case "b": return inClass ? single(0x08) : .assertion(.wordBoundary)
            case "B":
                if inClass { throw problem("\\B in a character class", at: start) }
                return .assertion(.notWordBoundary)
            case "t": return single(0x09)
            case "n": return single(0x0A)
            case "v": return single(0x0B)
            case "f": return single(0x0C)
            case "r": return single(0x0D)
            case "0":
                if let next = peek, ("0"..."9").contains(next) {
                    throw problem("octal escapes are not supported", at: start)
                }
                return single(0)
            case "c":
                guard let letter = peek, ("a"..."z").contains(letter) || ("A"..."Z").contains(letter) else {
                    throw problem("\\c must be followed by a letter", at: start)
                }
                position += 1
                return single(letter.value % 32)
            case "x":
                guard let value = parseHex(count: 2) else { throw problem("\\x needs two hex digits", at: start) }
                return single(value)
            case "u":
                if peek == "{" {
                    position += 1
                    var value: UInt32 = 0
                    var digits = 0
                    while let next = peek, let digit = Self.hexValue(next) {
                        value = min(value * 16 + digit, 0x110000)
                        digits += 1
                        position += 1
                    }
                    guard digits > 0, peek == "}", value <= 0x10FFFF else {
                        throw problem("invalid \\u{…} escape", at: start)
                    }
                    position += 1
                    return single(value)
                }
                guard let value = parseHex(count: 4) else { throw problem("\\u needs four hex digits", at: start) }
                if (0xD800...0xDBFF).contains(value), position + 1 < scalars.count, scalars[position] == "\\",
                    scalars[position + 1] == "u"
                {
                    let saved = position
                    position += 2
                    if let low = parseHex(count: 4), (0xDC00...0xDFFF).contains(low) {
                        return single(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00))
                    }
                    position = saved
                }
                if (0xD800...0xDFFF).contains(value) {
                    throw problem("a lone surrogate escape cannot match a code point", at: start)
                }
                return single(value)
            case "1"..."9":
                throw problem("backreferences are not supported", at: start)
            case "k":
                throw problem("backreferences are not supported", at: start)
            case "p", "P":
                throw problem("Unicode property escapes (\\p{…}) are not supported", at: start)
            default:
                // Escaped punctuation stands for itself; other escaped letters mean something else elsewhere.
                guard scalar.isASCII, !scalar.properties.isAlphabetic, !("0"..."9").contains(scalar) else {
                    throw problem("unsupported escape \\\(scalar)", at: start)
                }
                return single(scalar.value)
            }
        }

        private mutating func parseHex(count: Int) -> UInt32? {
            guard position + count <= scalars.count else { return nil }
            var value: UInt32 = 0
            for offset in 0..<count {
                guard let digit = Self.hexValue(scalars[position + offset]) else { return nil }
                value = value * 16 + digit
            }
            position += count
            return value
        }

        private static func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
            switch scalar {
            case "0"..."9": return scalar.value - 0x30
            case "a"..."f": return scalar.value - 0x61 + 10
            case "A"..."F": return scalar.value - 0x41 + 10
            default: return nil
            }
        }
    }
}

// MARK: - Compiling

extension SchemaPattern {
    fileprivate struct Compiler {
        var program: [Instruction] = []
        var sets: [ScalarSet] = []

        mutating func append(_ instruction: Instruction) {
            program.append(instruction)
        }

        private mutating func reserve() throws(Problem) -> Int {
            guard program.count < SchemaPattern.maximumStates else {
                throw Problem(
                    message:
                        "the pattern expands to more than \(SchemaPattern.maximumStates) states (counted repetitions are expanded)"
                )
            }
            program.append(.match)
            return program.count - 1
        }

        mutating func emit(_ node: Node) throws(Problem) {
            switch node {
            case .empty:
                break
            case .set(let ranges, let negated):
                let index = try reserve()
                sets.append(ScalarSet(ranges: ranges, negated: negated))
                program[index] = .consume(sets.count - 1)
            case .assertion(let assertion):
                let index = try reserve()
                program[index] = .assert(assertion)
            case .sequence(let items):
                for item in items { try emit(item) }
            case .alternation(let branches):
                // split L1, next; L1: branch; jump end; next: split …
                var jumps: [Int] = []
                for (offset, branch) in branches.enumerated() {
                    if offset < branches.count - 1 {
                        let split = try reserve()
                        try emit(branch)
                        jumps.append(try reserve())
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try emit(branch)
                    }
                }
                for jump in jumps { program[jump] = .jump(program.count) }
            case .repetition(let inner, let minimum, let maximum):
                for _ in 0..<minimum { try emit(inner) }
                if let maximum {
                    // Each optional copy may be skipped to the end.
                    var skips: [Int] = []
                    for _ in minimum..<maximum {
                        skips.append(try reserve())
                        try emit(inner)
                    }
                    for skip in skips { program[skip] = .split(skip + 1, program.count) }
                } else {
                    // loop: split body, end; body; jump loop
                    let loop = try reserve()
                    try emit(inner)
                    let back = try reserve()
                    program[back] = .jump(loop)
                    program[loop] = .split(loop + 1, program.count)
                }
            }
        }
    }
}
