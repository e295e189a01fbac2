import Foundation
import Glibc
import PurserTesting
import Synchronization
import Testing

@testable import HTTPClient

/// A command signer is a child process: no descriptor of a request may reach it, not even for the instant
/// between creating the descriptor and setting close-on-exec.
@Suite("Close-on-exec descriptors")
struct CloseOnExecTests {
    @Test("a child spawned while cancellation pipes are being made inherits none of them")
    func cancellationPipe() throws {
        let leaked = try DescriptorInheritance.leakedWhileRepeating { opened in
            guard let cancellation = try? Cancellation() else { return }
            if let identity = DescriptorInheritance.identity(of: cancellation.readDescriptor) { opened(identity) }
            cancellation.close()
        }
        #expect(leaked.isEmpty, "inherited: \(leaked.sorted())")
    }

    @Test("a child spawned while the test listener holds a connection does not inherit it")
    func loopbackListenerConnection() async throws {
        let listener = try LoopbackListener()
        defer { listener.stop() }
        let result = Mutex<(identity: String?, inherited: Set<String>)?>(nil)
        let served = DispatchSemaphore(value: 0)
        listener.start { connection in
            let inherited = (try? DescriptorInheritance.inheritedByChild()) ?? []
            result.withLock { $0 = (DescriptorInheritance.identity(of: connection), inherited) }
            served.signal()
        }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(client >= 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = listener.port.bigEndian
        inet_pton(AF_INET, listener.host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        served.wait()
        let observed = try #require(result.withLock { $0 })
        let identity = try #require(observed.identity)
        #expect(identity.hasPrefix("socket:"))
        #expect(!observed.inherited.contains(identity))
    }
}
