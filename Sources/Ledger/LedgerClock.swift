import Glibc

/// The ledger's source of time: unix milliseconds. Injected so tests never sleep.
public struct LedgerClock: Sendable {
    private let read: @Sendable () -> Int64

    /// A clock reading `now`.
    public init(_ now: @escaping @Sendable () -> Int64) {
        self.read = now
    }

    /// The current time in unix milliseconds.
    public func now() -> Int64 { read() }

    /// The system's real-time clock.
    public static let system = LedgerClock {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
