import Glibc
import Synchronization
import Testing

@testable import POSIXThread

@Suite("POSIXThread")
struct POSIXThreadTests {
    /// Something a closure captures, to see whether the closure was released.
    private final class Witness: Sendable {}

    /// Starts `body` and waits for it to run; returns the thread it ran on.
    private func runOnThread(stackSize: Int?, _ body: @escaping @Sendable () -> Void) async throws -> pthread_t {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<pthread_t, any Error>) in
            do {
                try POSIXThread.detach(stackSize: stackSize) {
                    body()
                    continuation.resume(returning: pthread_self())
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    @Test("runs the closure once, on a thread of its own", arguments: [nil, 64 * 1024, 512 * 1024] as [Int?])
    func runs(stackSize: Int?) async throws {
        let runs = Mutex(0)
        let thread = try await runOnThread(stackSize: stackSize) { runs.withLock { $0 += 1 } }
        #expect(runs.withLock { $0 } == 1)
        #expect(pthread_equal(thread, pthread_self()) == 0)
    }

    @Test("a joinable thread hands its result to join, from a thread of its own")
    func joinable() throws {
        let caller = pthread_self()
        let thread = try POSIXThread.start(stackSize: 128 * 1024) { () -> [UInt64] in
            [UInt64(pthread_equal(pthread_self(), caller)), 7, 11]
        }
        #expect(thread.join() == [0, 7, 11])
    }

    @Test("a joinable thread the system refuses is reported, never run")
    func joinableRefused() {
        let ran = Mutex(false)
        #expect(throws: POSIXThread.StartError.self) {
            _ = try POSIXThread.start(stackSize: 1 << 46) { ran.withLock { $0 = true } }
        }
        #expect(ran.withLock { $0 } == false)
    }

    @Test("creates the thread detached, with the stack size asked for")
    func attributes() throws {
        let seen = Mutex<(detachState: Int32, stackSize: Int)?>(nil)
        try POSIXThread.detach(
            stackSize: 300 * 1024,
            create: { thread, attributes, start, context in
                var detachState: Int32 = -1
                var stackSize = 0
                pthread_attr_getdetachstate(attributes!, &detachState)
                pthread_attr_getstacksize(attributes!, &stackSize)
                seen.withLock { $0 = (detachState, stackSize) }
                return pthread_create(thread, attributes, start, context)
            }, {})
        let observed = try #require(seen.withLock { $0 })
        #expect(observed.detachState == Int32(PTHREAD_CREATE_DETACHED))
        #expect(observed.stackSize == 300 * 1024)
    }

    @Test("a system out of threads is reported as a create error with its errno; the closure never runs")
    func createFails() {
        let ran = Mutex(false)
        let witness = startRefused(errorNumber: EAGAIN) { ran.withLock { $0 = true } }
        #expect(witness.error?.code == .create)
        #expect(witness.error?.errorNumber == EAGAIN)
        #expect(witness.error?.message.contains("pthread_create") == true)
        #expect(witness.error?.message.contains("errno \(EAGAIN)") == true)
        #expect(ran.withLock { $0 } == false)
        #expect(witness.released)
    }

    @Test("a stack the system cannot map makes the real pthread_create fail")
    func impossibleStack() async {
        // 2^46 bytes (64 TiB) passes pthread_attr_setstacksize, which checks only the minimum, but no mmap of
        // it succeeds: pthread_create itself refuses (EAGAIN on glibc).
        let ran = Mutex(false)
        await #expect {
            _ = try await runOnThread(stackSize: 1 << 46) { ran.withLock { $0 = true } }
        } throws: { error in
            guard let error = error as? POSIXThread.StartError else { return false }
            return error.code == .create && error.errorNumber == EAGAIN
        }
        #expect(ran.withLock { $0 } == false)
    }

    @Test("a stack below the system minimum is refused before any thread is made", arguments: [1024, -1])
    func stackTooSmall(stackSize: Int) {
        let created = Mutex(false)
        #expect {
            try POSIXThread.detach(
                stackSize: stackSize,
                create: { thread, attributes, start, context in
                    created.withLock { $0 = true }
                    return pthread_create(thread, attributes, start, context)
                }, {})
        } throws: { error in
            guard let error = error as? POSIXThread.StartError else { return false }
            return error.code == .stackSize && error.errorNumber == EINVAL
        }
        #expect(created.withLock { $0 } == false)
    }

    /// Starts a closure capturing a witness with a `create` that refuses; reports the error and whether the
    /// closure (and so the witness) was released afterwards.
    private func startRefused(
        errorNumber: Int32, _ body: @escaping @Sendable () -> Void
    ) -> (error: POSIXThread.StartError?, released: Bool) {
        weak var weakWitness: Witness?
        var caught: POSIXThread.StartError?
        do {
            let witness = Witness()
            weakWitness = witness
            try POSIXThread.detach(stackSize: nil, create: { _, _, _, _ in errorNumber }) {
                _ = witness
                body()
            }
        } catch {
            caught = error
        }
        return (caught, weakWitness == nil)
    }
}
