import JSONCore
import Ledger

/// What one call did, for the hash-chained audit trail: codes, amounts and digests only.
struct CallTrace: Sendable {
    let tool: String
    let purpose: String
    var argumentsDigest = ""
    var outcome = "started"
    var reason: String?
    var callPolicy: String?
    var payPolicy: String?
    var offer: JSONObject?
    var rejectedOffers = 0
    var reservation: String?
    var approval: String?
    /// The spend plan the payment was a step of.
    var plan: String?
    /// Change detection: the codes of what changed and the action taken.
    var changes: [String] = []
    var changeAction: String?
    /// The policies that decided (ids only), and the facts the pay policy saw about changes.
    var callPolicies: [String] = []
    var payPolicies: [String] = []
    var changeFacts: ChangeFacts?
    /// Why a paid call's spend bought nothing (`upstream_error`), for the wasted-spend report.
    var wasted: String?
    /// How the approval was given: `elicitation`, `input_required` or `fallback_token`.
    var approvalChannel: String?
    /// The seller-signed receipt's verification (`SellerReceipt.Status.json`), for a settled payment.
    var sellerReceipt: JSONObject?
    var latencyMicroseconds: Int64 = 0
    var started: UInt64 = 0

    init(manifest: ToolManifest) {
        self.tool = manifest.name
        self.purpose = manifest.purpose
    }

    /// Refusals before the upstream (bad input) are not worth a ledger record; anything later is.
    var shouldRecord: Bool { reason != "invalid_arguments" }

    func payload(agent: String) -> JSONObject {
        var payload: JSONObject = [
            "agent": .string(agent), "tool": .string(tool), "purpose": .string(purpose),
            "args_digest": .string(argumentsDigest), "outcome": .string(outcome),
            "latency_us": .number(JSONNumber(latencyMicroseconds)),
        ]
        if let reason { payload["reason"] = .string(reason) }
        if let callPolicy { payload["call_policy"] = .string(callPolicy) }
        if let payPolicy { payload["pay_policy"] = .string(payPolicy) }
        if let offer { payload["offer"] = .object(offer) }
        if rejectedOffers > 0 { payload["rejected_offers"] = .number(JSONNumber(rejectedOffers)) }
        if let reservation { payload["reservation"] = .string(reservation) }
        if let approval { payload["approval"] = .string(approval) }
        if let plan { payload["plan"] = .string(plan) }
        if !changes.isEmpty { payload["changes"] = .array(changes.map { .string($0) }) }
        if let changeAction { payload["change_action"] = .string(changeAction) }
        if !callPolicies.isEmpty { payload["call_policies"] = .array(callPolicies.map { .string($0) }) }
        if !payPolicies.isEmpty { payload["pay_policies"] = .array(payPolicies.map { .string($0) }) }
        if let changeFacts {
            payload["change_facts"] = [
                "payeeIsNew": .bool(changeFacts.payeeIsNew), "networkChanged": .bool(changeFacts.networkChanged),
                "priceRatio": .string(AssetAmount.format(changeFacts.priceRatioScaled, decimals: 4)),
            ]
        }
        if let wasted { payload["wasted"] = .string(wasted) }
        if let approvalChannel { payload["approval_channel"] = .string(approvalChannel) }
        if let sellerReceipt { payload["seller_receipt"] = .object(sellerReceipt) }
        return payload
    }
}
