import Foundation
import JSONCore
import Ledger

/// `purser-interop ledger …`: child processes for the ledger's multi-process tests
/// (`Tests/Interop/ledger`). Every step is printed as one JSON line *after* it is durable, so a test that
/// kills the process knows a lower bound of what happened.
///
/// - `ledger init --db PATH --agent ID --cap ATOMIC` → `{"session": "ses_…"}`
/// - `ledger race --db PATH --session ID --agent ID --count N --seed S --max-amount A`
///   reserves N random amounts (1…A); commits ~90% and releases the rest; prints each commit.
/// - `ledger pay --db PATH --session ID --agent ID --payments N --seed S --max-amount A`
///   runs `recover()`, then payments 0..<N, each under idempotency key `pay-<i>`: begin, reserve,
///   mark in doubt, then commit, release or leave in doubt (chosen by the seed). Keys already seen are
///   skipped, so a restarted worker never pays twice. `--sign-us U` sleeps U µs where signing would be.
/// - `ledger check --db PATH` → recover, verify, and the reservation counts by state.
struct LedgerWorkerTool: InteropTool {
    static let name = "ledger"

    static let limits = LimitsConfiguration(
        assets: [
            "USDC": .init(
                symbol: "USDC", decimals: 6, contracts: ["eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"])
        ],
        allowedNetworks: ["eip155:84532"], allowedAssets: ["USDC"], allowedPayees: .any)

