import Dispatch
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT for a long-running process that stops cleanly (`purser vault run`): the first one
/// starts an orderly stop; a second one, while that stop is still waiting, exits at once (what SIGKILL
/// would do; the ledger is built to survive that).
final class ShutdownSignals {
    private let sources: [any DispatchSourceSignal]

    /// Installs the handlers; `stop` runs once, on the first signal.
    init(process: String, stop: @escaping @Sendable () -> Void) {
        let received = SignalCount()
        sources = [SIGTERM, SIGINT].map { (number: Int32) in
            // The default disposition would kill the process before the dispatch source sees the signal.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let count = received.increment()
                if count == 1 {
                    printError("\(process): signal \(number): stopping (running calls finish; again to exit now)")
                    stop()
                } else {
                    printError("\(process): signal \(number) again: exiting now")
                    exit(128 + number)
                }
            }
            source.resume()
            return source
        }
    }

    /// Removes the handlers.
    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// How many stop signals arrived, across the handlers' threads.
private final class SignalCount: Sendable {
    private let count = Mutex(0)

    func increment() -> Int {
        count.withLock { count in
            count += 1
            return count
        }
    }
}
