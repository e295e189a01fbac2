import Foundation
import JSONCore
import MCP
import PurserVault

/// One MCP client on the far side of a ``VaultRelay``: writes request lines into the relay's input pipe and
/// reads the lines the relay writes out.
final class PipeClient {
    let relayInput: Int32
    let relayOutput: Int32
    private let toRelay: Int32
    private var lines: LineReader.Lines.AsyncIterator

    init() throws {
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw VaultError(.socket, "pipe() failed") }
        relayInput = input[0]
        toRelay = input[1]
        relayOutput = output[1]
        lines = LineReader(fileDescriptor: output[0]).lines().makeAsyncIterator()
    }

    func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(toRelay, $0.baseAddress, $0.count) }
    }

    /// The next line the relay wrote, parsed.
    func receive() async throws -> JSONObject {
        guard case .line(let bytes)? = await lines.next() else { throw VaultError(.closed, "no more lines") }
        guard let object = try JSONParser.parse(bytes).objectValue else { throw VaultError(.closed, "not an object") }
        return object
    }

    /// Ends the client's input: the relay half-closes the vault connection.
    func closeInput() { close(toRelay) }
}
