import Glibc

/// stdout or stderr written with `write(2)`, whole buffers at a time (short writes and EINTR retried), in
/// place of full Foundation's `FileHandle` (which would link FoundationInternationalization and ICU into
/// `purser`). Nothing is buffered: each call is on the descriptor when it returns.
package struct StandardStream: Sendable {
    /// Why a write failed.
    package struct WriteError: Error, Sendable {
        /// The `errno` of the failed write (EPIPE when the reader is gone: SIGPIPE is ignored by `purser`).
        package let code: Int32
    }

    /// The descriptor written to.
    package let descriptor: Int32

    /// File descriptor 1.
    package static let output = StandardStream(descriptor: 1)
    /// File descriptor 2.
    package static let error = StandardStream(descriptor: 2)

    /// Writes all of `bytes`.
    package func write(contentsOf bytes: some Collection<UInt8>) throws(WriteError) {
        var failure: Int32 = 0
        bytes.withContiguousStorageIfAvailable { buffer in failure = Self.writeAll(descriptor, buffer) }
            ?? Array(bytes).withUnsafeBufferPointer { buffer in failure = Self.writeAll(descriptor, buffer) }
        if failure != 0 { throw WriteError(code: failure) }
    }

    /// Writes `text` as UTF-8, dropping a failure (for diagnostics: there is nowhere left to report it).
    package func write(_ text: String) {
        var text = text
        _ = text.withUTF8 { buffer in Self.writeAll(descriptor, buffer) }
    }

    /// 0, or the errno that stopped the write.
    private static func writeAll(_ descriptor: Int32, _ buffer: UnsafeBufferPointer<UInt8>) -> Int32 {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return 0
    }
}
