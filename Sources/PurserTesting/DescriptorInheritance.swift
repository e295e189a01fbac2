import CLinux
import Foundation
import Glibc
import Synchronization

/// Whether a child started with `posix_spawn` inherits descriptors of this process.
///
/// The child is `/bin/ls -l /proc/self/fd` started with no file actions but its stdout, so it holds exactly
/// the descriptors of ours that are not close-on-exec. Descriptors are compared by what `/proc` says they
/// are (`pipe:[inode]`, `socket:[inode]`, a path), never by number: numbers are reused, and other tests in
/// this process open descriptors of their own at the same time.
public enum DescriptorInheritance {
    /// What `/proc/self/fd/<descriptor>` names: `pipe:[123]`, `socket:[456]` or a path; nil when not open.
    public static func identity(of descriptor: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The identities of the descriptors of ours a child spawned now holds (`ls`'s own directory included, its
    /// stdout pipe left out).
    public static func inheritedByChild() throws -> Set<String> {
        var output: [Int32] = [-1, -1]
        guard purser_pipe_cloexec(&output, 0) == 0 else { throw POSIXError(.EMFILE) }
        defer { close(output[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        let arguments = ["/bin/ls", "-l", "/proc/self/fd"]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/bin/ls", &actions, nil, argv, environ)
        close(output[1])
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(output[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            text.append(contentsOf: buffer[0..<count])
        }
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0 && errno == EINTR {}
        var identities: Set<String> = []
        let ownOutput = identity(of: output[0])
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") {
            if let arrow = line.range(of: " -> ") { identities.insert(String(line[arrow.upperBound...])) }
        }
        if let ownOutput { identities.remove(ownOutput) }
        return identities
    }

    /// Runs `cycle` over and over on another thread while this one spawns `spawns` children; returns the
    /// descriptors `cycle` opened that some child inherited (empty when every one was close-on-exec from its
    /// first instant).
    ///
    /// `cycle` opens descriptors, passes the identity of each (``identity(of:)``, read while it is open) to
    /// `opened`, and closes them. A
    /// descriptor made close-on-exec only after it was created (`pipe` then `fcntl`) is open without the flag
    /// for a moment in every cycle, and some child among the spawns catches it there.
    public static func leakedWhileRepeating(
        spawns: Int = 100, _ cycle: @escaping @Sendable (_ opened: (String) -> Void) -> Void
    ) throws -> Set<String> {
        let seen = Mutex<Set<String>>([])
        let stop = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        Thread {
            var first = true
            while !stop.load(ordering: .relaxed) {
                cycle { identity in seen.withLock { _ = $0.insert(identity) } }
                if first {
                    first = false
                    started.signal()
                }
            }
            done.signal()
        }.start()
        started.wait()
        var inherited: Set<String> = []
        var failure: (any Error)?
        for _ in 0..<spawns {
            do { inherited.formUnion(try inheritedByChild()) } catch {
                failure = error
                break
            }
        }
        stop.store(true, ordering: .relaxed)
        done.wait()
        if let failure { throw failure }
        return seen.withLock { inherited.intersection($0) }
    }
}
