/// What a pay decision counts about a session, summed by the database (`Ledger.sessionTotals`): Purser's
/// `SessionFacts` (`context.session` in policy) are made from it.
///
/// Released reservations count nowhere (nothing was paid). A committed payment counts its settled amount;
/// every other one (reserved, in doubt, contradicted) its full amount, as held. Amounts are atomic units.
public struct SessionTotals: Sendable, Hashable {
    /// Settled amounts of the session's committed payments.
    public var spent: Int64 = 0
    /// Amounts of the session's reservations not yet settled or released.
    public var held: Int64 = 0
    /// The session's payments (not released) for the tool.
    public var toolPayments: Int64 = 0
    /// Their amount (settled, or held while in flight).
    public var toolAmount: Int64 = 0
    /// Payments (not released) of the agent in the asset inside the window, in any session.
    public var windowPayments: Int64 = 0
    /// Their amount (settled, or held while in flight).
    public var windowAmount: Int64 = 0
    /// Those of them for the tool.
    public var toolWindowPayments: Int64 = 0

    /// Creates totals (all zero by default).
    public init(
        spent: Int64 = 0, held: Int64 = 0, toolPayments: Int64 = 0, toolAmount: Int64 = 0, windowPayments: Int64 = 0,
        windowAmount: Int64 = 0, toolWindowPayments: Int64 = 0
    ) {
        self.spent = spent
        self.held = held
        self.toolPayments = toolPayments
        self.toolAmount = toolAmount
        self.windowPayments = windowPayments
        self.windowAmount = windowAmount
        self.toolWindowPayments = toolWindowPayments
    }
}

/// A session's sums from `session_totals` (`Ledger.sessionSums`), for the gates and `SessionTotals`.
struct SessionSums: Sendable, Hashable {
    var settled: Int64 = 0
    var held: Int64 = 0
    var toolSettled: Int64 = 0
    var toolHeld: Int64 = 0
    var toolPayments: Int64 = 0
}

/// What a velocity window counts (`Ledger.windowUsage`): payments not released, those still in flight,
/// their settled and held amounts, and the payments for one tool.
struct WindowUsage: Sendable, Hashable {
    var payments: Int64 = 0
    var heldPayments: Int64 = 0
    var settled: Int64 = 0
    var held: Int64 = 0
    var toolPayments: Int64 = 0
}
