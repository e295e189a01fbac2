import Glibc
import X402

/// Runs a closure on a new detached POSIX thread with a small stack.
///
/// A request blocks in `poll` on its own thread, never on one of Swift's cooperative-pool threads (two
/// on this machine): a call waiting minutes for a slow upstream costs a sleeping thread, no CPU.
enum RequestThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body`; throws when the system refuses a new thread.
    static func start(_ body: @escaping @Sendable () -> Void) throws(HTTPFailure) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        // OpenSSL's handshake and our parser need well under this; the default 8 MiB is only address space.
        pthread_attr_setstacksize(&attributes, 512 * 1024)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
                body.run()
                return nil
            }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw HTTPFailure(.cannotConnect, "could not start a request thread (errno \(status))")
        }
    }
}
