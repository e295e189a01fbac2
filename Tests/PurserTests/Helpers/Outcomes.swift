import Foundation
import JSONCore
import MCP
import Purser

/// The tool result of a call that completed (throws for an MRTR input request).
func result(_ outcome: ToolCallOutcome) throws -> ToolResult {
    guard case .complete(let result) = outcome else { throw CocoaError(.featureUnsupported) }
    return result
}

/// The `error` code of a completed call's structured content, if any.
func errorCode(_ outcome: ToolCallOutcome) throws -> String? {
    try result(outcome).structuredContent?["error"]?.stringValue
}
