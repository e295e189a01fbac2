/// Step 2: the call policy (Cedar `Action::"call_tool"`). Denied calls contact nothing upstream.
struct CallPolicyStep: CallStep {
    var name: String { "call policy" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        // A priced tool's call decision sees the session in the price's asset (`context.session`); an
        // unreadable ledger refuses the call before anything leaves the process.
        var session: SessionFacts?
        if case .enabled(let rail) = environment.payments, let asset = state.manifest.price?.asset {
            do {
                session = try await SessionFacts.current(
                    rail: rail, agent: state.caller.agent, asset: asset, tool: state.manifest.name)
            } catch {
                return .finish(.refused(.ledgerUnavailable))
            }
        }
        let decision = await environment.authorizer.authorizeCall(
            agent: state.caller.agent, tool: state.manifest, arguments: state.arguments, session: session)
        guard decision.allowed else {
            return .finish(.refused(.callPolicyDenied(tool: state.manifest.name, decision: decision)))
        }
        state.trace.callPolicy = "allowed"
        state.trace.callPolicies = decision.deciding
        return .proceed
    }
}
