public import Chain
import FoundationEssentials
import HTTPClient
public import Ledger
public import X402

/// Resolves in-doubt, contradicted and seller-claimed payments with chain evidence, never with time.
///
/// For each unsettled reservation whose network has a node: the chain's answer at a final block (never
/// `latest`, which a reorg can undo; see `SettlementVerifier`) decides
/// - `.settled(tx)` → committed with `verified` evidence (the chain's transaction, even if the seller
///   named another), once its block is final;
/// - `.unused` (unused at a final block at or after `validBefore`) → void, the budget is restored;
/// - `.pending`, `.usedUnmatched`, or any node error → nothing changes: the amount stays held.
/// Reservations without a recorded authorization (written by older builds) or without a node are left
/// for the end user (`purser ledger resolve`).
public struct SettlementReconciler: Sendable {
    /// What one pass did.
    public struct Summary: Sendable, Hashable {
        /// Committed with `verified` evidence.
        public var verified: [String] = []
        /// Voided: unused on chain after `validBefore`.
        public var voided: [String] = []
        /// Still undecided on chain (can settle, or used without a matching transfer).
        public var pending: [String] = []
        /// No node for the network, or no recorded authorization: for the end user.
        public var unresolvable: [String] = []
        /// The node could not answer (or the ledger refused the change); still held.
        public var failed: [String: String] = [:]

        /// Creates an empty summary.
        public init() {}
    }

    private let ledger: Ledger
    private let verifiers: [String: SettlementVerifier]

    /// Creates a reconciler with one verifier per CAIP-2 network.
    public init(ledger: Ledger, verifiers: [String: SettlementVerifier]) {
        self.ledger = ledger
        self.verifiers = verifiers
    }

    /// Builds verifiers from a node configuration over `transport`, checking each node's chain id first;
    /// a node on the wrong chain (or unreachable) is left out and reported.
    public static func verifiers(
        _ configuration: NodeConfiguration, transport: any HTTPTransport
    ) async -> (verifiers: [String: SettlementVerifier], problems: [String]) {
        var verifiers: [String: SettlementVerifier] = [:]
        var problems: [String] = []
        for (network, node) in configuration.nodes.sorted(by: { $0.key < $1.key }) {
            let rpc = EthereumRPC(transport: transport, endpoint: node.endpoint)
            do {
                let chain = try await rpc.chainID()
                guard chain == node.chainID else {
                    problems.append("the node for \(network) reports chain id \(chain)")
                    continue
                }
                verifiers[network] = SettlementVerifier(
                    rpc: rpc, fromBlock: node.fromBlock, confirmations: node.confirmations,
                    maxLogBlocks: node.maxLogBlocks)
            } catch {
                problems.append("the node for \(network) did not answer (\(error.code))")
            }
        }
        return (verifiers, problems)
    }

    /// How many payments one `SettlementVerifier.check` pass asks about: its final block is read once, and
    /// its requests are batched. Between chunks a stopping process can end the pass.
    public static let chunkSize = 500

    /// One pass over up to `limit` unsettled payments, oldest first.
    public func reconcile(limit: Int = 10_000) async throws(LedgerError) -> Summary {
        var summary = Summary()
        let unsettled = try await ledger.unsettled(limit: limit)
        for start in stride(from: 0, to: unsettled.count, by: Self.chunkSize) {
            // A stopping process ends the pass between payments: each payment's change is its own transaction,
            // so what is left is simply decided by the next pass.
            if Task.isCancelled { break }
            let chunk = unsettled[start..<min(start + Self.chunkSize, unsettled.count)]
            let evidence = await self.evidence(for: chunk, into: &summary)
            for reservation in chunk {
                if Task.isCancelled { break }
                // Without evidence (no authorization or no node) it was counted unresolvable.
                guard let found = evidence[reservation.id], let payer = reservation.authorization?.authorizer else {
                    continue
                }
                switch found {
                case .failure(let error): summary.failed[reservation.id] = error.description
                case .success(let evidence): try await apply(evidence, to: reservation, payer: payer, into: &summary)
                }
            }
        }
        return summary
    }

