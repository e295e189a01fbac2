import Ledger
import X402

/// Step 5c: spend plans. In a session granted with `--require-plan`, a paid call runs only as a step of the
/// session's approved plan: the tool is in it, the amount within the step's maximum, the step's count and
/// the plan's total not used up. Otherwise it is refused (`plan_required`, `outside_plan`) with words that
/// tell the model to propose or revise its plan; nothing is paid. Sessions without the flag pass unchanged.
///
/// The same checks run again in the reservation transaction (`SpendPlan.gateChecks`), so two concurrent
/// calls cannot both take the last step. It runs before the pay policy, which sees `context.inPlan`; the
/// approval step then does not ask again for an amount the plan's approval covered.
struct SpendPlanStep: CallStep {
    var name: String { "spend plan" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard case .enabled(let rail) = environment.payments, let payment = state.payment else {
            return state.outOfOrder(name)
        }
        let session: PaymentSession
        do {
            // No session: the approval step refuses `no_session` with its own words.
            guard
                let found = try await rail.ledger.activeSession(agent: state.caller.agent, asset: payment.asset.symbol)
            else { return .proceed }
            session = found
        } catch {
            return .finish(.refused(.ledgerUnavailable))
        }
        state.session = session
        guard session.requiresPlan else { return .proceed }
        guard let plans = rail.ledger as? any PlanLedger else { return .finish(.refused(.ledgerUnavailable)) }
        let current: PlanStatus?
        do {
            current = try await plans.currentPlan(session: session.id)
        } catch {
            return .finish(.refused(.ledgerUnavailable))
        }
        let tool = state.manifest.name
        guard let current, current.plan.state == .approved else {
            return .finish(
                .refused(.planRequired(tool: tool, payment: payment.summary, pending: current?.plan.id)))
        }
        state.trace.plan = current.plan.id
        let checks = SpendPlan.gateChecks(
            tool: tool, amount: payment.amount, sessionID: session.id, plan: current, now: rail.clock() * 1000)
        guard checks.allSatisfy(\.passed) else {
            let evaluation = GateEvaluation(
                refusing: checks, asset: payment.asset.symbol, decimals: payment.asset.decimals)
            return .finish(
                .refused(
                    .outsidePlan(tool: tool, payment: payment.summary, plan: current.plan.id, evaluation: evaluation)))
        }
        state.plan = current
        return .proceed
    }
}
