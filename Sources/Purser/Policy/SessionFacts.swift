public import Cedar
public import Ledger

/// What a pay decision knows about the agent's session, as `context.session` (docs/policies.md), so rules about
/// history ("at most 3 premium reports an hour") can be policy.
///
/// Counted by the ledger from the session's reservations (`Ledger.sessionTotals`), in-flight holds included
/// (money that may have left counts): amounts in atomic units, shown to policy as decimals rounded **up**
/// (spent, held, window and tool amounts) or **down** (remaining), so a rounding never makes a limit look
/// further away than it is.
/// The window is the velocity window of `limits.json` for the asset (one hour when none is set).
public struct SessionFacts: Sendable, Hashable {
    /// Settled amounts of committed payments.
    public var spent: Int64 = 0
    /// Amounts held by reservations not yet settled or released.
    public var held: Int64 = 0
    /// The session's cap minus spent and held (never below zero).
    public var remaining: Int64 = 0
    /// Payments (not released) of this agent and asset inside the window, in any session.
    public var windowPayments: Int64 = 0
    /// Their amount (settled, or held while in flight).
    public var windowAmount: Int64 = 0
    /// Payments (not released) for this tool in the session.
    public var toolPayments: Int64 = 0
    /// Payments (not released) for this tool inside the window.
    public var toolWindowPayments: Int64 = 0
    /// Amount for this tool in the session (settled, or held while in flight).
    public var toolSpent: Int64 = 0
    /// The asset's decimals (6 for USDC).
    public var decimals: Int

    /// Creates empty facts for an asset with `decimals`.
    public init(decimals: Int) {
        self.decimals = decimals
    }

    /// The facts of `session` from the ledger's totals for a payment to a tool (`Ledger.sessionTotals`);
    /// `planned` is what an approved spend plan still reserves (counted as held: the session cannot spend it
    /// elsewhere).
    public init(session: PaymentSession, totals: SessionTotals, planned: Int64 = 0) {
        self.init(decimals: session.decimals)
        spent = totals.spent
        held = Self.add(totals.held, max(0, planned))
        windowPayments = totals.windowPayments
        windowAmount = totals.windowAmount
        toolPayments = totals.toolPayments
        toolWindowPayments = totals.toolWindowPayments
        toolSpent = totals.toolAmount
        remaining = max(0, session.cap - Self.add(spent, held))
    }

    /// The facts of `agent`'s active session in `asset` for a call to `tool`, read from the rail's ledger: nil
    /// without a session. A ledger that cannot be read throws (the caller refuses: nothing is paid), and so
    /// does a sum too large for 64 bits.
    static func current(rail: PaymentRail, agent: String, asset: String, tool: String) async throws(LedgerError)
        -> SessionFacts?
    {
        guard let session = try await rail.ledger.activeSession(agent: agent, asset: asset) else { return nil }
        let window = rail.limits.limits(for: asset).velocity?.windowMilliseconds ?? 3_600_000
        let now = rail.clock() * 1000
        let totals = try await rail.ledger.sessionTotals(
            session: session.id, agent: agent, asset: asset, tool: tool, since: now - window)
        // A plan session's approved plan holds its unused part; other sessions have none (and no extra read).
        var planned: Int64 = 0
        if session.requiresPlan, let plans = rail.ledger as? any PlanLedger {
            planned = try await plans.currentPlan(session: session.id)?.unused(at: now) ?? 0
        }
        return SessionFacts(session: session, totals: totals, planned: planned)
    }

    /// Saturating: a sum too large for 64 bits stays at the maximum (then `cedarValue()` refuses it).
    private static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// The Cedar record, or a refusal when an amount does not fit a Cedar decimal.
    public func cedarValue() -> Result<CedarValue, PolicyContextError> {
        var fields: [CedarString: CedarValue] = [
            "windowPayments": .long(windowPayments), "toolPayments": .long(toolPayments),
            "toolWindowPayments": .long(toolWindowPayments),
        ]
        let amounts: [(CedarString, Int64, Bool)] = [
            ("spent", spent, true), ("held", held, true), ("remaining", remaining, false),
            ("windowAmount", windowAmount, true), ("toolSpent", toolSpent, true),
        ]
        for (name, atomic, roundUp) in amounts {
            guard let value = Self.decimal(atomic, decimals: decimals, roundUp: roundUp) else {
                return .failure(PolicyContextError(message: "the session's `\(name.value)` is too large for policy"))
            }
            fields[name] = .decimal(value)
        }
        return .success(.record(fields))
    }

    /// `atomic / 10^decimals` with 4 fractional digits, rounded up or down; nil on overflow.
    static func decimal(_ atomic: Int64, decimals: Int, roundUp: Bool) -> CedarDecimal? {
        guard atomic >= 0, atomic < .max, (0...18).contains(decimals) else { return nil }
        if decimals <= 4 {
            var scaled = atomic
            for _ in 0..<(4 - decimals) {
                let (next, overflow) = scaled.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                scaled = next
            }
            return CedarDecimal(scaled: scaled)
        }
        var divisor: Int64 = 1
        for _ in 0..<(decimals - 4) { divisor *= 10 }
        let (quotient, remainder) = atomic.quotientAndRemainder(dividingBy: divisor)
        return CedarDecimal(scaled: quotient + (roundUp && remainder != 0 ? 1 : 0))
    }
}
