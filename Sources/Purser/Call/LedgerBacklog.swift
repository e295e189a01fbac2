import FoundationEssentials
import JSONCore
import Ledger
import Synchronization

/// Ledger writes that failed on the money path, kept until the ledger accepts writes again.
///
/// A failed write is never dropped: it is logged to stderr at once, queued here, and replayed before
/// the next call's own records (the first write that succeeds flushes the queue). A settlement the
/// ledger could not record is replayed as a commit, so the amount stays spent rather than being freed
/// when its hold expires. The queue lives in memory: if the process ends first, the in-doubt hold
/// still keeps the amount until the authorization expires, and the stderr line is the evidence.
actor LedgerBacklog {
    /// One write to replay.
    enum Entry: Sendable {
        /// An audit record (a trace, or the note of a failed write).
        case audit(kind: String, payload: JSONObject)
        /// A settlement reported by the seller that the ledger did not record.
        case commit(reservation: String, amount: Int64, transaction: String, payer: String)
    }

    private(set) var entries: [Entry] = []
    private let log: @Sendable (String) -> Void
    /// Entries waiting, readable without a hop onto the actor: every call checks it, almost always 0.
    nonisolated let waiting = Atomic<Int>(0)

    init(log: @escaping @Sendable (String) -> Void) {
        self.log = log
    }

    /// Logs a failed write and queues what must still reach the ledger.
    func failed(_ operation: String, error: any Error, entries new: [Entry]) {
        // The code only: ledger messages never carry secrets, but the code is all the operator needs here.
        let code = (error as? LedgerError)?.code.description ?? "error"
        log("purser: ledger write failed (\(operation)): \(code); kept for the next successful write")
        entries.append(
            .audit(
                kind: "ledger_write_failed", payload: ["operation": .string(operation), "error": .string(code)]))
        entries.append(contentsOf: new)
        waiting.store(entries.count, ordering: .releasing)
    }

    /// Replays the queue in order; stops at the first failure (the rest waits for the next call).
    func flush(into ledger: any PaymentLedger) async {
        while let entry = entries.first {
            do {
                switch entry {
                case .audit(let kind, let payload):
                    _ = try await ledger.appendAudit(kind: kind, payload: payload)
                case .commit(let reservation, let amount, let transaction, let payer):
                    _ = try await ledger.commit(
                        reservation, settledAmount: amount, transaction: transaction, payer: payer, alsoRecord: nil)
                }
            } catch {
                return
            }
            entries.removeFirst()
            waiting.store(entries.count, ordering: .releasing)
        }
    }

    /// Whether anything waits.
    var isEmpty: Bool { entries.isEmpty }
}
