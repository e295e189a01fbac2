public import JSONCore

/// Why one payment was allowed, assembled from the hash-chained audit trail alone (`purser report --explain`).
///
/// The records are the ones the pipeline and the ledger wrote when it happened: the session grant, the
/// call's trace (call and pay policies, change detection, approval and its channel), the spend plan's
/// proposal, approval and close when the payment was a plan step, the approval's
/// creation, grant and redemption, the reservation with every gate's numbers, and the settlement. Nothing
/// is recomputed from today's policies or limits, and no raw argument is ever in a record.
public struct PaymentExplanation: Sendable, Hashable {
    /// One audit record with its payload parsed.
    public struct Step: Sendable, Hashable {
        /// The record's sequence number (`trc_<sequence>` for a call trace).
        public var sequence: Int64
        /// When it was written, unix milliseconds.
        public var timestamp: Int64
        /// The record kind (`call`, `reserve`, `commit`, `approval.granted`, …).
        public var kind: String
        /// The payload as written.
        public var payload: JSONObject
    }

    /// The id asked about.
    public var subject: String
    /// The reservation the payment held (`res_…`).
    public var reservation: String
    /// The related records, oldest first.
    public var steps: [Step]
    /// Whether the audit trail verified intact when the explanation was read.
    public var auditIntact: Bool
}

/// Why an id cannot be explained.
public struct ExplanationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the id.
    public var message: String
    public var description: String { message }
}

extension Ledger {
    /// Explains one payment, by receipt id (`rcp_res_…`), reservation id (`res_…`) or trace id (`trc_N`).
    /// - Throws: `ExplanationError` for an unknown or unpaid id (wrapped in the result), `LedgerError` on storage.
    public func explain(_ id: String) throws(LedgerError) -> Result<PaymentExplanation, ExplanationError> {
        var records: [PaymentExplanation.Step] = []
        var after: Int64 = 0
        while true {
            let page = try auditRecords(after: after, limit: 1000)
            for record in page {
                guard case .object(let payload)? = try? JSONParser.parse(Array(record.payload.utf8)) else { continue }
                records.append(
                    PaymentExplanation.Step(
                        sequence: record.sequence, timestamp: record.timestamp, kind: record.kind, payload: payload))
            }
            guard let last = page.last, page.count == 1000 else { break }
            after = last.sequence
        }
        var reservation: String?
        if id.hasPrefix("rcp_") {
            reservation = String(id.dropFirst(4))
        } else if id.hasPrefix("res_") {
            reservation = id
        } else if id.hasPrefix("trc_"), let sequence = Int64(id.dropFirst(4)) {
            guard let trace = records.first(where: { $0.sequence == sequence }), trace.kind == "call" else {
                return .failure(ExplanationError(message: "\(id) is not a call trace in this ledger"))
            }
            guard let held = trace.payload["reservation"]?.stringValue else {
                return .failure(
                    ExplanationError(
                        message:
                            "\(id) is a call that reserved nothing (outcome \(trace.payload["outcome"]?.stringValue ?? "?")); no payment to explain"
                    ))
            }
            reservation = held
        }
        guard let reservation else {
            return .failure(
                ExplanationError(
                    message: "\(id) is neither a receipt (rcp_…), a reservation (res_…) nor a trace (trc_N)"))
        }
        let held = records.filter { $0.payload["reservation"]?.stringValue == reservation }
        guard !held.isEmpty else {
            return .failure(ExplanationError(message: "no audit record names the reservation \(reservation)"))
        }
        let approvals = Set(held.compactMap { $0.payload["approval"]?.stringValue })
        let plans = Set(held.compactMap { $0.payload["plan"]?.stringValue })
        let sessions = Set(held.compactMap { $0.payload["session"]?.stringValue })
        let related = records.filter { step in
            if step.payload["reservation"]?.stringValue == reservation { return true }
            if step.kind.hasPrefix("approval."), let approval = step.payload["approval"]?.stringValue {
                return approvals.contains(approval)
            }
            // The spend plan the payment was a step of: its proposal, approval (channel, numbers) and close.
            if step.kind.hasPrefix("plan."), let plan = step.payload["plan"]?.stringValue {
                return plans.contains(plan)
            }
            if step.kind == "session.grant", let session = step.payload["session"]?.stringValue {
                return sessions.contains(session)
            }
            return false
        }
        let intact = try verify().isValid
        return .success(
            PaymentExplanation(subject: id, reservation: reservation, steps: related, auditIntact: intact))
    }
}
