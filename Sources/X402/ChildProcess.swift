import CLinux
import FoundationEssentials
import Glibc
import POSIXThread

/// One run of an external command: no shell, stdin written from memory, stdout and stderr captured up to a
/// cap, a deadline after which the command and everything it started are killed.
///
/// Spawned with `posix_spawn` (no full Foundation `Process`, which would link FoundationInternationalization
/// and ICU into `purser`). The child gets its own process group, so the deadline can kill a shell script's
/// children too (a grandchild that keeps the output pipe open would otherwise hold the call past its
/// deadline), an empty signal mask, default signal dispositions (not `purser`'s ignored SIGPIPE), the
/// environment of `purser`, and no descriptor of ours beyond the three pipes.
struct ChildProcess: Sendable {
    /// How a run ended.
    enum Ending: Sendable, Equatable {
        /// The command ended on its own: `status` is its exit status, or the signal number when a signal
        /// ended it (as Foundation's `Process.terminationStatus`). Output past `outputCap` is read and dropped,
        /// so `stdout`/`stderr` hold at most `outputCap + 1` bytes: more than `outputCap` means it said too much.
        case finished(status: Int32, stdout: [UInt8], stderr: [UInt8])
        /// The deadline passed; the command's process group was killed.
        case timedOut
        /// The command could not be started (the reason names the failing call and errno, never the input).
        case notStarted(String)
    }

    /// Executable path (not searched in `PATH`).
    var executable: String
    /// Arguments after the executable name.
    var arguments: [String]
    /// Written to the command's stdin, which is then closed.
    var input: [UInt8]
    /// Deadline for the whole run.
    var timeout: Duration
    /// Bytes kept of stdout and of stderr each (one more is kept to show the cap was passed).
    var outputCap: Int

    /// Runs the command on a dedicated thread (it blocks in `poll` and `waitpid`, never on one of Swift's
    /// cooperative-pool threads) and returns how it ended.
    func run() async -> Ending {
        await withCheckedContinuation { (continuation: CheckedContinuation<Ending, Never>) in
            do throws(POSIXThread.StartError) {
                // `poll` and `waitpid` need little stack; the default 8 MiB is only address space.
                try POSIXThread.detach(stackSize: 256 * 1024) { continuation.resume(returning: self.runBlocking()) }
            } catch {
                continuation.resume(returning: .notStarted(error.message))
            }
        }
    }

    // MARK: - The blocking run

    private func runBlocking() -> Ending {
        // This thread writes to a pipe the child may have closed: with SIGPIPE blocked here the write fails
        // with EPIPE instead of killing the process (the pending signal dies with this thread).
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)

        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        func closeAll() {
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
        }
        // Close-on-exec from birth (pipe2): another thread's posix_spawn must never inherit them. This child
        // also closes every descriptor but its three, from a list taken before it starts.
        guard purser_pipe_cloexec(&stdinPipe, 0) == 0, purser_pipe_cloexec(&stdoutPipe, 0) == 0,
            purser_pipe_cloexec(&stderrPipe, 0) == 0
        else {
            let error = errno
            closeAll()
            return .notStarted("pipe failed (errno \(error))")
        }
        let spawned = spawn(stdin: stdinPipe[0], stdout: stdoutPipe[1], stderr: stderrPipe[1])
        // The child's ends belong to the child now (or to nobody, if it did not start).
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        let pid: pid_t
        switch spawned {
        case .success(let child): pid = child
        case .failure(let reason):
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            return .notStarted(reason.text)
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let io = exchange(stdin: stdinPipe[1], stdout: stdoutPipe[0], stderr: stderrPipe[0], deadline: deadline)
        guard let (stdout, stderr) = io else {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            _ = Self.waitForExit(pid, until: nil)
            return .timedOut
        }
        guard let status = Self.waitForExit(pid, until: deadline) else {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            _ = Self.waitForExit(pid, until: nil)
            return .timedOut
        }
        return .finished(status: status, stdout: stdout, stderr: stderr)
    }

    private struct SpawnFailure: Error {
        let text: String
    }

