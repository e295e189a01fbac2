public import FoundationEssentials
public import JSONCore
public import Ledger
public import OwnerSigning

/// What one owner action does once its request is verified: runs against the vault's state and returns
/// a line for the owner, or throws a refusal (which changes nothing).
public typealias OwnerActionHandler = @Sendable (_ parameters: JSONObject) async throws(OwnerActionRefusal) -> String

/// An owner action that could not run: the parameters are wrong, or the state forbids it.
public struct OwnerActionRefusal: Error, Sendable, Hashable {
    /// What went wrong, for the owner.
    public var message: String

    /// Creates a refusal.
    public init(_ message: String) {
        self.message = message
    }
}

/// The vault's desk for the owner's authority: verifies each signed request (owner key, freshness,
/// single use), then runs the named action.
///
/// Actions are a registry, so other features plug in theirs (for example `ledger.resolve` from the
/// settlement-evidence work) with ``register(_:_:)`` without touching the verification.
public actor OwnerDesk {
    private let record: OwnerKeyRecord
    private let verifier: OwnerRequestVerifier
    private let nonces: NonceStore
    private let now: @Sendable () -> Int64
    private var actions: [String: OwnerActionHandler] = [:]

    /// The result of one request.
    public struct Outcome: Sendable, Hashable {
        /// True when the action ran.
        public var accepted: Bool
        /// Refusal code (`bad_signature`, `replayed_request`, `unknown_action`, `refused`, …), nil when accepted.
        public var code: String?
        /// What happened, for the owner.
        public var message: String
    }

    /// Creates a desk for the owner in `record`, storing used nonces in `nonces`; `now` is unix milliseconds.
    public init(
        record: OwnerKeyRecord, nonces: NonceStore,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.record = record
        self.verifier = OwnerRequestVerifier(record: record)
        self.nonces = nonces
        self.now = now
    }

    /// The public record owner commands need to derive the key (address, KDF, salt).
    public var publicRecord: OwnerKeyRecord { record }

    /// Adds or replaces the handler of `action`.
    public func register(_ action: String, _ handler: @escaping OwnerActionHandler) {
        actions[action] = handler
    }

    /// The registered action names, sorted.
    public var actionNames: [String] { actions.keys.sorted() }

    /// Verifies and runs one request. The nonce is stored durably before the action runs, so a request
    /// whose action fails cannot be replayed either.
    public func handle(_ wire: JSONValue) async -> Outcome {
        let request: OwnerRequest
        do {
            request = try OwnerRequest.parse(wire)
            try verifier.verify(request, now: now())
        } catch {
            return Outcome(accepted: false, code: error.code.rawValue, message: error.message)
        }
        guard let handler = actions[request.action] else {
            return Outcome(
                accepted: false, code: "unknown_action",
                message:
                    "this vault has no owner action \"\(request.action)\" (it has \(actionNames.joined(separator: ", ")))"
            )
        }
        do {
            try nonces.claim(request.nonce, timestamp: request.timestamp)
        } catch {
            return Outcome(accepted: false, code: error.code.rawValue, message: error.message)
        }
        do {
            return Outcome(accepted: true, code: nil, message: try await handler(request.parameters))
        } catch {
            return Outcome(accepted: false, code: "refused", message: error.message)
        }
    }
}

