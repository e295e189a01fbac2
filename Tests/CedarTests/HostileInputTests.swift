import Cedar
import Foundation
import Testing

/// Inputs that used to crash or stall the engine (issue 14 item 5, issue 16): long operator chains, long
/// accessor chains, long `has` paths and long parent chains are parsed, linted AND evaluated, never recursing
/// per element. Each case evaluates the policy, because the old code parsed them fine and crashed evaluating.
@Suite("Hostile inputs")
struct HostileInputTests {
    /// Evaluates `condition` in a permit, also under `PolicyLint`, on a thread with a small stack (512 KiB by
    /// default; `serve` evaluates on Swift concurrency threads, which have 8 MiB), and returns the outcome.
    private func evaluateOnSmallStack(
        _ condition: String, context: String = "{}", entities: String = "[]", stackSize: Int = 512 * 1024
    ) throws -> Outcome {
        let box = ResultBox()
        let thread = Thread {
            box.set(
                Result {
                    let text =
                        "forbid(principal, action, resource) when { \(condition) };\n"
                        + "permit(principal, action, resource) when { \(condition) };"
                    _ = PolicyLint.warnings(try PolicySet(parsing: text))
                    return try outcome(condition, entities: entities, context: context)
                })
            box.done.signal()
        }
        thread.stackSize = stackSize
        thread.start()
        box.done.wait()
        return try box.get()
    }

    private final class ResultBox: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        private var result: Result<Outcome, any Error>?
        func set(_ value: Result<Outcome, any Error>) { result = value }
        func get() throws -> Outcome { try result!.get() }
    }

    @Test("a 200,000-alternative `||` allowlist evaluates; 7,000 alternatives: first, last and none")
    func longOr() throws {
        let alternatives = (0..<200_000).map { "context.q == \"v\($0)\"" }.joined(separator: " || ")
        #expect(try evaluateOnSmallStack(alternatives, context: #"{"q": "v199999"}"#) == .true)
        let shorter = (0..<7_000).map { "context.q == \"v\($0)\"" }.joined(separator: " || ")
        #expect(try evaluateOnSmallStack(shorter, context: #"{"q": "v0"}"#) == .true)
        #expect(try evaluateOnSmallStack(shorter, context: #"{"q": "v6999"}"#) == .true)
        #expect(try evaluateOnSmallStack(shorter, context: #"{"q": "x"}"#) == .false)
    }

    @Test("a 100,000-conjunct `&&` chain evaluates; an error in the last conjunct is still an error")
    func longAnd() throws {
        let conjuncts = Array(repeating: "context.n > 0", count: 100_000)
        #expect(try evaluateOnSmallStack(conjuncts.joined(separator: " && "), context: #"{"n": 1}"#) == .true)
        let shorter = Array(repeating: "context.n > 0", count: 7_000)
        #expect(try evaluateOnSmallStack(shorter.joined(separator: " && "), context: #"{"n": 0}"#) == .false)
        let failing = (shorter + ["context.missing"]).joined(separator: " && ")
        #expect(try evaluateOnSmallStack(failing, context: #"{"n": 1}"#) == .error)
    }

    @Test("100,000 `+` operands sum, `-` and `*` chains keep left-to-right order, overflow is an error")
    func longArithmetic() throws {
        let sum = Array(repeating: "1", count: 100_000).joined(separator: " + ")
        #expect(try evaluateOnSmallStack("\(sum) == 100000") == .true)
        let mixed = "10 - 3 - 2 + " + Array(repeating: "1", count: 50_000).joined(separator: " - ")
        // ((10 - 3) - 2) + 1 - 1 - … (49,999 times) = 5 + 1 - 49,999 = -49,993.
        #expect(try evaluateOnSmallStack("\(mixed) == -49993") == .true)
        let product = Array(repeating: "2", count: 70_000).joined(separator: " * ")
        #expect(try evaluateOnSmallStack("\(product) == 0") == .error)
    }

    @Test("7,000-step `.a` and `[\"a\"]` chains evaluate to Cedar's missing-attribute error or a value")
    func longAccessorChains() throws {
        let dots = "context" + String(repeating: ".a", count: 7_000)
        #expect(try evaluateOnSmallStack("\(dots) == 1", context: #"{"a": {"a": 1}}"#) == .error)
        let brackets = "context" + String(repeating: "[\"a\"]", count: 100_000)
        #expect(try evaluateOnSmallStack("\(brackets) == 1") == .error)
        #expect(try evaluateOnSmallStack("context.a.a == 1", context: #"{"a": {"a": 1}}"#) == .true)
        let methods = "[1]" + String(repeating: ".contains(1)", count: 7_000)
        // `[1].contains(1)` is a bool, and a bool has no `contains`: a type error, not a crash.
        #expect(try evaluateOnSmallStack(methods) == .error)
    }

    @Test("a 60,000-step `has a.a.…` path answers in one pass: false at the first missing step, or a type error")
    func longHasPath() throws {
        let path = Array(repeating: "a", count: 60_000).joined(separator: ".")
        #expect(try evaluateOnSmallStack("context has \(path)", context: #"{"a": {"a": {}}}"#) == .false)
        #expect(try evaluateOnSmallStack("context has \(path)", context: #"{"a": {"a": 3}}"#) == .error)
        #expect(try evaluateOnSmallStack("context has a.a", context: #"{"a": {"a": 3}}"#) == .true)
    }

    @Test("the deepest nesting the parser accepts evaluates (debug build) on a task thread's 8 MiB stack")
    func deepestNesting() throws {
        let depth = 199
        let nested = String(repeating: "(context.a.b + ", count: depth) + "1" + String(repeating: ")", count: depth)
        #expect(
            try evaluateOnSmallStack(
                "\(nested) == \(2 * depth + 1)", context: #"{"a": {"b": 2}}"#, stackSize: 8 << 20) == .true)
        let ifs =
            String(repeating: "if true then ", count: depth) + "true" + String(repeating: " else false", count: depth)
        #expect(try evaluateOnSmallStack(ifs, stackSize: 8 << 20) == .true)
        let sets = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(!parses("permit(principal, action, resource) when { \(sets) == [] };"))
    }

    @Test("a 2,000-entity parent chain: ancestors computed without recursion, `in` follows it; cycles refused")
    func longParentChain() throws {
        let count = 2_000
        let entities = (0..<count).map { index in
            let parents = index + 1 < count ? #"[{"type": "G", "id": "\#(index + 1)"}]"# : "[]"
            return #"{"uid": {"type": "G", "id": "\#(index)"}, "attrs": {}, "parents": \#(parents)}"#
        }
        let store = "[" + entities.joined(separator: ",") + "]"
        #expect(try evaluateOnSmallStack(#"G::"0" in G::"1999" && !(G::"1999" in G::"0")"#, entities: store) == .true)
        let cycle =
            #"[{"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "b"}]},"#
            + #"{"uid": {"type": "G", "id": "b"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]}]"#
        #expect(throws: CedarDataError.self) { try Entities(json: cycle) }
    }
}
