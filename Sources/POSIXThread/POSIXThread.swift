import Glibc

/// Starts POSIX threads that run a Swift closure: the one place in Purser that calls `pthread_create`.
///
/// Blocking work (an `accept`, `read` or `poll` loop, a child process's `waitpid`) runs on a thread of its own,
/// never on one of Swift's cooperative-pool threads (two on this machine), and without Foundation's `Thread`,
/// which would link FoundationInternationalization and ICU into `purser`. The product's threads are detached:
/// their resources go back to the system when the closure returns. A caller that must know a thread has ended
/// (a fuzz harness leaving nothing behind between inputs) starts a ``Joinable`` one instead.
///
/// ```swift
/// try POSIXThread.detach(stackSize: 256 * 1024) { acceptLoop() }
/// let reader = try POSIXThread.start { readAll(descriptor) }
/// let bytes = reader.join()
/// ```
public enum POSIXThread {
    /// Why a thread was not started. Nothing ran, and the closure was released.
    public struct StartError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The step that failed.
        public enum Code: String, Sendable, Hashable {
            /// `pthread_attr_setstacksize` refused the stack size (EINVAL: below the system's minimum).
            case stackSize = "stack-size"
            /// `pthread_create` refused a new thread (EAGAIN: out of threads or memory for the stack).
            case create
        }

        /// What went wrong, for programs.
        public var code: Code
        /// The error number the failing call returned (`EAGAIN`, `EINVAL`, ...).
        public var errorNumber: Int32
        /// What went wrong, for people: the call, the system's words for `errorNumber`, and the number.
        public var message: String

        init(_ code: Code, errorNumber: Int32) {
            self.code = code
            self.errorNumber = errorNumber
            let call = code == .create ? "pthread_create" : "pthread_attr_setstacksize"
            self.message = "could not start a thread: \(call) failed: \(Self.words(errorNumber)) (errno \(errorNumber))"
        }

        public var description: String { message }

        private static func words(_ errorNumber: Int32) -> String {
            guard let text = strerror(errorNumber) else { return "unknown error" }
            return String(cString: text)
        }
    }

    /// Starts `body` on a new detached thread.
    ///
    /// - Parameters:
    ///   - stackSize: The thread's stack in bytes; `nil` keeps the system's default (8 MiB of address space
    ///     here). At least `PTHREAD_STACK_MIN` (16 KiB).
    ///   - body: Runs once on the new thread, which ends when it returns.
    /// - Throws: `StartError` when the stack size is refused or the system refuses a thread; `body` then never
    ///   runs and is released.
    public static func detach(stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) throws(StartError) {
        try detach(stackSize: stackSize, create: pthread_create, body)
    }

    /// A thread that must be joined: ``join()`` waits for its closure and returns what it returned.
    ///
    /// Join it exactly once; a thread never joined keeps its stack until the process exits.
    public struct Joinable<Result: Sendable>: ~Copyable, Sendable {
        fileprivate let thread: pthread_t
        fileprivate let outcome: Outcome<Result>

        /// Waits for the thread to end; returns its closure's result.
        public consuming func join() -> Result {
            pthread_join(thread, nil)
            // pthread_join orders the thread's write of the result before this read.
            return outcome.value!
        }
    }

    /// Starts `body` on a new joinable thread.
    ///
    /// - Parameters:
    ///   - stackSize: As for ``detach(stackSize:_:)``.
    ///   - body: Runs once on the new thread; ``Joinable/join()`` returns its result.
    /// - Throws: `StartError`, as ``detach(stackSize:_:)``; `body` then never runs.
    public static func start<Result: Sendable>(
        stackSize: Int? = nil, _ body: @escaping @Sendable () -> Result
    ) throws(StartError) -> Joinable<Result> {
        let outcome = Outcome<Result>()
        let thread = try create(stackSize: stackSize, detached: false, create: pthread_create) {
            outcome.value = body()
        }
        return Joinable(thread: thread, outcome: outcome)
    }

    /// Where a joinable thread leaves its result. `@unchecked Sendable`: written once by that thread before it
    /// ends, read only after `pthread_join` has returned.
    fileprivate final class Outcome<Value>: @unchecked Sendable {
        var value: Value?
    }

    /// The signature of `pthread_create`, so tests can stand in for a system that is out of threads.
    typealias Create = (
        UnsafeMutablePointer<pthread_t>, UnsafePointer<pthread_attr_t>?,
        @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
    ) -> Int32

    static func detach(
        stackSize: Int?, create: Create, _ body: @escaping @Sendable () -> Void
    ) throws(StartError) {
        _ = try Self.create(stackSize: stackSize, detached: true, create: create, body)
    }

    /// Creates the thread; its handle is only good for joining when `detached` is false.
    private static func create(
        stackSize: Int?, detached: Bool, create: Create, _ body: @escaping @Sendable () -> Void
    ) throws(StartError) -> pthread_t {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        let state = detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE
        pthread_attr_setdetachstate(&attributes, Int32(state))
        if let stackSize {
            // A negative size would wrap to a huge one: refuse it as the system refuses a too-small one.
            guard stackSize >= 0 else { throw StartError(.stackSize, errorNumber: EINVAL) }
            let status = pthread_attr_setstacksize(&attributes, stackSize)
            guard status == 0 else { throw StartError(.stackSize, errorNumber: status) }
        }
        // One retain travels to the thread, which takes it back; if no thread starts, it is released here.
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let status = create(
            &thread, &attributes,
            { raw in
                let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
                body.run()
                return nil
            }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw StartError(.create, errorNumber: status)
        }
        return thread
    }

    /// The closure, boxed so one pointer can carry it through `pthread_create`.
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
