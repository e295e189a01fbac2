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

    /// Creates a destination (for tests and fakes; the ledger reads its own).
    public init(payee: String, network: String, asset: String, payments: Int64, highestAmount: Int64) {
        self.payee = payee
        self.network = network
        self.asset = asset
        self.payments = payments
        self.highestAmount = highestAmount
    }
}

extension Ledger {
    /// What `tool` has paid before: every payee, network and asset with a settled payment, in the order
    /// of their first payment.
    ///
    /// Derived from committed reservations only (a released or in-doubt payment does not make a payee
    /// known), so the history is exactly the evidence of money that moved. Read from `paid_destinations`
    /// (one row per destination, kept by triggers with the reservations and recomputed by `verify`), not
    /// from the tool's every payment. A destination's payee is its lowest spelling (payees compare without
    /// case).
    public func paymentHistory(tool: String) throws(LedgerError) -> [PaidDestination] {
        try database.rows(
            """
            SELECT payee, network, asset, payments, highest FROM paid_destinations
            WHERE tool = ? ORDER BY first_ms, payee_key, network, asset
            """, [.text(tool)]
        ) {
            PaidDestination(
                payee: $0.text(0), network: $0.text(1), asset: $0.text(2), payments: $0.int64(3),
                highestAmount: $0.int64(4))
        }
    }
}
