import Glibc
import X402

/// A point on the monotonic clock, in milliseconds, that a wait must not pass.
///
/// `poll` takes milliseconds, so deadlines are kept in the same unit; CLOCK_MONOTONIC does not jump
/// with the wall clock.
struct Deadline: Sendable, Comparable {
    let milliseconds: Int64

    static func now() -> Deadline {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Deadline(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    static func after(_ duration: Duration) -> Deadline {
        now().advanced(by: duration)
    }

    func advanced(by duration: Duration) -> Deadline {
        let (seconds, attoseconds) = duration.components
        // Round up so a 300 ms deadline never fires at 299 ms.
        let extra = attoseconds > 0 ? (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000 : 0
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return Deadline(milliseconds: .max / 2) }
        return Deadline(milliseconds: min(milliseconds + product + extra, .max / 2))
    }

    /// Milliseconds left (0 when passed), clamped to what `poll` accepts.
    var remaining: Int32 {
        let left = milliseconds - Deadline.now().milliseconds
        return Int32(clamping: max(0, left))
    }

    static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// What a wait gives up on: its deadline, the error to throw when it passes, and the cancellation pipe.
struct Wait: Sendable {
    var deadline: Deadline
    var onTimeout: HTTPFailure
    let cancellation: Cancellation
}
