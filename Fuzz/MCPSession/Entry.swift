import Dispatch
import Foundation
import Glibc
import JSONCore
import MCP
import POSIXThread

/// A provider with one tool that echoes its arguments, and one that asks the client (elicitation).
private struct EchoProvider: ToolProvider {
    func tools(for client: ClientDescription) async -> [ToolDescription] {
        [ToolDescription(name: "echo", inputSchema: ["type": "object"])]
    }

    func callTool(name: String, arguments: JSONObject, context: ToolCallContext) async throws(MCPError)
        -> ToolCallOutcome
    {
        switch name {
        case "echo":
            await context.reportProgress(1, 2, "half")
            await context.log(.info, .object(arguments))
            return .complete(.text(JSONValue.object(arguments).serialized()))
        case "ask":
            let answer = try await context.elicit(["mode": "form", "message": "ok?", "requestedSchema": [:]])
            return .complete(.text(JSONValue.object(answer).serialized()))
        default:
            throw MCPError.invalidParams("Unknown tool: \(name)")
        }
    }
}

/// Small limits, so the fuzzer reaches the over-long line and concurrency paths.
private let configuration = MCPServer.Configuration(
    name: "fuzz", version: "1", pageSize: 1, maximumLineLength: 2048, maximumQueuedLines: 4,
    maximumConcurrentRequests: 4, maximumAdmissionWait: .milliseconds(50))

/// libFuzzer entry: a whole stdio session. The input is the client's byte stream (framing included);
/// the server must finish at end of input, and every line it writes must be one JSON-RPC message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let toServer = Pipe()
    let fromServer = Pipe()
    let server = MCPServer(
        configuration: configuration, provider: EchoProvider(), input: toServer.fileHandleForReading.fileDescriptor,
        output: fromServer.fileHandleForWriting.fileDescriptor)
    let finished = DispatchSemaphore(value: 0)
    Task {
        await server.run()
        finished.signal()
    }
    // The client side writes and reads on their own threads so neither pipe can fill up and block. Joinable
    // POSIX threads, joined before returning: nothing of this input outlives it (Foundation's Thread keeps
    // per-thread state that leak checking would report).
    let writeHandle = toServer.fileHandleForWriting
    let writeEnd = writeHandle.fileDescriptor
    let readEnd = fromServer.fileHandleForReading.fileDescriptor
    let writer = spawn { () -> [UInt8] in
        var offset = 0
        while offset < input.count {
            let written = input[offset...].withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
            if written <= 0 { break }
            offset += written
        }
        // Through the handle, so it is not closed a second time (by then perhaps another file's number).
        try? writeHandle.close()
        return []
    }
    let reader = spawn { () -> [UInt8] in
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return bytes
    }
    guard finished.wait(timeout: .now() + 20) == .success else { fatalError("the server did not finish at EOF") }
    try? fromServer.fileHandleForWriting.close()
    _ = writer.join()
    let lines = reader.join()
    try? toServer.fileHandleForReading.close()
    try? fromServer.fileHandleForReading.close()
    for line in lines.split(separator: 0x0A) {
        guard case .object(let message)? = try? JSONParser.parse(Array(line)), message["jsonrpc"] == "2.0" else {
            fatalError("the server wrote a line that is not a JSON-RPC message")
        }
    }
    return 0
}

/// A joinable thread running `body`; a harness that cannot start one has nothing to test.
private func spawn(_ body: @escaping @Sendable () -> [UInt8]) -> POSIXThread.Joinable<[UInt8]> {
    do {
        return try POSIXThread.start(body)
    } catch {
        fatalError(error.message)
    }
}
