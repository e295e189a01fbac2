import X402

/// The validity window of the one authorization a governed call signs, bounded from the hold's end alone.
///
/// The hold is written before signing (`ReservationStep`), and the ledger records its end (`holdUntil`, the
/// reservation's `valid_before`) but not the `validAfter` the signer picks a moment later. Both ends of what
/// may be signed are fixed here instead, and `SigningStep` refuses to send an authorization outside them. So
/// the reconciler can bound where on chain the payment can be used (EIP-3009: `validAfter < block.timestamp <
/// validBefore`) from the ledger alone: a log search of a few thousand blocks instead of the whole chain.
enum SignedWindow {
    /// Room for the wall clock stepping back between the hold and the signature (an NTP correction).
    static let clockSlackSeconds: Int64 = 3600

    /// When a hold taken at `now` for an offer valid `maxTimeoutSeconds` ends: the latest `validBefore` its
    /// authorization may carry (the client's validity cap applied, two seconds of margin).
    static func holdUntil(now: Int64, maxTimeoutSeconds: Int64) -> Int64 {
        now + min(maxTimeoutSeconds, X402Client.Configuration().validityCap) + 2
    }

    /// The earliest `validAfter` an authorization of the hold ending at `holdUntil` may carry. The signer picks
    /// `validAfter = now − validAfterBackdate` at or after the hold's `now`, which is at least `holdUntil` minus
    /// the longest window and the backdate; the clock slack covers a clock set back in between.
    static func earliestValidAfter(holdUntil: Int64) -> Int64 {
        let configuration = X402Client.Configuration()
        return holdUntil - (configuration.validityCap + 2) - configuration.validAfterBackdate - clockSlackSeconds
    }
}