    static func run(_ arguments: [String]) async throws -> Int32 {
        guard let mode = arguments.first else { throw WorkerError("missing mode: init, race, pay or check") }
        var options: [String: String] = [:]
        var index = 1
        while index < arguments.count {
            guard arguments[index].hasPrefix("--"), index + 1 < arguments.count else {
                throw WorkerError("bad argument \(arguments[index])")
            }
            options[String(arguments[index].dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        func option(_ name: String) throws -> String {
            guard let value = options[name] else { throw WorkerError("missing --\(name)") }
            return value
        }
        func number(_ name: String) throws -> Int64 {
            guard let value = Int64(try option(name)) else { throw WorkerError("--\(name) must be an integer") }
            return value
        }
        let ledger = try Ledger.open(path: try option("db"))
        switch mode {
        case "init":
            let session = try await ledger.grantSession(
                agent: try option("agent"), asset: "USDC", decimals: 6, cap: try number("cap"),
                ttlMilliseconds: 86_400_000)
            emit(["session": .string(session.id)])
        case "race":
            try await race(
                ledger, session: try option("session"), agent: try option("agent"), count: try number("count"),
                seed: UInt64(try number("seed")), maxAmount: try number("max-amount"))
        case "pay":
            try await pay(
                ledger, session: try option("session"), agent: try option("agent"), payments: try number("payments"),
                seed: UInt64(try number("seed")), maxAmount: try number("max-amount"),
                signMicroseconds: UInt32(options["sign-us"].flatMap { UInt32($0) } ?? 0))
        case "check":
            let recovery = try await ledger.recover()
            let verification = try await ledger.verify()
            var states: JSONObject = [:]
            for state in ReservationState.allCases { states[state.rawValue] = 0 }
            for reservation in try await ledger.reservations() {
                states[reservation.state.rawValue] = .number(
                    JSONNumber((states[reservation.state.rawValue]?.int64Value ?? 0) + 1))
            }
            emit([
                "verified": .bool(verification.isValid), "records": .number(JSONNumber(verification.records)),
                "problem": verification.problem.map { .string($0.description) } ?? .null, "states": .object(states),
                "releasedUnsigned": .number(JSONNumber(recovery.releasedUnsigned.count)),
            ])
        default:
            throw WorkerError("unknown mode \(mode)")
        }
        return 0
    }

    private static func request(session: String, agent: String, amount: Int64, digest: String) -> ReservationRequest {
        ReservationRequest(
            sessionID: session, agent: agent, tool: "bench", payee: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            network: "eip155:84532", asset: "USDC", amount: amount, purpose: "test.ledger", argumentsDigest: digest)
    }

    private static func race(
        _ ledger: Ledger, session: String, agent: String, count: Int64, seed: UInt64, maxAmount: Int64
    ) async throws {
        var random = SplitMix64(seed: seed)
        var committed: Int64 = 0
        var refused = 0
        for attempt in 0..<count {
            let amount = Int64(random.next() % UInt64(maxAmount)) + 1
            let outcome = try await ledger.reserve(
                request(session: session, agent: agent, amount: amount, digest: "race-\(seed)-\(attempt)"),
                limits: limits)
            guard case .reserved(let reservation, _) = outcome else {
                refused += 1
                continue
            }
            if random.next() % 10 == 0 {
                _ = try await ledger.release(reservation.id, reason: "not_signed")
                continue
            }
            guard
                case .applied = try await ledger.commit(
                    reservation.id, settledAmount: amount, transaction: "0x\(seed)\(attempt)", payer: "0xpayer")
            else { throw WorkerError("commit was not applied") }
            committed += amount
            emit(["op": "commit", "reservation": .string(reservation.id), "amount": .number(JSONNumber(amount))])
        }
        emit(["op": "done", "committed": .number(JSONNumber(committed)), "refused": .number(JSONNumber(refused))])
    }

    private static func pay(
        _ ledger: Ledger, session: String, agent: String, payments: Int64, seed: UInt64, maxAmount: Int64,
        signMicroseconds: UInt32
    ) async throws {
        let recovery = try await ledger.recover()
        emit([
            "op": "recovered", "releasedUnsigned": .number(JSONNumber(recovery.releasedUnsigned.count)),
        ])
        for payment in 0..<payments {
            // Per-payment randomness depends only on the seed and the payment, so a restart repeats choices.
            var random = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(payment))
            let key = "pay-\(payment)"
            let amount = Int64(random.next() % UInt64(maxAmount)) + 1
            switch try await ledger.beginIdempotent(
                agent: agent, key: key, tool: "worker", argumentsDigest: "args-\(payment)")
            {
            case .started: break
            case .replay, .inProgress, .conflict:
                continue
            }
            let outcome = try await ledger.reserve(
                request(session: session, agent: agent, amount: amount, digest: key), limits: limits)
            guard case .reserved(let reservation, _) = outcome else {
                try await ledger.completeIdempotent(agent: agent, key: key, result: #"{"refused":true}"#)
                emit(["op": "refused", "key": .string(key)])
                continue
            }
            emit(["op": "reserved", "key": .string(key), "reservation": .string(reservation.id)])
            // Stands in for signing (and, below, for the upstream round trip), so kills land in those windows.
            if signMicroseconds > 0 { usleep(signMicroseconds) }
            let validBefore = LedgerClock.system.now() / 1000 + 3600
            guard case .applied = try await ledger.markInDoubt(reservation.id, validBefore: validBefore) else {
                throw WorkerError("markInDoubt was not applied")
            }
            emit(["op": "signed", "key": .string(key), "reservation": .string(reservation.id)])
            if signMicroseconds > 0 { usleep(signMicroseconds / 2) }
            let choice = random.next() % 20
            if choice < 14 {
                guard
                    case .applied = try await ledger.commit(
                        reservation.id, settledAmount: amount, transaction: "0x\(payment)", payer: "0xpayer")
                else { throw WorkerError("commit was not applied") }
                emit([
                    "op": "committed", "key": .string(key), "reservation": .string(reservation.id),
                    "amount": .number(JSONNumber(amount)),
                ])
            } else if choice < 17 {
                _ = try await ledger.release(reservation.id, reason: "settlement_failed")
                emit(["op": "released", "key": .string(key), "reservation": .string(reservation.id)])
            } else {
                emit(["op": "in_doubt", "key": .string(key), "reservation": .string(reservation.id)])
            }
            try await ledger.completeIdempotent(agent: agent, key: key, result: #"{"paid":true}"#)
        }
        emit(["op": "done"])
    }

    private static func emit(_ object: JSONObject) {
        // A closed pipe (the test stopped reading) must not crash the worker mid-transaction.
        try? FileHandle.standardOutput.write(contentsOf: Data((JSONValue.object(object).serialized() + "\n").utf8))
    }
}

private struct WorkerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A small deterministic generator (SplitMix64) so worker runs repeat exactly for a seed.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
