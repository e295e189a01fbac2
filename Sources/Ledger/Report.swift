/// Spend, refusals, in-doubt amounts and latency, read from the ledger.
public struct LedgerReport: Sendable, Hashable {
    /// Settled spend of one group (an agent, a tool, a payee or a session) in one asset.
    public struct Spend: Sendable, Hashable {
        /// The agent, tool, payee or session id.
        public var key: String
        /// Asset symbol.
        public var asset: String
        /// Decimals of the asset, for display.
        public var decimals: Int
        /// Settled amount, atomic units.
        public var amount: Int64
        /// Number of settled payments.
        public var payments: Int64
    }

    /// Refusals with one reason code.
    public struct Refusals: Sendable, Hashable {
        /// Stable reason code, e.g. `session_remaining`.
        public var reason: String
        /// How many.
        public var count: Int64
    }

    /// An amount in one asset: held in doubt, settled on the seller's word only, or contradicted.
    public struct InDoubt: Sendable, Hashable {
        /// Asset symbol.
        public var asset: String
        /// Decimals of the asset.
        public var decimals: Int
        /// Held amount, atomic units.
        public var amount: Int64
        /// Number of in-doubt reservations.
        public var reservations: Int64
    }

    /// Percentiles of the per-call latency the pipeline records (`AuditField.latencyMicroseconds`).
    public struct Latency: Sendable, Hashable {
        /// Calls with a recorded latency.
        public var count: Int64
        /// Median, microseconds (nearest-rank).
        public var p50: Int64
        /// 90th percentile, microseconds.
        public var p90: Int64
        /// 99th percentile, microseconds.
        public var p99: Int64
        /// Slowest, microseconds.
        public var max: Int64
    }

    /// Spend by agent.
    public var byAgent: [Spend]
    /// Spend by tool.
    public var byTool: [Spend]
    /// Spend by payee.
    public var byPayee: [Spend]
    /// Spend by session.
    public var bySession: [Spend]
    /// Refusals by reason, most frequent first.
    public var refusals: [Refusals]
    /// In-doubt amounts by asset: signed, outcome unknown, held against every limit.
    public var inDoubt: [InDoubt]
    /// Settled amounts established only by the seller's claim (no node checked them), by asset. They are
    /// part of the spend above; `purser ledger reconcile` verifies or contradicts them.
    public var claimedUnverified: [InDoubt]
    /// Contradicted claims by asset: held at their full amount, never shown as paid.
    public var contradicted: [InDoubt]
    /// Latency percentiles, nil when no call recorded one.
    public var latency: Latency?
}

/// Nearest-rank percentile of sorted values (`percent` in 1...100).
func nearestRank(_ sorted: [Int64], percent: Int) -> Int64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = (percent * sorted.count + 99) / 100
    return sorted[min(sorted.count, max(1, rank)) - 1]
}
