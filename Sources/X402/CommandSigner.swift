import JSONCore

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
        let text = trimmingWhitespace(String(decoding: output, as: UTF8.self))
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
        let cleaned = trimmingWhitespace(
            String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) }))
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
        let child = ChildProcess(
            executable: executable, arguments: arguments, input: input, timeout: timeout, outputCap: maximumOutput)
        switch await child.run() {
        case .notStarted:
            throw X402Error(.signerFailed, "the signer command could not be started")
        case .timedOut:
            throw X402Error(.signerFailed, "the signer command did not answer within \(timeout)")
        case .finished(let status, let stdout, let stderr):
            guard stdout.count <= maximumOutput else {
                throw X402Error(.signerFailed, "the signer command wrote more than \(maximumOutput) bytes")
            }
            return Result(status: status, stdout: stdout, stderr: stderr)
        }
    }
}

/// `text` without leading and trailing whitespace (newlines included).
private func trimmingWhitespace(_ text: String) -> String {
    guard let first = text.firstIndex(where: { !$0.isWhitespace }),
        let last = text.lastIndex(where: { !$0.isWhitespace })
    else { return "" }
    return String(text[first...last])
}