/// The built-in owner actions over the vault's ledger: session grant and revoke, approval, and the end
/// user's settlement decision.
public enum StandardOwnerActions {
    /// Registers `session.grant`, `session.revoke`, `approve` and `ledger.resolve` on `desk`.
    public static func register(on desk: OwnerDesk, ledger: Ledger, limitsPath: String) async {
        await desk.register("session.grant") { parameters throws(OwnerActionRefusal) in
            try await grant(parameters, ledger: ledger, limitsPath: limitsPath)
        }
        await desk.register("session.revoke") { parameters throws(OwnerActionRefusal) in
            let id = try string(parameters, "id", allowed: ["id"])
            do {
                switch try await ledger.revokeSession(id) {
                case .revoked: return "revoked session \(id)"
                case .alreadyRevoked: return "session \(id) was already revoked"
                case .unknownSession: throw OwnerActionRefusal("no session \(id)")
                }
            } catch let error as OwnerActionRefusal {
                throw error
            } catch {
                throw OwnerActionRefusal("the ledger refused: \(error)")
            }
        }
        await desk.register("ledger.resolve") { parameters throws(OwnerActionRefusal) in
            try await resolve(parameters, ledger: ledger)
        }
        await desk.register("approve") { parameters throws(OwnerActionRefusal) in
            let id = try string(parameters, "id", allowed: ["id"])
            if id.hasPrefix("pln_") { return try await approvePlan(id, ledger: ledger) }
            let approved: Bool
            let approval: Approval?
            do {
                approval = try await ledger.approval(id: id)
                approved = approval == nil ? false : try await ledger.approve(id)
            } catch {
                throw OwnerActionRefusal("the ledger refused: \(error)")
            }
            guard let approval else { throw OwnerActionRefusal("no approval \(id)") }
            guard approved else {
                throw OwnerActionRefusal("\(id) is \(approval.state.rawValue) or expired; nothing changed")
            }
            return
                "approved \(id): \(approval.agent) may pay \(approval.amount) atomic \(approval.asset) to \(approval.payee) for \(approval.tool), once"
        }
    }

    /// A spend plan (`pln_…`): approving reserves its total from the session.
    private static func approvePlan(_ id: String, ledger: Ledger) async throws(OwnerActionRefusal) -> String {
        let outcome: PlanApprovalOutcome
        do {
            outcome = try await ledger.approvePlan(id, by: "end_user")
        } catch {
            throw OwnerActionRefusal("the ledger refused: \(error)")
        }
        switch outcome {
        case .approved(let status), .alreadyApproved(let status):
            return
                "approved plan \(id): \(status.plan.total) atomic \(status.plan.asset) reserved for \(status.plan.agent)"
        case .unknownPlan: throw OwnerActionRefusal("no plan \(id)")
        case .closed, .expired: throw OwnerActionRefusal("plan \(id) is closed or expired; nothing changed")
        case .sessionUnusable(_, let problem): throw OwnerActionRefusal("the plan's session is \(problem)")
        case .exceedsSession(_, let remaining):
            throw OwnerActionRefusal("the plan's total is more than the session's \(remaining) atomic left")
        }
    }

    /// `ledger.resolve {id, outcome: "settled" | "void", transaction?, note}`: the owner decides a held
    /// payment, as `purser ledger resolve` does in single-user mode (the ledger audits it with the note).
    private static func resolve(_ parameters: JSONObject, ledger: Ledger) async throws(OwnerActionRefusal) -> String {
        let allowed: Set<String> = ["id", "outcome", "transaction", "note"]
        let id = try string(parameters, "id", allowed: allowed)
        let note = try string(parameters, "note", allowed: allowed)
        let resolution: Resolution
        switch try string(parameters, "outcome", allowed: allowed) {
        case "settled":
            let transaction = try string(parameters, "transaction", allowed: allowed).lowercased()
            guard transaction.utf8.count == 66, transaction.hasPrefix("0x"),
                transaction.utf8.dropFirst(2).allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
            else { throw OwnerActionRefusal("\"transaction\" must be a transaction hash (0x + 64 hex)") }
            resolution = .settled(transaction: transaction)
        case "void":
            guard parameters["transaction"] == nil else {
                throw OwnerActionRefusal("\"transaction\" is only for outcome \"settled\"")
            }
            resolution = .void
        default:
            throw OwnerActionRefusal("\"outcome\" must be \"settled\" or \"void\"")
        }
        let outcome: TransitionOutcome
        do {
            outcome = try await ledger.resolve(id, resolution, note: note)
        } catch {
            throw OwnerActionRefusal("the ledger refused: \(error)")
        }
        switch outcome {
        case .applied(let reservation), .alreadyApplied(let reservation):
            return "\(reservation.id): \(reservation.state.rawValue)"
        case .notAllowed(_, let reason):
            throw OwnerActionRefusal("\(id): \(reason); nothing changed")
        case .unknownReservation:
            throw OwnerActionRefusal("no reservation \(id)")
        }
    }

