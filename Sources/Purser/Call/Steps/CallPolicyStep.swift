/// Step 2: the call policy (Cedar `Action::"call_tool"`). Denied calls contact nothing upstream.
struct CallPolicyStep: CallStep {
    var name: String { "call policy" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        let decision = await environment.authorizer.authorizeCall(
            agent: state.caller.agent, tool: state.manifest, arguments: state.arguments)
        guard decision.allowed else {
            return .finish(.refused(.callPolicyDenied(tool: state.manifest.name, decision: decision)))
        }
        state.trace.callPolicy = "allowed"
        state.trace.callPolicies = decision.deciding
        return .proceed
    }
}
