import Dispatch
import POSIXThread

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads newline-delimited messages from a file descriptor on a dedicated thread.
///
/// A blocking `read(2)` inside async code would occupy one of the two cooperative-pool threads this
/// machine has, so reading happens on its own thread and lines arrive through an `AsyncSequence`.
/// `readabilityHandler` is not used: it misses EOF when data and EOF arrive together.
///
/// Both things a peer controls are bounded: a line longer than `maximumLineLength` is dropped while it
/// streams (never buffered whole) and reported as `.oversized`; and at most `maximumQueuedLines` items
/// wait for the consumer. When that many are waiting the thread stops reading, so the peer's writes
/// block in the pipe instead of growing this process (back-pressure).
public struct LineReader: Sendable {
    /// The default longest line: 1 MiB. A JSON-RPC message costs several times its size once parsed,
    /// and no Purser request needs more.
    public static let defaultMaximumLineLength = 1024 * 1024
    /// The default number of lines read ahead of the consumer.
    public static let defaultMaximumQueuedLines = 16

    /// One item read from the input.
    public enum Item: Sendable, Equatable {
        /// A complete line without its terminator (`\n` or `\r\n`).
        case line([UInt8])
        /// A line that exceeded the maximum length and was dropped.
        case oversized
    }

    private let fileDescriptor: Int32
    /// Lines longer than this many bytes (without the terminator) are dropped and reported.
    public let maximumLineLength: Int
    /// How many items may wait for the consumer before reading pauses.
    public let maximumQueuedLines: Int

    /// Creates a reader over `fileDescriptor` (0 for stdin). The descriptor is not closed.
    public init(
        fileDescriptor: Int32, maximumLineLength: Int = defaultMaximumLineLength,
        maximumQueuedLines: Int = defaultMaximumQueuedLines
    ) {
        self.fileDescriptor = fileDescriptor
        self.maximumLineLength = max(1, maximumLineLength)
        self.maximumQueuedLines = max(1, maximumQueuedLines)
    }

    /// Starts the reader thread; the sequence finishes at EOF or on a read error.
    public func lines() -> Lines {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .unbounded)
        let slots = DispatchSemaphore(value: maximumQueuedLines)
        let box = ReaderContext(
            descriptor: fileDescriptor, maximumLineLength: maximumLineLength, continuation: continuation, slots: slots)
        do {
            try POSIXThread.detach { LineReader.readLoop(box) }
        } catch {
            // No reader thread: the input ends at once, as at EOF.
            continuation.finish()
        }
        return Lines(stream: stream, slots: slots)
    }

    /// The items read, in order; taking an item frees its slot for the reader thread.
    public struct Lines: AsyncSequence, Sendable {
        public typealias Element = Item
        let stream: AsyncStream<Item>
        let slots: DispatchSemaphore

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(base: stream.makeAsyncIterator(), slots: slots)
        }

        /// Iterates the items.
        public struct AsyncIterator: AsyncIteratorProtocol {
            var base: AsyncStream<Item>.AsyncIterator
            let slots: DispatchSemaphore

            public mutating func next() async -> Item? {
                let item = await base.next()
                if item != nil { slots.signal() }
                return item
            }
        }
    }

    private final class ReaderContext: @unchecked Sendable {
        // Handed to exactly one thread, which owns it from then on.
        let descriptor: Int32
        let maximumLineLength: Int
        let continuation: AsyncStream<Item>.Continuation
        let slots: DispatchSemaphore
        init(
            descriptor: Int32, maximumLineLength: Int, continuation: AsyncStream<Item>.Continuation,
            slots: DispatchSemaphore
        ) {
            self.descriptor = descriptor
            self.maximumLineLength = maximumLineLength
            self.continuation = continuation
            self.slots = slots
        }

        /// Waits for a free slot, then hands `item` to the consumer.
        func deliver(_ item: Item) {
            slots.wait()
            continuation.yield(item)
        }
    }

    private static func readLoop(_ context: ReaderContext) {
        let limit = context.maximumLineLength
        var pending: [UInt8] = []
        var discarding = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(context.descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            if count == 0 { break }
            var start = 0
            for position in 0..<count where buffer[position] == 0x0A {
                if discarding {
                    discarding = false
                } else {
                    pending.append(contentsOf: buffer[start..<position])
                    emit(&pending, limit: limit, to: context)
                }
                pending.removeAll(keepingCapacity: pending.capacity <= 65536)
                start = position + 1
            }
            if !discarding {
                pending.append(contentsOf: buffer[start..<count])
                // One more byte is allowed for a `\r` before the `\n`.
                if pending.count > limit + 1 {
                    pending = []
                    discarding = true
                    context.deliver(.oversized)
                }
            }
        }
        if !discarding, !pending.isEmpty { emit(&pending, limit: limit, to: context) }
        context.continuation.finish()
    }

    private static func emit(_ line: inout [UInt8], limit: Int, to context: ReaderContext) {
        if line.last == 0x0D { line.removeLast() }
        // Blank lines between messages are tolerated.
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        context.deliver(line.count > limit ? .oversized : .line(line))
    }
}

/// Writes whole lines to a file descriptor, one at a time.
///
/// Each line is written with `write(2)` until complete, so responses from concurrent requests never
/// interleave inside a line. A closed peer (EPIPE) stops further writes; SIGPIPE must be ignored.
public actor LineWriter {
    private let fileDescriptor: Int32
    private var closed = false

    /// Creates a writer over `fileDescriptor` (1 for stdout). The descriptor is not closed.
    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// Writes `bytes` followed by a newline. Returns false once the peer has gone away.
    @discardableResult
    public func writeLine(_ bytes: [UInt8]) -> Bool {
        guard !closed else { return false }
        var line = bytes
        line.append(0x0A)
        var offset = 0
        while offset < line.count {
            let written = line.withUnsafeBytes { raw in
                write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                closed = true
                return false
            }
            offset += written
        }
        return true
    }
}
