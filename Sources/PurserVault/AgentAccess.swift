import FoundationEssentials
import JSONCore

#if canImport(Glibc)
    import Glibc
#endif

/// Which OS users may act as which agents: `agents.json` in the vault's home, written by the owner.
///
/// ```json
/// {"version": 1, "users": {"claude": ["alice"], "uid:1002": ["bob", "carol"]}, "approvals": "owner"}
/// ```
/// A key is a user name or `uid:N`. A user not listed may act as no agent: its connection is refused.
/// `approvals` is `"in-band"` (the default: the MCP client asks the human through elicitation or
/// `input_required`) or `"owner"`: approvals only through `purser owner approve`, signed with the owner key,
/// for agents whose shell could answer the vault's approval questions itself.
public struct AgentAccess: Sendable, Hashable {
    /// The file's name inside the vault's home.
    public static let fileName = "agents.json"

    /// User name or `uid:N` → the agents that user may act as.
    public var users: [String: [String]]
    /// True when approvals must come from the owner's signed `approve`, never through the MCP client.
    public var ownerApprovalsOnly: Bool

    /// Creates a mapping.
    public init(users: [String: [String]], ownerApprovalsOnly: Bool = false) {
        self.users = users
        self.ownerApprovalsOnly = ownerApprovalsOnly
    }

    /// The agents the caller with `uid` (named `name`, when it has one) may act as, name entries first.
    public func agents(uid: UInt32, name: String?) -> [String] {
        var result: [String] = []
        // Byte for byte, as the OS compares names: a `Dictionary` lookup uses Swift's canonical equivalence,
        // under which an account named "\u{212A}ate" (KELVIN SIGN) is the entry for "Kate".
        if let name, let listed = users.first(where: { $0.key.utf8.elementsEqual(name.utf8) })?.value {
            result += listed
        }
        for agent in users["uid:\(uid)"] ?? [] where !result.contains(agent) { result.append(agent) }
        return result
    }

    /// Loads `agents.json` from `home`; a missing file maps nobody (every connection is refused).
    public static func load(home: String) throws(VaultError) -> AgentAccess {
        let path = VaultHome.join(home, fileName)
        guard let data = FileManager.default.contents(atPath: path) else { return AgentAccess(users: [:]) }
        return try parse(Array(data), file: path)
    }

    /// Parses the file; every problem names `file:line:col`.
    public static func parse(_ bytes: [UInt8], file: String) throws(VaultError) -> AgentAccess {
        let value: JSONValue
        let locations: JSONLocations
        do {
            (value, locations) = try JSONParser.parseWithLocations(bytes)
        } catch {
            throw VaultError(.home, "\(file):\(error.location): \(error.message)")
        }
        func bad(_ pointer: String, _ message: String) -> VaultError {
            VaultError(.home, "\(file):\(locations.location(of: pointer)): \(message)")
        }
        guard let object = value.objectValue else { throw bad("", "the file must be a JSON object") }
        for key in object.keys where !["version", "users", "approvals"].contains(key) {
            throw bad("/" + JSONLocations.escape(key), "unknown field \"\(key)\" (expected version, users, approvals)")
        }
        var ownerApprovalsOnly = false
        if let raw = object["approvals"] {
            switch raw.stringValue {
            case "in-band": ownerApprovalsOnly = false
            case "owner": ownerApprovalsOnly = true
            default: throw bad("/approvals", "\"approvals\" must be \"in-band\" or \"owner\"")
            }
        }
        guard object["version"]?.int64Value == 1 else { throw bad("/version", "\"version\" must be 1") }
        guard let users = object["users"]?.objectValue else { throw bad("/users", "\"users\" must be an object") }
        var mapping: [String: [String]] = [:]
        for (user, raw) in users {
            let pointer = "/users/" + JSONLocations.escape(user)
            guard isValidUserKey(user) else {
                throw bad(pointer, "\"\(user)\" is not a user name or uid:N")
            }
            guard let list = raw.arrayValue, !list.isEmpty else {
                throw bad(pointer, "the agents of \"\(user)\" must be a non-empty array of agent ids")
            }
            var agents: [String] = []
            for (index, item) in list.enumerated() {
                guard let agent = item.stringValue, isValidAgent(agent) else {
                    throw bad(pointer + "/\(index)", "an agent id is 1–64 characters of [A-Za-z0-9_.-]")
                }
                agents.append(agent)
            }
            mapping[user] = agents
        }
        return AgentAccess(users: mapping, ownerApprovalsOnly: ownerApprovalsOnly)
    }

    static func isValidAgent(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
    }

    private static func isValidUserKey(_ text: String) -> Bool {
        if text.hasPrefix("uid:") {
            // The key is looked up as "uid:\(uid)", so only that spelling can ever match: ASCII digits without a
            // sign or a leading zero (`UInt32("+1000")` and `UInt32("01000")` parse, but never match).
            let digits = text.utf8.dropFirst(4)
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                digits.count == 1 || digits.first != 0x30
            else { return false }
            return UInt32(text.dropFirst(4)) != nil
        }
        return isValidAgent(text)
    }
}

/// The OS identity of the process at the other end of a Unix socket, from the kernel (`SO_PEERCRED`):
/// it cannot be forged by the peer, unlike anything the peer writes.
public struct PeerCredentials: Sendable, Hashable {
    /// The peer's process id when it connected.
    public var pid: Int32
    /// The peer's effective user id.
    public var uid: UInt32
    /// The peer's effective group id.
    public var gid: UInt32

    /// Reads the credentials of the socket `descriptor`'s peer.
    public static func of(_ descriptor: Int32) throws(VaultError) -> PeerCredentials {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc's Swift overlay does not export it).
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &raw, &length) == 0, length == 12 else {
            throw VaultError(.socket, "cannot read the peer's credentials (errno \(errno))")
        }
        return PeerCredentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }

    /// The user name of `uid`, if the user database has one.
    public static func userName(_ uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil,
            let name = entry.pw_name
        else { return nil }
        return String(cString: name)
    }
}
