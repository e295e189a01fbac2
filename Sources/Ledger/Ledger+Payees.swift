/// One payee, network and asset a tool has paid, with the prices paid there.
public struct PaidDestination: Sendable, Hashable {
    /// The payee address, as it was paid.
    public var payee: String
    /// The CAIP-2 network.
    public var network: String
    /// The asset symbol.
    public var asset: String
    /// Settled payments to this destination.
    public var payments: Int64
    /// The largest amount reserved for a settled payment here, atomic units.
    public var highestAmount: Int64
}

extension Ledger {
    /// What `tool` has paid before: every payee, network and asset with a settled payment.
    ///
    /// Derived from committed reservations only (a released or in-doubt payment does not make a payee
    /// known), so the history is exactly the evidence of money that moved: nothing extra to keep in step.
    public func paymentHistory(tool: String) throws(LedgerError) -> [PaidDestination] {
        try database.rows(
            """
            SELECT \(database.dialect.grouped("payee")), network, asset, COUNT(*), MAX(amount) FROM reservations
            WHERE tool = ? AND state = 'committed' GROUP BY lower(payee), network, asset ORDER BY MIN(created_ms)
            """, [.text(tool)]
        ) {
            PaidDestination(
                payee: $0.text(0), network: $0.text(1), asset: $0.text(2), payments: $0.int64(3),
                highestAmount: $0.int64(4))
        }
    }
}
