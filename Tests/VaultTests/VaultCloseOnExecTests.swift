import Foundation
import Glibc
import JSONCore
import MCP
import PurserTesting
import Testing

@testable import PurserVault

private struct NoTools: ToolProvider {
    func tools(for client: ClientDescription) async -> [ToolDescription] { [] }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        .complete(.text("none"))
    }
}

/// A vault connection must never reach a child process, not even while the vault is still accepting it.
@Suite struct VaultCloseOnExecTests {
    /// The identities of our descriptors that are Unix sockets bound to `path`: the listener and the
    /// connections it accepted. A number the vault closes and another test reuses meanwhile is left out: its
    /// identity must be the same before and after the check.
    private static func serverSockets(at path: String) -> [String] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var found: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let descriptor = Int32(name), let before = DescriptorInheritance.identity(of: descriptor),
                before.hasPrefix("socket:")
            else { continue }
            var address = sockaddr_un()
            var length = socklen_t(MemoryLayout<sockaddr_un>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard named == 0, address.sun_family == sa_family_t(AF_UNIX) else { continue }
            let bound = withUnsafeBytes(of: address.sun_path) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if bound == path, DescriptorInheritance.identity(of: descriptor) == before { found.append(before) }
        }
        return found
    }

    @Test("a child spawned while the vault accepts connections inherits none of them")
    func acceptedConnections() async throws {
        let socket = NSTemporaryDirectory() + "pv-cloexec-\(UInt32.random(in: 0...UInt32.max)).sock"
        let access = try AgentAccess.parse(
            Array(#"{"version":1,"users":{"uid:\#(getuid())":["alice"]}}"#.utf8), file: "agents.json")
        let server = VaultServer(
            socketPath: socket, access: { () throws(VaultError) in access }, makeProvider: { _ in NoTools() },
            owner: nil)
        try server.bind()
        let running = Task { await server.run() }
        defer {
            server.stop()
            running.cancel()
        }
        // Connections in bursts, so the vault's accept thread spends much of its time accepting (the moment a
        // child could catch a connection that is not yet close-on-exec, were it set afterwards).
        let burst = 64
        let leaked = try DescriptorInheritance.leakedWhileRepeating(spawns: 400) { opened in
            let clients = (0..<burst).compactMap { _ in try? UnixSocket.connect(socket) }
            defer { clients.forEach { close($0) } }
            // Until the vault has accepted them all: the listener plus one socket per connection.
            for _ in 0..<10_000 {
                let sockets = Self.serverSockets(at: socket)
                if sockets.count > clients.count {
                    sockets.forEach(opened)
                    break
                }
                sched_yield()
            }
        }
        #expect(leaked.isEmpty, "inherited: \(leaked.sorted())")
    }
}
