import FoundationEssentials
import JSONCore
import Ledger
import Purser

/// A missing or unusable state home (exit status 1, not a usage error).
struct LedgerHomeError: Error, CustomStringConvertible {
    var description: String
}

/// Where the ledger and the limits live, resolved from the shared options (see `RuntimeConfiguration`).
enum LedgerHome {
    /// Resolves `--home` (and `--policies` when `policies` is set) with the environment and the home's
    /// `config.json`.
    static func configuration(_ arguments: inout Arguments, policies: Bool = false) throws -> RuntimeConfiguration {
        let home = try arguments.option("home")
        let ledger = try arguments.option("ledger")
        let policiesOption = policies ? try arguments.option("policies") : nil
        return try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: policiesOption, home: home, ledger: ledger)
    }

    /// The state home alone, resolved like everything else (for commands that need nothing more).
    static func directory(_ arguments: inout Arguments) throws -> String {
        try configuration(&arguments).homeDirectory
    }

    /// Opens the ledger in `home` (see `open(_:create:)`; the error's hint treats `home` as resolved here).
    static func open(home: String, create: Bool) throws -> Ledger {
        let configuration = try RuntimeConfiguration.resolve(agent: nil, tools: nil, policies: nil, home: home)
        return try open(configuration, create: create)
    }

    /// The ledger database inside a home.
    static func databasePath(home: String) -> String { Ledger.path(inHome: home) }

    /// Opens the ledger, creating the home (mode 0700) when `create` is set; otherwise a missing ledger is
    /// an error naming the path tried and how to point elsewhere, rather than a new empty file.
    ///
    /// A PostgreSQL ledger (`--ledger postgres://…`, `$PURSER_LEDGER`, or `"ledger"` in the home's
    /// `config.json`) gets its schema when `create` is set; otherwise a database without one is the same
    /// error, naming the URL and where it came from, and nothing is created in it.
    static func open(_ configuration: RuntimeConfiguration, create: Bool) throws -> Ledger {
        let location = try configuration.ledgerLocation()
        guard case .sqlite(let path) = location else {
            if create { return try Ledger.open(location: location) }
            guard let ledger = try existing(location) else {
                throw LedgerHomeError(description: noPostgresLedger(location, configuration))
            }
            return ledger
        }
        let home = configuration.homeDirectory
        if !FileManager.default.fileExists(atPath: path) {
            guard create else {
                throw LedgerHomeError(
                    description: configuration.cannotRead(
                        path, in: .home,
                        why:
                            "no ledger there yet (`purser session grant --agent NAME` creates it; `purser init` does both)"
                    ))
            }
            try FileManager.default.createDirectory(
                atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        return try Ledger.open(path: path)
    }

    /// The ledger at `location`, or nil where there is none yet (and nothing is created there).
    static func existing(_ location: LedgerLocation) throws(LedgerError) -> Ledger? {
        do {
            return try Ledger.open(location: location, create: false)
        } catch {
            if error.code == .notFound { return nil }
            throw error
        }
    }

    /// "cannot read the PostgreSQL ledger URL: no ledger there yet (…). The ledger is URL, from …; …" for a
    /// database without Purser's schema.
    static func noPostgresLedger(_ location: LedgerLocation, _ configuration: RuntimeConfiguration) -> String {
        "cannot read the PostgreSQL ledger \(location): no ledger there yet "
            + "(`purser session grant --agent NAME` creates it). The ledger is \(location), "
            + "\(configuration.ledgerSource); pass --ledger URL or set PURSER_LEDGER"
    }

    /// `<policies>/limits.json`; a missing file names the path tried and the flag or variable that moves it.
    static func limits(_ configuration: RuntimeConfiguration) throws -> LimitsConfiguration {
        let path = configuration.limitsPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerHomeError(description: configuration.cannotRead(path, in: .policies))
        }
        return try LimitsConfiguration.load(path: path)
    }

    /// An amount in whole units with its symbol.
    static func display(_ atomic: Int64, decimals: Int, asset: String) -> String {
        AssetAmount.format(atomic, decimals: decimals) + " " + asset
    }

    /// UTC time of unix milliseconds, e.g. `2026-05-21T10:00:00Z`.
    static func time(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000)).formatted(Date.ISO8601FormatStyle())
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : TextFormat.padded(cell, to: widths[index])
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// `purser session grant|list|revoke`: the end user's controls over what agents may spend.
struct SessionCommand: Subcommand {
    static let name = "session"
    static let summary = "grant, list and revoke payment sessions"
    static let usage = """
        purser session grant --agent ID --budget AMOUNT [--asset SYM] [--ttl 24h|90m|3600s] [--per-call AMOUNT] \
        [--require-plan] [--home DIR] [--ledger PATH|URL] [--policies DIR]
               purser session list [--json] [--home DIR] [--ledger PATH|URL]
               purser session revoke ID [--home DIR] [--ledger PATH|URL]
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let action = try arguments.positional("action (grant, list or revoke)")
        let configuration = try LedgerHome.configuration(&arguments, policies: action == "grant")
        switch action {
        case "grant": return try await grant(&arguments, configuration: configuration)
        case "list": return try await list(&arguments, configuration: configuration)
        case "revoke":
            let id = try arguments.positional("session id")
            try arguments.finish()
            let ledger = try LedgerHome.open(configuration, create: false)
            switch try await ledger.revokeSession(id) {
            case .revoked:
                printOut("revoked session \(id); running servers refuse it at their next payment")
                return 0
            case .alreadyRevoked:
                printOut("session \(id) was already revoked")
                return 0
            case .unknownSession:
                printError("purser session revoke: no session \(id)")
                return 1
            }
        default:
            throw UsageError(description: "unknown action '\(action)'")
        }
    }

    private static func grant(_ arguments: inout Arguments, configuration: RuntimeConfiguration) async throws -> Int32 {
        let agent = try arguments.option("agent")
        let budgetText = try arguments.option("budget")
        let assetOption = try arguments.option("asset")
        let ttlText = try arguments.option("ttl")
        let perCallText = try arguments.option("per-call")
        let requirePlan = try arguments.flag("require-plan")
        try arguments.finish()
        let limits = try LedgerHome.limits(configuration)
        guard let agent else { throw UsageError(description: "--agent is required") }
        let defaults = limits.sessionDefaults
        guard let symbol = assetOption ?? defaults?.asset else {
            throw UsageError(description: "--asset is required (limits.json has no sessionDefaults.asset)")
        }
        guard let asset = limits.assets[symbol] else {
            throw UsageError(
                description: "unknown asset \(symbol); limits.json declares \(limits.assets.keys.sorted())")
        }
        func amount(_ text: String, _ option: String) throws -> Int64 {
            switch AssetAmount.parse(text, decimals: asset.decimals) {
            case .success(let value): return value
            case .failure(let error): throw UsageError(description: "--\(option): \(error.message)")
            }
        }
        let sameAsset = defaults?.asset == symbol
        let cap: Int64
        if let budgetText {
            cap = try amount(budgetText, "budget")
        } else if sameAsset, let budget = defaults?.budget {
            cap = budget
        } else {
            throw UsageError(description: "--budget is required")
        }
        let perCall = try perCallText.map { try amount($0, "per-call") } ?? (sameAsset ? defaults?.perCall : nil)
        let ttl: Int64
        if let ttlText {
            guard let parsed = parseDurationMilliseconds(ttlText) else {
                throw UsageError(description: "--ttl: expected a duration like 24h, 90m or 3600s")
            }
            ttl = parsed
        } else {
            ttl = defaults?.ttlMilliseconds ?? 86_400_000
        }
        let ledger = try LedgerHome.open(configuration, create: true)
        let session = try await ledger.grantSession(
            agent: agent, asset: symbol, decimals: asset.decimals, cap: cap, ttlMilliseconds: ttl, perCallCap: perCall,
            requirePlan: requirePlan)
        var line =
            "granted session \(session.id) to \(agent): "
            + "\(LedgerHome.display(cap, decimals: asset.decimals, asset: symbol)) until \(LedgerHome.time(session.expiresAt))"
        if let perCall {
            line += ", at most \(LedgerHome.display(perCall, decimals: asset.decimals, asset: symbol)) per call"
        }
        if requirePlan { line += "; paid calls need an approved spend plan" }
        printOut(line)
        return 0
    }

    private static func list(_ arguments: inout Arguments, configuration: RuntimeConfiguration) async throws -> Int32 {
        let json = try arguments.flag("json")
        try arguments.finish()
        let path = configuration.ledger
        let location = try configuration.ledgerLocation()
        guard let ledger = try LedgerHome.existing(location) else {
            if json {
                printOut("[]")
            } else if location.isPostgres {
                printOut("no sessions: \(LedgerHome.noPostgresLedger(location, configuration))")
            } else {
                printOut("no sessions: \(configuration.cannotRead(path, in: .home, why: "no ledger there"))")
            }
            return 0
        }
        let usages = try await ledger.sessions()
        let now = LedgerClock.system.now()
        func status(_ session: PaymentSession) -> String {
            session.status == .revoked ? "revoked" : (now >= session.expiresAt ? "expired" : "active")
        }
        if json {
            let array: [JSONValue] = usages.map { usage in
                let session = usage.session
                let show = { (atomic: Int64) in JSONValue.string(AssetAmount.format(atomic, decimals: session.decimals))
                }
                var object: JSONObject = [
                    "id": .string(session.id), "agent": .string(session.agent), "asset": .string(session.asset),
                    "decimals": .number(JSONNumber(session.decimals)), "status": .string(status(session)),
                    "capAtomic": .number(JSONNumber(session.cap)), "cap": show(session.cap),
                    "spentAtomic": .number(JSONNumber(usage.committed)), "spent": show(usage.committed),
                    "inFlightAtomic": .number(JSONNumber(usage.inFlight)), "inFlight": show(usage.inFlight),
                    "remainingAtomic": .number(JSONNumber(usage.remaining)), "remaining": show(usage.remaining),
                    "createdAt": .string(LedgerHome.time(session.createdAt)),
                    "expiresAt": .string(LedgerHome.time(session.expiresAt)),
                    "requiresPlan": .bool(session.requiresPlan),
                ]
                if let perCall = session.perCallCap {
                    object["perCallAtomic"] = .number(JSONNumber(perCall))
                    object["perCall"] = show(perCall)
                }
                return .object(object)
            }
            printOut(JSONValue.array(array).serialized())
            return 0
        }
        guard !usages.isEmpty else {
            printOut("no sessions")
            return 0
        }
        let rows = usages.map { usage -> [String] in
            let session = usage.session
            let show = { (atomic: Int64) in LedgerHome.display(atomic, decimals: session.decimals, asset: session.asset)
            }
            return [
                session.id, session.agent, show(session.cap), show(usage.committed), show(usage.inFlight),
                show(usage.remaining), session.perCallCap.map(show) ?? "-", LedgerHome.time(session.expiresAt),
                status(session),
            ]
        }
        printOut(
            LedgerHome.table(
                ["SESSION", "AGENT", "BUDGET", "SPENT", "IN FLIGHT", "REMAINING", "PER CALL", "EXPIRES", "STATUS"], rows
            ))
        return 0
    }
}
