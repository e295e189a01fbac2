import Glibc
import JSONCore

/// The spend report over the whole ledger.
extension Ledger {
    /// Spend by agent, tool, payee and session; refusals by reason; held-in-doubt, claimed-unverified and
    /// contradicted amounts apart from spend; latency percentiles.
    public func report() throws(LedgerError) -> LedgerReport {
        let dialect = database.dialect
        return try database.transaction(immediate: false) { () throws(LedgerError) -> LedgerReport in
            func spend(_ column: String) throws(LedgerError) -> [LedgerReport.Spend] {
                try database.rows(
                    """
                    SELECT r.\(column), r.asset, \(dialect.grouped("s.decimals")), SUM(\(CountedAmount.settled("r."))), COUNT(*)
                    FROM reservations r JOIN sessions s ON s.id = r.session_id
                    WHERE r.state = 'committed' GROUP BY r.\(column), r.asset ORDER BY 4 DESC, 1
                    """
                ) {
                    LedgerReport.Spend(
                        key: $0.text(0), asset: $0.text(1), decimals: Int($0.int64(2)), amount: $0.int64(3),
                        payments: $0.int64(4))
                }
            }
            let refusals = try database.rows(
                """
                SELECT COALESCE(\(dialect.auditField("reason")), 'unspecified'), COUNT(*) FROM audit
                WHERE \(dialect.auditValid()) AND \(dialect.auditField("outcome")) = 'refused'
                GROUP BY 1 ORDER BY 2 DESC, 1
                """
            ) { LedgerReport.Refusals(reason: $0.text(0), count: $0.int64(1)) }
            func held(_ condition: String, _ column: String) throws(LedgerError) -> [LedgerReport.InDoubt] {
                try database.rows(
                    """
                    SELECT r.asset, \(dialect.grouped("s.decimals")), SUM(r.\(column)), COUNT(*) FROM reservations r
                    JOIN sessions s ON s.id = r.session_id WHERE \(condition) GROUP BY r.asset ORDER BY 1
                    """
                ) {
                    LedgerReport.InDoubt(
                        asset: $0.text(0), decimals: Int($0.int64(1)), amount: $0.int64(2), reservations: $0.int64(3))
                }
            }
            let inDoubt = try held("r.state = 'in_doubt'", "amount")
            let claimed = try held("r.evidence = 'claimed'", "settled_amount")
            let contradicted = try held("r.state = 'contradicted'", "amount")
            let latencies = try database.rows(dialect.auditIntegers(AuditField.latencyMicroseconds)) { $0.int64(0) }
            let latency: LedgerReport.Latency? =
                latencies.isEmpty
                ? nil
                : LedgerReport.Latency(
                    count: Int64(latencies.count), p50: nearestRank(latencies, percent: 50),
                    p90: nearestRank(latencies, percent: 90), p99: nearestRank(latencies, percent: 99),
                    max: latencies[latencies.count - 1])
            return LedgerReport(
                byAgent: try spend("agent"), byTool: try spend("tool"), byPayee: try spend("payee"),
                bySession: try spend("session_id"), refusals: refusals, inDoubt: inDoubt,
                claimedUnverified: claimed, contradicted: contradicted, latency: latency)
        }
    }
}
