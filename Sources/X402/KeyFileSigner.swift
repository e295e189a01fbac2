import FoundationEssentials
import Glibc

/// Signs with a secp256k1 key read from a file: `0x` + 64 hex digits (or bare hex), one line.
///
/// The file is refused unless it is a regular file (not a symlink) owned by this user with mode 0600 or
/// 0400. The key stays inside this value: never in `description`, `debugDescription`, a mirror, or an error.
public struct KeyFileSigner: Signer, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The key's address.
    public let address: EVMAddressText
    private let key: SigningKey

    /// Loads the key at `path`.
    ///
    /// - Throws: `X402Error` with code `keyFile` (missing, not a regular file, permissions too open,
    ///   wrong owner, malformed or invalid key).
    public init(path: String) throws(X402Error) {
        let bytes = try KeyFile.readOwnerOnly(path)
        let key = try KeyFile.parseKey(bytes, path: path)
        self.key = key
        self.address = key.address
    }

    /// Creates a signer from raw key bytes (tests and benchmarks).
    public init(privateKey: [UInt8]) throws(X402Error) {
        guard let key = SigningKey(privateKey) else {
            throw X402Error(.keyFile, "the key is not a valid secp256k1 key")
        }
        self.key = key
        self.address = key.address
    }

    public func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        try key.sign(digest: try EIP3009Crypto.digest(typedData))
    }

    public var description: String { "KeyFileSigner(\(address.text))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["address": address.text]) }
}

/// Key-file reading and creation with owner-only permissions.
public enum KeyFile {
    /// The largest key file read (a key is 66 characters plus a newline).
    static let maximumBytes = 256

    /// Reads a file that must be a regular file owned by this user with no group or other permissions
    /// (``OwnerOnlyFile``, with `keyFile` errors; a missing file is an error here).
    static func readOwnerOnly(_ path: String) throws(X402Error) -> [UInt8] {
        guard
            let bytes = try OwnerOnlyFile.read(path, what: "the key file", maximumBytes: maximumBytes, code: .keyFile)
        else { throw X402Error(.keyFile, "the key file \(path) does not exist") }
        return bytes
    }

    static func parseKey(_ bytes: [UInt8], path: String) throws(X402Error) -> SigningKey {
        var text = bytes[...]
        while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 {
            text = text.dropLast()
        }
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        if text.count >= 2, text[text.startIndex] == 0x30, text[text.startIndex + 1] == 0x78 {
            text = text.dropFirst(2)
        }
        guard text.count == 64, let raw = HexBytes.decode(text), let key = SigningKey(raw) else {
            // The content is never quoted: it may be a key with a typo.
            throw X402Error(.keyFile, "the key file \(path) does not hold a valid secp256k1 key (0x + 64 hex digits)")
        }
        return key
    }

    /// Creates a new key file with mode 0600, refusing to overwrite anything; returns the address.
    ///
    /// The key comes from the system CSPRNG; the file and its directory are synced before returning.
    public static func create(at path: String) throws(X402Error) -> EVMAddressText {
        var generated: (bytes: [UInt8], key: SigningKey)?
        for _ in 0..<8 {
            let candidate: [UInt8]
            do {
                candidate = try EIP3009Crypto.systemRandomBytes(32)
            } catch {
                throw X402Error(.randomness, "the system random source failed")
            }
            if let valid = SigningKey(candidate) {
                generated = (candidate, valid)
                break
            }
        }
        guard let (secret, key) = generated else { throw X402Error(.randomness, "no valid key from the random source") }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason =
                errno == EEXIST ? "already exists; it is never overwritten" : "cannot be created (errno \(errno))"
            throw X402Error(.keyFile, "the key file \(path) \(reason)")
        }
        // The umask may have narrowed the mode further; it can never have widened it past 0600.
        fchmod(descriptor, 0o600)
        let content = Array(("0x" + HexBytes.encode(secret) + "\n").utf8)
        let written = content.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == content.count, synced else {
            unlink(path)
            throw X402Error(.keyFile, "the key file \(path) could not be written")
        }
        // The directory holding the new entry, which must be synced for the entry to survive a crash.
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
        return key.address
    }
}
