/// A seller's settlement response checked against what was signed, before it becomes a fact.
///
/// The response is the seller's word. It is consistent only when it names the signer as payer (or no
/// payer), the network that was signed for, a transaction that is a 32-byte hash, and (when it states one)
/// the signed amount. Anything else is a contradiction: never shown as paid, and the amount stays held.
public struct SettlementClaim: Sendable, Hashable {
    /// What the check found.
    public enum Verdict: Sendable, Hashable {
        /// Consistent with the signed authorization (not yet verified on chain).
        case consistent
        /// Inconsistent; each entry names one mismatch.
        case contradicted([String])
    }

    /// The transaction the seller named, as received.
    public let transaction: String
    /// The verdict.
    public let verdict: Verdict

    /// Checks `settlement` against the signed `record` (network as the offer named it, or CAIP-2).
    public static func check(_ settlement: Settlement, against record: AuthorizationRecord) -> SettlementClaim {
        var problems: [String] = []
        if !settlement.success { problems.append("the response reports no success") }
        if !isTransactionHash(settlement.transaction) {
            problems.append("the transaction is not a 32-byte hash")
        }
        if let payer = settlement.payer, payer.lowercased() != record.payer.lowercased() {
            problems.append("the payer is not the signer")
        }
        if !sameNetwork(settlement.network, record.network) {
            problems.append("the network is not the one signed for")
        }
        if let amount = settlement.amount, AtomicAmount(amount) != record.amount {
            problems.append("the amount is not the signed amount")
        }
        return SettlementClaim(
            transaction: settlement.transaction, verdict: problems.isEmpty ? .consistent : .contradicted(problems))
    }

    /// True for `0x` followed by exactly 64 hex digits.
    public static func isTransactionHash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 66, bytes[0] == 48, bytes[1] == 120 || bytes[1] == 88 else { return false }
        return bytes[2...].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
    }

    /// The same chain, whether named in CAIP-2 or by a v1 name.
    static func sameNetwork(_ claimed: String, _ signed: String) -> Bool {
        if claimed == signed { return true }
        let chain: (String) -> UInt64? = { (EVMNetwork.parseCAIP2($0) ?? EVMNetwork.parseV1Name($0))?.chainId }
        guard let left = chain(claimed), let right = chain(signed) else { return false }
        return left == right
    }
}
