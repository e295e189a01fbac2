import Glibc

/// A detached POSIX thread for blocking work (an `accept` or `read` loop), never one of Swift's cooperative
/// pool threads (two on this machine). Replaces Foundation's `Thread.detachNewThread`, so the modules that
/// need one do not link full Foundation (FoundationInternationalization and ICU) into `purser`.
package enum DetachedThread {
    /// Why a thread was not started.
    package struct StartError: Error, Sendable {
        /// The `pthread_create` result (EAGAIN when the system is out of threads).
        package let code: Int32
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new thread with the system's default attributes.
    package static func start(_ body: @escaping @Sendable () -> Void) throws(StartError) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, nil,
            { raw in
                let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
                body.run()
                return nil
            }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw StartError(code: status)
        }
        pthread_detach(thread)
    }
}
