import EVMSigning
import JSONCore
import Ledger
import MCP

/// Step 3: claims the idempotency key (replay, conflict, in progress). Without a key, nothing happens.
struct IdempotencyClaimStep: CallStep {
    var name: String { "idempotency claim" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        guard let key = state.idempotencyKey else { return .proceed }
        guard (1...128).contains(key.count) else { return .finish(.refused(.idempotencyKeyLength)) }
        guard let ledger = environment.payments.ledger else { return .finish(.refused(.idempotencyWithoutLedger)) }
        let name = Self.ledgerName(key)
        let begin: IdempotencyBegin
        do {
            begin = try await ledger.beginIdempotent(
                agent: state.caller.agent, key: name, tool: state.manifest.name,
                argumentsDigest: state.trace.argumentsDigest)
        } catch {
            return .finish(.refused(.ledgerUnavailable))
        }
        switch begin {
        case .started:
            state.idempotencyClaim = name
            return .proceed
        case .replay(let stored): return .finish(.replayed(Self.replayed(stored)))
        case .inProgress: return .finish(.refused(.idempotencyInProgress))
        case .conflict: return .finish(.refused(.idempotencyConflict))
        }
    }

    /// Ledger names allow a restricted alphabet; keys are hashed so any key text is accepted.
    static func ledgerName(_ key: String) -> String {
        "k" + Hex.encode(Array(SHA256.hash(Array(key.utf8)).prefix(16)))
    }

    /// The stored result, marked as replayed.
    static func replayed(_ stored: String) -> ToolResult {
        guard let value = try? JSONParser.parse(stored), let object = value.objectValue else {
            return ToolResult.failure(
                "The stored result for this idempotency key could not be read; nothing was paid again.")
        }
        var result = ToolResult(
            content: object["content"]?.arrayValue ?? [], structuredContent: object["structuredContent"],
            isError: object["isError"]?.boolValue ?? false, meta: object["_meta"]?.objectValue)
        var meta = result.meta ?? JSONObject()
        meta["com.purser/replayed"] = true
        result.meta = meta
        return result
    }
}
