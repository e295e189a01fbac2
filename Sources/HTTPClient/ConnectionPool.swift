import Synchronization
import X402

/// Idle keep-alive connections by origin (`scheme://host:port` and trust store), with a bound per origin.
///
/// A connection is taken out while a request uses it and put back only after a complete, well-framed
/// response; at check-out it must have nothing to read (a server that closed it shows up readable).
final class ConnectionPool: Sendable {
    private let idle = Mutex([String: [Connection]]())
    let maximumPerOrigin: Int
    let idleTimeout: Duration

    init(maximumPerOrigin: Int, idleTimeout: Duration) {
        self.maximumPerOrigin = maximumPerOrigin
        self.idleTimeout = idleTimeout
    }

    /// The most recently used live idle connection to `origin`, or nil; stale ones are closed.
    func checkOut(_ origin: String) -> Connection? {
        let now = Deadline.now()
        while true {
            let candidate: Connection? = idle.withLock { idle in idle[origin]?.popLast() }
            guard let candidate else { return nil }
            if candidate.idleSince.advanced(by: idleTimeout) > now, candidate.looksIdle { return candidate }
            candidate.close()
        }
    }

    /// Keeps `connection` for the next request to `origin`, or closes it when the origin has enough.
    func checkIn(_ connection: Connection, _ origin: String) {
        guard maximumPerOrigin > 0 else {
            connection.close()
            return
        }
        connection.idleSince = Deadline.now()
        let surplus: Connection? = idle.withLock { idle in
            var list = idle[origin, default: []]
            list.append(connection)
            let dropped = list.count > maximumPerOrigin ? list.removeFirst() : nil
            idle[origin] = list
            return dropped
        }
        surplus?.close()
    }

    /// The number of idle connections held for `origin` (for tests).
    func idleCount(_ origin: String) -> Int {
        idle.withLock { $0[origin]?.count ?? 0 }
    }
}