    /// Starts the child with the pipes as its stdin, stdout and stderr.
    private func spawn(stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, SpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // dup2 clears close-on-exec on the targets; every other descriptor is closed in the child as well. Ours
        // are all close-on-exec from birth (docs/threat_model.md), but a library's descriptor might not be, and
        // the signer has no business with the ledger or a socket.
        var status = posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        if status == 0 { status = posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
        if status == 0 { status = posix_spawn_file_actions_adddup2(&actions, stderr, 2) }
        for fd in Self.openDescriptors() where fd > 2 && status == 0 {
            status = posix_spawn_file_actions_addclose(&actions, fd)
        }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        if status == 0 { status = posix_spawnattr_setsigmask(&attributes, &noSignals) }
        if status == 0 { status = posix_spawnattr_setsigdefault(&attributes, &allSignals) }
        if status == 0 { status = posix_spawnattr_setpgroup(&attributes, 0) }
        if status == 0 {
            status = posix_spawnattr_setflags(
                &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        }
        guard status == 0 else { return .failure(SpawnFailure(text: "posix_spawn setup failed (errno \(status))")) }

        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { return .failure(SpawnFailure(text: "posix_spawn failed (errno \(spawned))")) }
        return .success(pid)
    }

    /// Writes the input and reads both outputs until both reach end of file; nil when the deadline passes
    /// first.
    private func exchange(stdin: Int32, stdout: Int32, stderr: Int32, deadline: ContinuousClock.Instant)
        -> ([UInt8], [UInt8])?
    {
        var input = stdin
        var written = 0
        if input >= 0, self.input.isEmpty {
            close(input)
            input = -1
        }
        if input >= 0 { _ = fcntl(input, F_SETFL, fcntl(input, F_GETFL) | O_NONBLOCK) }
        var readers: [Int32] = [stdout, stderr]
        var collected: [[UInt8]] = [[], []]
        defer {
            if input >= 0 { close(input) }
            for fd in readers where fd >= 0 { close(fd) }
        }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while input >= 0 || readers.contains(where: { $0 >= 0 }) {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return nil }
            var fds: [pollfd] = []
            if input >= 0 { fds.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
            for fd in readers where fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), Self.milliseconds(remaining))
            if ready < 0 {
                if errno == EINTR { continue }
                return nil
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == input {
                    let count = self.input.withUnsafeBytes { bytes in
                        write(input, bytes.baseAddress! + written, bytes.count - written)
                    }
                    if count > 0 {
                        written += count
                        if written == self.input.count {
                            close(input)
                            input = -1
                        }
                    } else if count < 0, errno == EAGAIN || errno == EINTR {
                        continue
                    } else {
                        // The child closed its stdin without reading it all; its status tells the rest.
                        close(input)
                        input = -1
                    }
                    continue
                }
                guard let index = readers.firstIndex(of: entry.fd) else { continue }
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    // Keep reading (so the child is never blocked on a full pipe) but stop storing past the cap.
                    let room = max(0, outputCap + 1 - collected[index].count)
                    collected[index].append(contentsOf: buffer.prefix(min(count, room)))
                } else if count < 0, errno == EAGAIN || errno == EINTR {
                    continue
                } else {
                    close(entry.fd)
                    readers[index] = -1
                }
            }
        }
        return (collected[0], collected[1])
    }

    /// Reaps the child; nil when `until` passes first (nil `until`: wait as long as it takes).
    private static func waitForExit(_ pid: pid_t, until deadline: ContinuousClock.Instant?) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if result == pid { break }
            if result < 0 {
                if errno == EINTR { continue }
                return -1
            }
            // Both pipes are closed but the child has not exited yet (usually a few microseconds).
            guard let deadline, ContinuousClock.now < deadline else { return nil }
            usleep(2_000)
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : signal
    }

    /// The descriptors open in this process, from `/proc/self/fd`.
    private static func openDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        let own = dirfd(directory)
        var descriptors: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let fd = Int32(name), fd != own { descriptors.append(fd) }
        }
        closedir(directory)
        return descriptors
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(1, total))
    }
}
