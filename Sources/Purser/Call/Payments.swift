import FoundationEssentials
public import Ledger
public import X402

/// Everything paying needs, all present: a pipeline holding one can pay; one without cannot.
public struct PaymentRail: Sendable {
    /// The durable ledger.
    public let ledger: any PaymentLedger
    /// `policies/limits.json`.
    public let limits: LimitsConfiguration
    /// The wallet.
    public let signer: any Signer
    /// HMAC key for MRTR request states.
    public let approvalKey: [UInt8]
    /// Unix seconds now (injected for tests).
    public let clock: @Sendable () -> Int64
    /// What selection may accept, derived once from the limits (they do not change for a pipeline).
    let selectionPolicy: SelectionPolicy

    /// Creates a rail.
    public init(
        ledger: any PaymentLedger, limits: LimitsConfiguration, signer: any Signer, approvalKey: [UInt8],
        clock: @escaping @Sendable () -> Int64
    ) {
        self.ledger = ledger
        self.limits = limits
        self.signer = signer
        self.approvalKey = approvalKey
        self.clock = clock
        self.selectionPolicy = PaymentEnvironment.selectionPolicy(limits: limits)
    }
}

/// Whether a pipeline pays: enabled with every piece, or disabled with the reasons (a 402 is then refused).
public enum Payments: Sendable {
    /// Paying is possible.
    case enabled(PaymentRail)
    /// Paying is not possible, for these reasons; the ledger (when one exists) still keeps idempotency
    /// keys and the audit trail.
    case disabled(reasons: [String], ledger: (any PaymentLedger)?)

    /// The ledger for idempotency and traces, whether or not paying is enabled.
    var ledger: (any PaymentLedger)? {
        switch self {
        case .enabled(let rail): return rail.ledger
        case .disabled(_, let ledger): return ledger
        }
    }

    /// The clock for signing windows.
    var clock: @Sendable () -> Int64 {
        if case .enabled(let rail) = self { return rail.clock }
        return { Int64(Date().timeIntervalSince1970) }
    }
}
