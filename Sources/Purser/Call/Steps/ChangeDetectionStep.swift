import JSONCore
import Ledger
import X402

/// Step 5b: compares the chosen payment with what the tool paid before (the ledger's settled payments).
///
/// A payee the tool never paid, a network or asset it never paid in, a price above the configured
/// multiple of the highest it paid, or a facilitator the admin has not listed (when the offer names one)
/// leads to what `"changes"` in limits.json says: allow, pause for the human (the approval step asks,
/// saying what changed) or deny. The facts also go to the pay policy (`context.payeeIsNew`, …). A tool
/// with no settled payment has nothing to compare with: its first payee is governed by `allow.payees`.
struct ChangeDetectionStep: CallStep {
    var name: String { "change detection" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard case .enabled(let rail) = environment.payments, let payment = state.payment else {
            return state.outOfOrder(name)
        }
        let history: [PaidDestination]
        do {
            history = try await rail.ledger.paymentHistory(tool: state.manifest.name)
        } catch {
            return .finish(.refused(.ledgerUnavailable))
        }
        let detected = Self.detect(
            payment: payment, history: history, rules: rail.limits.changeRules(for: state.manifest.name),
            tool: state.manifest.name)
        state.changeFacts = detected.facts
        guard !detected.changes.isEmpty else { return .proceed }
        state.trace.changes = detected.changes.map(\.code)
        if let denied = detected.changes.first(where: { $0.action == .deny }) {
            state.trace.changeAction = "deny"
            return .finish(
                .refused(
                    .changeDenied(
                        tool: state.manifest.name, payment: payment.summary, change: detected.description,
                        code: denied.code)))
        }
        if detected.changes.contains(where: { $0.action == .approve }) {
            state.trace.changeAction = "approve"
            state.changeToApprove = detected.description
        } else {
            state.trace.changeAction = "allow"
        }
        return .proceed
    }

    /// One difference from the history and the action the rules give it.
    struct Change: Sendable, Hashable {
        /// `payee_new`, `network_changed`, `asset_changed`, `price_above`, `facilitator_unlisted`.
        var code: String
        var action: ChangeRules.Action
    }

    /// What the comparison found.
    struct Detection: Sendable {
        var facts: ChangeFacts
        var changes: [Change]
        /// For the human, e.g. "weather paid 0x2096… on Base Sepolia before; it now asks 0xf5E3… on Base".
        var description: String
    }

    /// Compares one payment with the tool's history (pure: unit-tested without a ledger).
    static func detect(
        payment: CallState.ChosenPayment, history: [PaidDestination], rules: ChangeRules, tool: String
    ) -> Detection {
        let payee = payment.offer.payTo.text
        let network = payment.offer.network.caip2
        let asset = payment.asset.symbol
        var facts = ChangeFacts()
        var changes: [Change] = []
        var parts: [String] = []
        if !history.isEmpty {
            facts.payeeIsNew = !history.contains { $0.payee.lowercased() == payee.lowercased() }
            let networkNew = !history.contains { $0.network == network }
            let assetNew = !history.contains { $0.asset == asset }
            facts.networkChanged = networkNew || assetNew
            if facts.payeeIsNew { changes.append(Change(code: "payee_new", action: rules.newPayee)) }
            if networkNew { changes.append(Change(code: "network_changed", action: rules.changedNetwork)) }
            if assetNew { changes.append(Change(code: "asset_changed", action: rules.changedNetwork)) }
            if facts.payeeIsNew || facts.networkChanged {
                let last = history[history.count - 1]
                parts.append(
                    "\(tool) paid \(short(last.payee)) on \(networkName(last.network))"
                        + (assetNew ? " in \(last.asset)" : "") + " before; it now asks \(short(payee)) on "
                        + networkName(network) + (assetNew ? " in \(asset)" : ""))
            }
            let highest = history.filter { $0.asset == asset }.map(\.highestAmount).max()
            if let highest, highest > 0 {
                facts.priceRatioScaled = ratioScaled(payment.amount, over: highest)
                if let multiple = rules.priceMultipleHundredths, isAbove(payment.amount, highest, hundredths: multiple)
                {
                    changes.append(Change(code: "price_above", action: rules.priceAbove))
                    let ratio = AssetAmount.format(facts.priceRatioScaled, decimals: 4)
                    let limit = AssetAmount.format(multiple, decimals: 2)
                    parts.append(
                        "\(tool) now asks \(payment.summary.display), \(ratio)× the most it paid before (above the \(limit)× limit)"
                    )
                }
            }
        }
        // x402 requirements name no facilitator; a seller that names one in `extra` is checked against the list.
        if let listed = rules.facilitators {
            let named = payment.offer.raw["extra"]?["facilitator"]?.stringValue
            if let named, !listed.contains(named) {
                changes.append(Change(code: "facilitator_unlisted", action: rules.unlistedFacilitator))
                parts.append("\(tool)'s seller names the facilitator \(named), which is not listed")
            }
        }
        return Detection(facts: facts, changes: changes, description: parts.joined(separator: "; "))
    }

    /// `amount / highest` × 10⁴, rounded up, saturating (exact integer arithmetic).
    static func ratioScaled(_ amount: Int64, over highest: Int64) -> Int64 {
        let numerator = Int128(amount) * 10_000
        let quotient = (numerator + Int128(highest) - 1) / Int128(highest)
        return quotient > Int128(Int64.max) ? Int64.max : Int64(quotient)
    }

    /// `amount > highest × hundredths / 100`, exactly.
    static func isAbove(_ amount: Int64, _ highest: Int64, hundredths: Int64) -> Bool {
        Int128(amount) * 100 > Int128(highest) * Int128(hundredths)
    }

    /// `0x2096…` — enough of an address for the human to see it changed.
    static func short(_ address: String) -> String {
        address.count > 6 ? String(address.prefix(6)) + "…" : address
    }

    /// A readable network name for the common chains, the CAIP-2 id otherwise.
    static func networkName(_ caip2: String) -> String {
        let names = [
            "eip155:8453": "Base", "eip155:84532": "Base Sepolia", "eip155:1": "Ethereum",
            "eip155:11155111": "Sepolia", "eip155:137": "Polygon", "eip155:43114": "Avalanche",
        ]
        return names[caip2] ?? caip2
    }
}
