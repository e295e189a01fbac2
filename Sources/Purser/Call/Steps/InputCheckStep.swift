import EVMSigning
import JSONCore

/// Step 1: the arguments against the tool's `inputSchema`. Nothing leaves the process before this passes.
///
/// A paid tool's optional `idempotency_key` argument is taken out first (it is never validated nor sent
/// upstream); the argument digest recorded instead of raw arguments is computed here.
struct InputCheckStep: CallStep {
    var name: String { "input check" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        if state.manifest.price != nil, let value = state.arguments[ToolCallPipeline.idempotencyArgument] {
            state.arguments[ToolCallPipeline.idempotencyArgument] = nil
            guard let key = value.stringValue else { return .finish(.refused(.idempotencyKeyNotString)) }
            state.idempotencyKey = state.idempotencyKey ?? key
        }
        state.trace.argumentsDigest = Self.digest(state.arguments)
        let problems = state.manifest.inputSchema.validate(.object(state.arguments))
        guard problems.isEmpty else {
            return .finish(
                .refused(
                    .invalidArguments(
                        tool: state.manifest.name,
                        problems: problems.prefix(10).map { ArgumentProblem(pointer: $0.pointer, message: $0.message) }
                    )))
        }
        return .proceed
    }

    /// The digest recorded instead of raw arguments: SHA-256 of the canonical (sorted-key) JSON.
    static func digest(_ arguments: JSONObject) -> String {
        "sha256:" + Hex.encode(SHA256.hash(JSONValue.object(arguments).serializedBytes(sortedKeys: true)))
    }
}
