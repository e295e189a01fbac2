#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads newline-delimited messages from a file descriptor on a dedicated thread.
///
/// A blocking `read(2)` inside async code would occupy one of the two cooperative-pool threads this
/// machine has, so reading happens on its own thread and lines arrive through an `AsyncStream`.
/// `readabilityHandler` is not used: it misses EOF when data and EOF arrive together.
public struct LineReader: Sendable {
    /// Lines longer than this are discarded and reported as `.oversized`, so a hostile peer cannot
    /// make the server buffer without bound.
    public static let maximumLineLength = 16 * 1024 * 1024

    /// One item read from the input.
    public enum Item: Sendable {
        /// A complete line without its terminator (`\n` or `\r\n`).
        case line([UInt8])
        /// A line that exceeded `maximumLineLength` and was dropped.
        case oversized
    }

    private let fileDescriptor: Int32

    /// Creates a reader over `fileDescriptor` (0 for stdin). The descriptor is not closed.
    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// Starts the reader thread; the stream finishes at EOF or on a read error.
    public func lines() -> AsyncStream<Item> {
        let descriptor = fileDescriptor
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .unbounded)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        let box = ContinuationBox(descriptor: descriptor, continuation: continuation)
        let context = Unmanaged.passRetained(box).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, &attributes,
            { raw in
                let box = Unmanaged<ContinuationBox>.fromOpaque(raw!).takeRetainedValue()
                LineReader.readLoop(descriptor: box.descriptor, continuation: box.continuation)
                return nil
            }, context)
        pthread_attr_destroy(&attributes)
        if created == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<ContinuationBox>.fromOpaque(context).release()
            continuation.finish()
        }
        return stream
    }

    private final class ContinuationBox: @unchecked Sendable {
        // Handed to exactly one thread, which owns it from then on.
        let descriptor: Int32
        let continuation: AsyncStream<Item>.Continuation
        init(descriptor: Int32, continuation: AsyncStream<Item>.Continuation) {
            self.descriptor = descriptor
            self.continuation = continuation
        }
    }

    private static func readLoop(descriptor: Int32, continuation: AsyncStream<Item>.Continuation) {
        var pending: [UInt8] = []
        var discarding = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
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
                    emit(&pending, to: continuation)
                }
                pending.removeAll(keepingCapacity: true)
                start = position + 1
            }
            if !discarding {
                pending.append(contentsOf: buffer[start..<count])
                if pending.count > maximumLineLength {
                    pending.removeAll()
                    discarding = true
                    continuation.yield(.oversized)
                }
            }
        }
        if !discarding, !pending.isEmpty { emit(&pending, to: continuation) }
        continuation.finish()
    }

    private static func emit(_ line: inout [UInt8], to continuation: AsyncStream<Item>.Continuation) {
        if line.last == 0x0D { line.removeLast() }
        // Blank lines between messages are tolerated.
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        continuation.yield(.line(line))
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
