import FoundationEssentials
public import JSONCore
import POSIXThread
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The vault protocol's framing: each frame is a 4-byte big-endian length and that many bytes of one
/// UTF-8 JSON object. Frames are bounded (``maximumFrameBytes``); a longer length, bad JSON or a non-object
/// ends the connection, since a peer that breaks framing cannot be trusted to resynchronise.
public final class FrameChannel: Sendable {
    /// The protocol version both sides send in their first frame.
    public static let protocolVersion: Int64 = 1
    /// Largest accepted frame body, the same bound as one MCP line.
    public static let maximumFrameBytes = 16 * 1024 * 1024

    /// One item read from the peer.
    public enum Item: Sendable {
        /// A frame.
        case frame(JSONObject)
        /// The peer broke the framing; nothing more is read.
        case violation(String)
    }

    private let descriptor: Int32
    private let writeLock = Mutex(false)

    /// Takes ownership of a connected socket; ``close()`` releases it.
    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Starts a reader thread; the stream finishes at EOF, on a read error, or after a violation.
    public func frames() -> AsyncStream<Item> {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .unbounded)
        startReading { item in
            if let item { continuation.yield(item) } else { continuation.finish() }
        }
        return stream
    }

    /// Starts a reader thread that hands each item to `handler` on that thread, then `nil` at the end.
    ///
    /// For the hot path: answering from the reader thread saves the hop through an `AsyncStream` and a task.
    /// A blocking read must not occupy a cooperative-pool thread, hence the dedicated thread. The thread keeps
    /// the channel alive, so the descriptor is closed (deinit) only after the last read: a reused descriptor
    /// number is never read.
    public func startReading(_ handler: @escaping @Sendable (Item?) -> Void) {
        do {
            try POSIXThread.detach { [self] in
                FrameChannel.readLoop(descriptor: self.descriptor, emit: handler)
                handler(nil)
            }
        } catch {
            // No thread, no reads: the channel ends as if the peer had closed it.
            handler(nil)
        }
    }

    /// Reads frames through one buffer: a read takes whatever has arrived (often a whole frame, header and
    /// body, or several), so a frame costs one `read(2)` instead of two, and no array per header.
    private static func readLoop(descriptor: Int32, emit: (Item) -> Void) {
        var buffer: [UInt8] = []
        var start = 0  // where the unread bytes begin
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            while buffer.count - start >= 4 {
                let length =
                    Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8
                    | Int(buffer[start + 3])
                guard length > 0, length <= maximumFrameBytes else {
                    emit(.violation("a frame of \(length) bytes is outside 1…\(maximumFrameBytes)"))
                    return
                }
                guard buffer.count - start >= 4 + length else { break }
                let item = decode(Array(buffer[(start + 4)..<(start + 4 + length)]))
                start += 4 + length
                emit(item)
                if case .violation = item { return }
            }
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            } else if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if got < 0, errno == EINTR { continue }
            if got <= 0 { return }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    /// Reads exactly one frame and not a byte past it, blocking the calling thread (use a dedicated one):
    /// nil at EOF or on a read error. For the handshake, after which an agent connection may carry MCP lines
    /// instead of frames (see ``VaultServer``); the reader thread of ``startReading(_:)`` reads ahead.
    public func readFrame() -> Item? {
        guard let header = readExactly(4) else { return nil }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length > 0, length <= Self.maximumFrameBytes else {
            return .violation("a frame of \(length) bytes is outside 1…\(Self.maximumFrameBytes)")
        }
        guard let body = readExactly(length) else { return nil }
        return Self.decode(body)
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, count - filled) }
            if got < 0, errno == EINTR { continue }
            if got <= 0 { return nil }
            filled += got
        }
        return bytes
    }

    /// One frame body: a JSON object, or the violation it is.
    private static func decode(_ body: [UInt8]) -> Item {
        do {
            guard let object = try JSONParser.parse(body).objectValue else {
                return .violation("a frame must be a JSON object")
            }
            return .frame(object)
        } catch {
            return .violation("a frame is not JSON: \(error)")
        }
    }

    /// The socket, for a connection that leaves framing after the handshake (``VaultRelay``, the vault's MCP
    /// session). It stays owned by this channel, which closes it when released.
    var fileDescriptor: Int32 { descriptor }

    /// Writes one frame whole (frames from concurrent calls never interleave). False once the peer is gone.
    @discardableResult
    public func send(_ object: JSONObject) -> Bool {
        let body = JSONValue.object(object).serializedBytes()
        guard body.count <= Self.maximumFrameBytes else { return false }
        let length = UInt32(body.count)
        let frame =
            [UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
            + body
        return writeLock.withLock { closed in
            guard !closed else { return false }
            var offset = 0
            while offset < frame.count {
                let written = frame.withUnsafeBytes { raw in
                    write(descriptor, raw.baseAddress! + offset, raw.count - offset)
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

    /// Stops reading: the reader thread sees EOF and ends, while frames can still be sent (a stopping vault
    /// lets running calls answer before it closes the connection).
    public func stopReading() {
        writeLock.withLock { closed in
            guard !closed else { return }
            _ = shutdown(descriptor, Int32(SHUT_RD))
        }
    }

    /// Shuts the socket down both ways (the reader thread then sees EOF) and closes it.
    public func close() {
        writeLock.withLock { closed in
            guard !closed else { return }
            closed = true
            _ = shutdown(descriptor, Int32(SHUT_RDWR))
        }
    }

    deinit {
        _ = Glibc.close(descriptor)
    }
}
