import CLinux
import Glibc
import Synchronization
import X402

/// A pipe that `Task` cancellation writes to, so a request thread blocked in `poll` wakes at once.
///
/// The request thread owns the descriptors and closes them when it finishes; the lock makes sure a
/// late `cancel()` never writes to a descriptor number that has since been reused.
final class Cancellation: Sendable {
    /// The end the request thread polls.
    let readDescriptor: Int32
    private let writeDescriptor: Int32
    private let state = Mutex((closed: false, cancelled: false))

    init() throws(HTTPFailure) {
        var descriptors: [Int32] = [-1, -1]
        // Close-on-exec from birth: a command signer spawned meanwhile must not inherit either end.
        guard purser_pipe_cloexec(&descriptors, O_NONBLOCK) == 0 else {
            throw HTTPFailure(.cannotConnect, "could not create a cancellation pipe (errno \(errno))")
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    /// Wakes the request thread; later calls do nothing.
    func cancel() {
        state.withLock { state in
            guard !state.closed, !state.cancelled else { return }
            state.cancelled = true
            var byte: UInt8 = 1
            _ = write(writeDescriptor, &byte, 1)
        }
    }

    /// True once `cancel()` has been called.
    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Closes both ends; called once by the request thread when it is done.
    func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            _ = Glibc.close(readDescriptor)
            _ = Glibc.close(writeDescriptor)
        }
    }
}