    static func string(_ parameters: JSONObject, _ key: String, allowed: Set<String>) throws(OwnerActionRefusal)
        -> String
    {
        if let unknown = Set(parameters.keys).subtracting(allowed).sorted().first {
            throw OwnerActionRefusal("unknown parameter \"\(unknown)\"")
        }
        guard let value = parameters[key]?.stringValue, (1...128).contains(value.utf8.count) else {
            throw OwnerActionRefusal("\"\(key)\" must be a short string")
        }
        return value
    }

    private static func grant(_ parameters: JSONObject, ledger: Ledger, limitsPath: String)
        async throws(OwnerActionRefusal) -> String
    {
        let allowed: Set<String> = ["agent", "budget", "asset", "ttl", "perCall", "requirePlan"]
        let agent = try string(parameters, "agent", allowed: allowed)
        var requirePlan = false
        if let flag = parameters["requirePlan"] {
            guard let value = flag.boolValue else { throw OwnerActionRefusal("\"requirePlan\" must be a boolean") }
            requirePlan = value
        }
        func optional(_ key: String) throws(OwnerActionRefusal) -> String? {
            guard let raw = parameters[key] else { return nil }
            guard let text = raw.stringValue else { throw OwnerActionRefusal("\"\(key)\" must be a string") }
            return text
        }
        let limits: LimitsConfiguration
        do {
            limits = try LimitsConfiguration.load(path: limitsPath)
        } catch {
            throw OwnerActionRefusal("\(limitsPath) is missing or invalid; grant nothing")
        }
        let defaults = limits.sessionDefaults
        guard let symbol = try optional("asset") ?? defaults?.asset else {
            throw OwnerActionRefusal("\"asset\" is required (limits.json has no sessionDefaults.asset)")
        }
        guard let asset = limits.assets[symbol] else { throw OwnerActionRefusal("unknown asset \(symbol)") }
        func amount(_ text: String, _ key: String) throws(OwnerActionRefusal) -> Int64 {
            switch AssetAmount.parse(text, decimals: asset.decimals) {
            case .success(let value): return value
            case .failure(let error): throw OwnerActionRefusal("\"\(key)\": \(error.message)")
            }
        }
        let sameAsset = defaults?.asset == symbol
        let cap: Int64
        if let text = try optional("budget") {
            cap = try amount(text, "budget")
        } else if sameAsset, let budget = defaults?.budget {
            cap = budget
        } else {
            throw OwnerActionRefusal("\"budget\" is required")
        }
        let perCall =
            try optional("perCall").map { (text) throws(OwnerActionRefusal) in try amount(text, "perCall") }
            ?? (sameAsset ? defaults?.perCall : nil)
        var ttl = defaults?.ttlMilliseconds ?? 86_400_000
        if let text = try optional("ttl") {
            guard let parsed = parseDurationMilliseconds(text) else {
                throw OwnerActionRefusal("\"ttl\": expected a duration like 24h, 90m or 3600s")
            }
            ttl = parsed
        }
        do {
            let session = try await ledger.grantSession(
                agent: agent, asset: symbol, decimals: asset.decimals, cap: cap, ttlMilliseconds: ttl,
                perCallCap: perCall, requirePlan: requirePlan)
            return
                "granted session \(session.id) to \(agent): \(AssetAmount.format(cap, decimals: asset.decimals)) \(symbol)"
        } catch {
            throw OwnerActionRefusal("the ledger refused: \(error)")
        }
    }
}
