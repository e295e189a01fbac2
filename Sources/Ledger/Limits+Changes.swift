/// What to do when a tool's payment differs from what it paid before (`"changes"` in `policies/limits.json`).
///
/// ```json
/// "changes": {
///   "newPayee": "approve", "changedNetwork": "approve",
///   "priceAbove": { "multiple": "3", "action": "approve" },
///   "facilitators": { "allow": ["https://x402.org/facilitator"], "action": "deny" },
///   "perTool": { "weather": { "newPayee": "deny" } }
/// }
/// ```
/// Without the key, a new payee or a changed network or asset pauses for approval and prices and
/// facilitators are not compared: a change of where money goes is never silent.
public struct ChangeRules: Sendable, Hashable {
    /// What a detected change leads to.
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Pay as usual (the change is still recorded in the trace and the Cedar context).
        case allow
        /// Pause until the human approves (the approval channels of the governed call).
        case approve
        /// Refuse the payment.
        case deny
    }

    /// A payee this tool has never paid, once the tool has paid someone.
    public var newPayee: Action
    /// A network or asset this tool has never paid in, once the tool has paid.
    public var changedNetwork: Action
    /// A price above `priceMultiple` × the highest the tool paid before in the same asset.
    public var priceAbove: Action
    /// The multiple, in hundredths (`"2.5"` → 250); nil compares no prices.
    public var priceMultipleHundredths: Int64?
    /// Facilitators the admin lists (compared exactly); nil checks none.
    public var facilitators: Set<String>?
    /// An offer naming a facilitator that is not listed.
    public var unlistedFacilitator: Action

    /// Creates rules (the defaults are those of a limits file without `"changes"`).
    public init(
        newPayee: Action = .approve, changedNetwork: Action = .approve, priceAbove: Action = .approve,
        priceMultipleHundredths: Int64? = nil, facilitators: Set<String>? = nil, unlistedFacilitator: Action = .approve
    ) {
        self.newPayee = newPayee
        self.changedNetwork = changedNetwork
        self.priceAbove = priceAbove
        self.priceMultipleHundredths = priceMultipleHundredths
        self.facilitators = facilitators
        self.unlistedFacilitator = unlistedFacilitator
    }
}

extension LimitsConfiguration {
    /// The change rules for `tool`: its `perTool` entry (which starts from the global rules), else the global ones.
    public func changeRules(for tool: String) -> ChangeRules {
        changeRulesByTool[tool] ?? changeRules
    }
}
