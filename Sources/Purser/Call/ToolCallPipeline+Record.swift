import Dispatch
import FoundationEssentials
import JSONCore
import Ledger
import MCP
import Synchronization
import X402

extension ToolCallPipeline {
    /// Step 12, the one place a call is recorded: the trace (with the settlement commit for a paid call,
    /// in one transaction), then the idempotency key's completion. Failed writes are logged and queued,
    /// never dropped, and never turn a payment that may have gone through into a release.
    func record(_ end: CallEnd, state: inout CallState) async -> ToolCallOutcome {
        state.trace.latencyMicroseconds = Int64((DispatchTime.now().uptimeNanoseconds - state.trace.started) / 1000)
        let ledger = environment.payments.ledger
        if let ledger, environment.backlog.waiting.load(ordering: .acquiring) > 0 {
            await environment.backlog.flush(into: ledger)
        }
        var end = end
        switch end {
        case .paid(let result): end = await commit(result, state: &state)
        default: await appendTrace(end, state: &state)
        }
        let outcome = end.outcome(environment.ownerCommands)
        await completeIdempotency(end, outcome: outcome, state: state)
        return outcome
    }

    /// Commits a settled payment together with the call's trace and names the trace in the receipt.
    /// A failed commit keeps the amount held and the payment is presented as unrecorded, never as paid.
    private func commit(_ result: ToolResult, state: inout CallState) async -> CallEnd {
        guard case .enabled(let rail) = environment.payments, let settled = state.settled,
            let hold = state.hold, let payment = state.payment
        else { return .refused(.stepOrder(step: "record", signed: true)) }
        state.trace.outcome = "paid"
        let trace = state.trace.payload(agent: state.caller.agent)
        let reservation = hold.reservation.id
        let transaction = settled.settlement.transaction
        do {
            let committed = try await rail.ledger.commit(
                reservation, settledAmount: payment.amount, transaction: transaction, payer: settled.payer,
                alsoRecord: ("call", trace))
            switch committed.outcome {
            case .applied, .alreadyApplied:
                var result = result
                if let sequence = committed.record?.sequence,
                    var receipt = result.meta?["com.purser/receipt"]?.objectValue
                {
                    receipt["traceId"] = .string("trc_\(sequence)")
                    result.meta?["com.purser/receipt"] = .object(receipt)
                }
                return .paid(result)
            case .notAllowed, .unknownReservation:
                environment.log(
                    "purser: the settlement of \(reservation) (\(transaction)) was not recorded: \(committed.outcome)")
                await environment.backlog.failed(
                    "commit \(reservation)", error: LedgerError(.invalidArgument, "commit refused"),
                    entries: [.audit(kind: "call", payload: trace)])
            }
        } catch {
            await environment.backlog.failed(
                "commit \(reservation) (\(transaction))", error: error,
                entries: [
                    .commit(
                        reservation: reservation, amount: payment.amount, transaction: transaction, payer: settled.payer
                    ),
                    .audit(kind: "call", payload: trace),
                ])
        }
        return .refused(
            .unrecordedPayment(payment: payment.summary, transaction: transaction, reservation: reservation))
    }

    /// Appends the trace of a call that did not pay (or whose payment is held in doubt).
    private func appendTrace(_ end: CallEnd, state: inout CallState) async {
        switch end {
        case .answered: state.trace.outcome = "ok"
        case .replayed: state.trace.outcome = "replayed"
        case .awaitingInput: state.trace.outcome = "approval_pending"
        case .paid: state.trace.outcome = "paid"
        case .refused(let refusal):
            switch refusal {
            case .approvalRequested, .changeApprovalRequested:
                state.trace.outcome = "approval_pending"
            default:
                state.trace.outcome = "refused"
                state.trace.reason = refusal.code.name
            }
        }
        guard let ledger = environment.payments.ledger, state.trace.shouldRecord else { return }
        let payload = state.trace.payload(agent: state.caller.agent)
        do {
            _ = try await ledger.appendAudit(kind: "call", payload: payload)
        } catch {
            await environment.backlog.failed(
                "call trace", error: error, entries: [.audit(kind: "call", payload: payload)])
        }
    }

    /// Binds the idempotency key to the outcome when something was paid (or may have been) or the call
    /// succeeded; frees it otherwise. A failed write leaves the key in progress: a retry with it is told
    /// to wait, never paid again.
    private func completeIdempotency(_ end: CallEnd, outcome: ToolCallOutcome, state: CallState) async {
        guard let key = state.idempotencyClaim, let ledger = environment.payments.ledger else { return }
        let agent = state.caller.agent
        let keep: Bool
        switch end {
        case .paid: keep = true
        case .refused(let refusal): keep = refusal.money == .mayHaveMoved
        case .answered(let result), .replayed(let result): keep = !result.isError
        case .awaitingInput: keep = false
        }
        do {
            if keep, case .complete(let result) = outcome {
                _ = try await ledger.completeIdempotent(
                    agent: agent, key: key, result: JSONValue.object(result.json).serialized())
            } else {
                _ = try await ledger.abandonIdempotent(agent: agent, key: key)
            }
        } catch {
            await environment.backlog.failed(
                keep ? "idempotency completion" : "idempotency release", error: error, entries: [])
        }
    }
}

extension CallEnd {
    /// The MCP outcome of the call; a refusal names the commands of `commands`' mode.
    func outcome(_ commands: OwnerCommands) -> ToolCallOutcome {
        switch self {
        case .answered(let result), .replayed(let result), .paid(let result): return .complete(result)
        case .refused(let refusal): return .complete(refusal.result(for: commands))
        case .awaitingInput(let outcome): return outcome
        }
    }
}

extension CallEnvironment {
    /// Frees a hold whose authorization provably never left the process. If the ledger refuses the write,
    /// the hold stays until it expires (slower to free, never an overspend), and the failure is logged.
    func release(_ hold: CallState.Hold, reason: String) async {
        guard case .enabled(let rail) = payments else { return }
        do {
            _ = try await rail.ledger.release(hold.reservation.id, reason: reason)
        } catch {
            await backlog.failed("release \(hold.reservation.id) (\(reason))", error: error, entries: [])
        }
    }
}
