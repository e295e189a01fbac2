import Foundation
import Glibc
import JSONCore
import Synchronization

/// Signs by running an external command: the EIP-712 typed data (`eth_signTypedData_v4` JSON) goes to its
/// stdin, the signature (`0x` + 130 hex) comes back on stdout.
///
/// Any wallet (hardware, remote, a vault) fits behind a small script. The command runs with a deadline and
/// is killed when it passes it; its stderr is captured, never echoed verbatim: errors carry at most a
/// short excerpt with long hex runs (potential keys or signatures) redacted.
public struct CommandSigner: Signer {
    /// The address signatures must recover to.
    public let address: EVMAddressText
    /// Executable path and arguments (no shell).
    public let command: [String]
    /// Deadline for one signature.
    public let timeout: Duration

    /// Creates a command signer.
    public init(command: [String], address: EVMAddressText, timeout: Duration = .seconds(30)) {
        self.command = command
        self.address = address
        self.timeout = timeout
    }

    public func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        guard let executable = command.first, !executable.isEmpty else {
            throw X402Error(.configuration, "the signer command is empty")
        }
        let input = typedData.eip712JSON.serializedBytes() + [0x0A]
        let result = try await Self.run(
            executable: executable, arguments: Array(command.dropFirst()), input: input,
            timeout: timeout)
        guard result.status == 0 else {
            throw X402Error(
                .signerFailed,
                "the signer command exited with status \(result.status)"
                    + Self.excerpt(result.stderr))
        }
        return try Self.parseSignature(result.stdout)
    }

    /// Parses `0x` + 130 hex digits (surrounding whitespace allowed).
    static func parseSignature(_ output: [UInt8]) throws(X402Error) -> [UInt8] {
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("0x"), text.utf8.count == 132, let bytes = HexBytes.decodePrefixed(text) else {
            throw X402Error(.signerFailed, "the signer's output is not 0x followed by 130 hex digits")
        }
        return bytes
    }

    /// At most 200 characters of stderr, hex runs of 16 or more replaced, control characters removed.
    static func excerpt(_ stderr: [UInt8]) -> String {
        guard !stderr.isEmpty else { return "" }
        var text = String(decoding: stderr.prefix(2048), as: UTF8.self)
        text = redactHex(text)
        let cleaned = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
            .trimmingCharacters(in: .whitespaces)
        let clipped = cleaned.count > 200 ? String(cleaned.prefix(200)) + "…" : cleaned
        return clipped.isEmpty ? "" : " (stderr: \(clipped))"
    }

    static func redactHex(_ text: String) -> String {
        var output = ""
        var run = ""
        func flush() {
            output += run.count >= 16 ? "[redacted]" : run
            run = ""
        }
        for character in text {
            if character.isHexDigit {
                run.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }

    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    private static let maximumOutput = 64 * 1024

    static func run(executable: String, arguments: [String], input: [UInt8], timeout: Duration) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished in
            exited.continuation.yield(finished.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            throw X402Error(.signerFailed, "the signer command could not be started")
        }
        // Readers drain both pipes on their own threads so a chatty child never blocks on a full pipe.
        let outBytes = Self.drain(stdout.fileHandleForReading)
        let errBytes = Self.drain(stderr.fileHandleForReading)
        do {
            try stdin.fileHandleForWriting.write(contentsOf: input)
        } catch {
            // The child may exit without reading; its status tells the rest.
        }
        try? stdin.fileHandleForWriting.close()

        let pid = process.processIdentifier
        let timedOut = Atomic<Bool>(false)
        let killer = Task {
            try await Task.sleep(for: timeout)
            timedOut.store(true, ordering: .releasing)
            kill(pid, SIGKILL)
        }
        var status: Int32 = -1
        for await value in exited.stream { status = value }
        killer.cancel()
        let out = await outBytes.value
        let err = await errBytes.value
        if timedOut.load(ordering: .acquiring) {
            throw X402Error(.signerFailed, "the signer command did not answer within \(timeout)")
        }
        guard out.count <= maximumOutput else {
            throw X402Error(.signerFailed, "the signer command wrote more than \(maximumOutput) bytes")
        }
        return Result(status: status, stdout: out, stderr: err)
    }

    private static func drain(_ handle: FileHandle) -> Task<[UInt8], Never> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let thread = Thread {
            var collected: [UInt8] = []
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                // Keep reading (so the child is never blocked) but stop storing past the cap.
                if collected.count <= maximumOutput { collected.append(contentsOf: chunk) }
            }
            continuation.yield(collected)
            continuation.finish()
        }
        thread.start()
        return Task {
            var result: [UInt8] = []
            for await value in stream { result = value }
            return result
        }
    }
}
