#if canImport(Glibc)
    import Glibc
#endif

/// Reads the owner's passphrase from the controlling terminal (`/dev/tty`) with echo off.
///
/// Never from an argument, the environment or stdin: those are where an agent's shell can put words.
/// A process without a controlling terminal (an agent's tool sandbox, a pipe) gets an error.
public enum TerminalPassphrase {
    /// Prompts on the terminal and reads one line.
    public static func read(prompt: String) throws(OwnerAuthorityError) -> String {
        let descriptor = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw OwnerAuthorityError(
                .passphrase, "no terminal (/dev/tty) to read the owner passphrase from; run this in a terminal")
        }
        defer { close(descriptor) }
        var saved = termios()
        let haveTermios = tcgetattr(descriptor, &saved) == 0
        if haveTermios {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ECHONL)
            _ = tcsetattr(descriptor, TCSAFLUSH, &quiet)
        }
        defer { if haveTermios { _ = tcsetattr(descriptor, TCSAFLUSH, &saved) } }
        let promptBytes = Array(prompt.utf8)
        _ = promptBytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        return try readLine(descriptor)
    }

    /// Reads one line from `descriptor` (at most 1024 bytes). Used for the documented test-only override.
    public static func readLine(_ descriptor: Int32) throws(OwnerAuthorityError) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count <= 1024 {
            let count = Glibc.read(descriptor, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 || byte == 0x0A { break }
            bytes.append(byte)
        }
        guard bytes.count <= 1024 else { throw OwnerAuthorityError(.passphrase, "the passphrase is too long") }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard !bytes.isEmpty else { throw OwnerAuthorityError(.passphrase, "no passphrase was entered") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
