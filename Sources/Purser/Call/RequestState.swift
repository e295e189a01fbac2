import EVMSigning
import FoundationEssentials
import Glibc
import JSONCore
import X402

/// The MRTR `requestState` for a payment approval: integrity-protected and bound to one payment.
///
/// The state is attacker-controlled (the client echoes it), so it carries an HMAC-SHA256 over its
/// payload with a key kept in the state home. It names an approval record in the ledger, which makes it
/// single-use server-side: redeeming the approval is what lets the payment proceed, and a redeemed
/// approval never works again.
struct ApprovalRequestState: Sendable, Hashable {
    /// The ledger approval it redeems.
    var approvalID: String
    /// What it is bound to.
    var agent: String
    var tool: String
    var argumentsDigest: String
    var amountAtomic: Int64
    var payee: String
    /// Expiry, unix seconds.
    var expiresAt: Int64

    private var payload: JSONValue {
        [
            "v": 1, "apr": .string(approvalID), "agent": .string(agent), "tool": .string(tool),
            "args": .string(argumentsDigest), "amount": .number(JSONNumber(amountAtomic)), "payee": .string(payee),
            "exp": .number(JSONNumber(expiresAt)),
        ]
    }

    /// `base64(payload).hex(hmac)`.
    func encode(key: [UInt8]) -> String {
        let body = payload.serializedBytes(sortedKeys: true)
        let mac = HMACSHA256.authenticationCode(key: key, message: body)
        return Base64.encode(body) + "." + Hex.encode(mac)
    }

    /// Decodes and authenticates a state; nil when it was not made with `key` or is malformed.
    static func decode(_ text: String, key: [UInt8]) -> ApprovalRequestState? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let body = try? Base64.decode(String(parts[0])) else { return nil }
        let expected = HMACSHA256.authenticationCode(key: key, message: body)
        let given = Array(String(parts[1]).utf8)
        let expectedHex = Array(Hex.encode(expected).utf8)
        // Compare every byte: no early exit on the first difference.
        guard given.count == expectedHex.count else { return nil }
        var difference: UInt8 = 0
        for index in 0..<given.count { difference |= given[index] ^ expectedHex[index] }
        guard difference == 0, let value = try? JSONParser.parse(body), value["v"] == 1,
            let approvalID = value["apr"]?.stringValue, let agent = value["agent"]?.stringValue,
            let tool = value["tool"]?.stringValue, let arguments = value["args"]?.stringValue,
            let amount = value["amount"]?.int64Value, let payee = value["payee"]?.stringValue,
            let expiresAt = value["exp"]?.int64Value
        else { return nil }
        return ApprovalRequestState(
            approvalID: approvalID, agent: agent, tool: tool, argumentsDigest: arguments, amountAtomic: amount,
            payee: payee, expiresAt: expiresAt)
    }
}

/// The key that protects request states: 32 random bytes in `<home>/approval.key`, mode 0600.
enum ApprovalKey {
    static func loadOrCreate(home: String) -> [UInt8]? {
        let path = PathText.join(home, "approval.key")
        // Owner-only like signer.json: a key others could read or plant would let them forge approvals.
        let existing: [UInt8]?
        do { existing = try OwnerOnlyFile.read(path, what: "the approval key") } catch { return nil }
        if let existing { return existing.count == 32 ? existing : nil }
        guard let bytes = try? SecureRandom.bytes(32) else { return nil }
        try? FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            // Another process created it first: use theirs.
            guard let theirs = try? OwnerOnlyFile.read(path, what: "the approval key"), theirs.count == 32 else {
                return nil
            }
            return theirs
        }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, 32) }
        guard written == 32, fsync(descriptor) == 0 else { return nil }
        return bytes
    }
}
