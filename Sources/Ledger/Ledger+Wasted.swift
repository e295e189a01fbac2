/// One settled payment that bought nothing: the upstream answered with an error after being paid.
public struct WastedPayment: Sendable, Hashable {
    /// The receipt id the model got (`rcp_<reservation>`), for a refund request.
    public var receiptID: String
    /// The tool and the seller (payee) paid.
    public var tool: String
    public var payee: String
    /// The asset, its decimals, and the settled amount in atomic units.
    public var asset: String
    public var decimals: Int
    public var amount: Int64
    /// The settlement transaction.
    public var transaction: String
    /// Why it is wasted: the trace's reason (`upstream_error`, …), or `plan_failed`.
    public var reason: String
    /// When it settled, unix milliseconds.
    public var settledAt: Int64
    /// The plan closed as failed that it was a step of, if any.
    public var plan: String? = nil
}

extension Ledger {
    /// Settled payments that bought nothing, oldest first (`purser report`): those whose call trace marks them
    /// wasted, and the steps of plans closed as failed (once each; the trace's reason wins).
    ///
    /// The trace and the settlement are committed in one transaction, so a wasted payment is never
    /// reported without its settlement, nor a settlement without its trace.
    public func wastedPayments() throws(LedgerError) -> [WastedPayment] {
        let traced = try tracedWastedPayments()
        let seen = Set(traced.map(\.receiptID))
        let failed = try failedPlanPayments().filter { !seen.contains($0.receiptID) }
        return (traced + failed).sorted { ($0.settledAt, $0.receiptID) < ($1.settledAt, $1.receiptID) }
    }

    private func tracedWastedPayments() throws(LedgerError) -> [WastedPayment] {
        let dialect = database.dialect
        return try database.rows(
            """
            SELECT r.id, r.tool, r.payee, r.asset, s.decimals, r.settled_amount, r.tx_hash,
                \(dialect.auditField("wasted", of: "a.payload")), r.updated_ms
            FROM audit a JOIN reservations r ON r.id = \(dialect.auditField("reservation", of: "a.payload"))
            JOIN sessions s ON s.id = r.session_id
            WHERE a.kind = 'call' AND \(dialect.auditValid("a.payload"))
                AND \(dialect.auditField("wasted", of: "a.payload")) IS NOT NULL
                AND r.state = 'committed'
            ORDER BY r.updated_ms, r.id
            """
        ) {
            WastedPayment(
                receiptID: "rcp_" + $0.text(0), tool: $0.text(1), payee: $0.text(2), asset: $0.text(3),
                decimals: Int($0.int64(4)), amount: $0.optionalInt64(5) ?? 0, transaction: $0.optionalText(6) ?? "",
                reason: $0.text(7), settledAt: $0.int64(8))
        }
    }
}
