import Dispatch
import Foundation
import JSONCore
import MCP

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
    // The client side writes and reads on their own threads so neither pipe can fill up and block.
    let output = OutputCollector(handle: fromServer.fileHandleForReading)
    let writer = Thread {
        toServer.fileHandleForWriting.write(Data(input))
        try? toServer.fileHandleForWriting.close()
    }
    writer.start()
    output.start()
    guard finished.wait(timeout: .now() + 20) == .success else { fatalError("the server did not finish at EOF") }
    try? fromServer.fileHandleForWriting.close()
    let lines = output.wait()
    try? toServer.fileHandleForReading.close()
    try? fromServer.fileHandleForReading.close()
    for line in lines.split(separator: 0x0A) {
        guard case .object(let message)? = try? JSONParser.parse(Array(line)), message["jsonrpc"] == "2.0" else {
            fatalError("the server wrote a line that is not a JSON-RPC message")
        }
    }
    return 0
}

/// Reads a pipe to EOF on a thread.
private final class OutputCollector: @unchecked Sendable {
    private let handle: FileHandle
    private let done = DispatchSemaphore(value: 0)
    // Written by the reading thread before `done` is signalled, read after.
    private var bytes: [UInt8] = []

    init(handle: FileHandle) { self.handle = handle }

    func start() {
        Thread {
            self.bytes = Array(self.handle.readDataToEndOfFile())
            self.done.signal()
        }.start()
    }

    func wait() -> [UInt8] {
        done.wait()
        return bytes
    }
}