    /// The chain's evidence for each payment of `chunk` that has a recorded authorization and a node: one
    /// batched `check` per network. The others are counted `unresolvable`.
    private func evidence(for chunk: ArraySlice<Reservation>, into summary: inout Summary) async
        -> [String: Result<ChainEvidence, ChainError>]
    {
        var byNetwork: [String: [(id: String, facts: SignedPaymentFacts)]] = [:]
        for reservation in chunk {
            guard let authorization = reservation.authorization, verifiers[reservation.network] != nil else {
                summary.unresolvable.append(reservation.id)
                continue
            }
            // The ledger holds the hold's end (`holdUntil`), not the signed window; SigningStep sends only an
            // authorization inside `SignedWindow` of it, so the search runs from the earliest validAfter that
            // allows to the hold's end, never too late nor too early. A payment signed outside it (none is sent)
            // would only miss its proof: held, never freed.
            let facts = SignedPaymentFacts(
                token: authorization.token, authorizer: authorization.authorizer, nonce: authorization.nonce,
                payTo: reservation.payee, amount: String(reservation.amount),
                validAfter: reservation.validBefore.map {
                    UInt64(max(0, SignedWindow.earliestValidAfter(holdUntil: $0)))
                },
                validBefore: reservation.validBefore.map { UInt64(max(0, $0)) },
                claimedTransaction: reservation.transaction)
            byNetwork[reservation.network, default: []].append((reservation.id, facts))
        }
        var evidence: [String: Result<ChainEvidence, ChainError>] = [:]
        for (network, payments) in byNetwork.sorted(by: { $0.key < $1.key }) {
            guard let verifier = verifiers[network] else { continue }
            do {
                for (payment, result) in zip(payments, try await verifier.check(payments.map(\.facts))) {
                    evidence[payment.id] = result
                }
            } catch {
                // No final block: nothing can be decided for this network's payments.
                for payment in payments { evidence[payment.id] = .failure(error) }
            }
        }
        return evidence
    }

    /// Writes one payment's decided evidence to the ledger (its own transaction).
    private func apply(
        _ evidence: ChainEvidence, to reservation: Reservation, payer: String, into summary: inout Summary
    ) async throws(LedgerError) {
        let outcome: TransitionOutcome
        switch evidence {
        case .settled(let transaction, let block):
            outcome = try await ledger.commit(
                reservation.id, settledAmount: reservation.amount, transaction: transaction,
                payer: payer, evidence: .verified,
                note: "verified on chain in final block \(block)",
                alsoRecord: nil
            ).outcome
            if case .applied = outcome { summary.verified.append(reservation.id) }
        case .unused(let block, let timestamp):
            outcome = try await ledger.void(
                reservation.id,
                evidence:
                    "authorizationState false at final block \(block) (time \(timestamp) >= validBefore \(reservation.validBefore ?? 0))"
            )
            if case .applied = outcome { summary.voided.append(reservation.id) }
        case .pending, .usedUnmatched:
            summary.pending.append(reservation.id)
            return
        }
        if case .notAllowed(_, let reason) = outcome { summary.failed[reservation.id] = reason }
    }
}

extension SettlementReconciler {
    /// The product's HTTP client for nodes: bounded answers (4 MiB) and time. Each request is bounded by its
    /// node's `timeoutSeconds` (`EthereumRPC`); the client's own limit is the largest a node may be given, so
    /// it never cuts a slower node's configured wait short (it did at 10 s: `"timeoutSeconds": 60` waited 10).
    public static func defaultTransport() -> any HTTPTransport {
        HTTPClient(
            configuration: HTTPClient.Configuration(
                maximumResponseBytes: 4 << 20, timeout: .seconds(NodeConfiguration.maximumTimeoutSeconds)))
    }

    /// How often a long-running process reconciles (`purser serve`, `purser vault run`).
    public static let defaultInterval: Duration = .seconds(300)

    /// Reconciles at once, then every `interval`, until the task is cancelled. Both long-running processes run
    /// it (`purser serve` in single-user mode, `purser vault run` behind the vault: whichever owns the ledger),
    /// off the call path. Problems go to `log` (stderr), never to stdout, each line starting with `process`.
    ///
    /// - Parameters:
    ///   - ledger: the process's own ledger connection (one per process and file).
    ///   - home: the state home whose `nodes.json` names the nodes; without nodes this returns at once.
    ///   - interval: the pause between passes.
    ///   - transport: builds the HTTP transport for one pass (tests inject a fake node).
    ///   - process: the log prefix, e.g. `purser` or `purser vault`.
    ///   - log: one line per problem or per pass that decided something.
    public static func runPeriodically(
        ledger: Ledger, home: String, interval: Duration = defaultInterval,
        transport: @escaping @Sendable () -> any HTTPTransport = { defaultTransport() }, process: String = "purser",
        log: @escaping @Sendable (String) -> Void
    ) async {
        let configuration: NodeConfiguration
        do {
            configuration = try NodeConfiguration.load(path: NodeConfiguration.path(inHome: home))
        } catch {
            log("\(process): nodes.json: \(error.description)")
            return
        }
        guard !configuration.nodes.isEmpty else { return }
        while !Task.isCancelled {
            let (verifiers, problems) = await verifiers(configuration, transport: transport())
            for problem in problems { log("\(process): reconcile: \(problem)") }
            do {
                let summary = try await SettlementReconciler(ledger: ledger, verifiers: verifiers).reconcile()
                if !summary.verified.isEmpty || !summary.voided.isEmpty {
                    log(
                        "\(process): reconcile: \(summary.verified.count) verified, \(summary.voided.count) void, "
                            + "\(summary.pending.count) pending")
                }
            } catch {
                log("\(process): reconcile: the ledger failed (\(error.code))")
            }
            // Cancellation ends the sleep early (and the loop); nothing is pending between passes.
            try? await Task.sleep(for: interval)
        }
    }
}
