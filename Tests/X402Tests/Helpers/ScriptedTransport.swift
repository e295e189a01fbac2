import Foundation
import Synchronization
import X402

/// A transport that answers from a script and records every request (`Mutex`-guarded, hence Sendable).
final class ScriptedTransport: HTTPTransport {
    enum Step: Sendable {
        case respond(HTTPResponse)
        case fail(HTTPTransportError)
    }

    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>

    init(_ steps: [Step]) {
        state = Mutex((steps, []))
    }

    var sent: [HTTPRequest] { state.withLock { $0.sent } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step: Step? = state.withLock { state in
            state.sent.append(request)
            return state.steps.isEmpty ? nil : state.steps.removeFirst()
        }
        switch step {
        case .respond(let response)?: return response
        case .fail(let error)?: throw error
        case nil: throw HTTPTransportError(.other, "script exhausted")
        }
    }
}

/// A signer that signs with another key than it claims, or fails.
struct LyingSigner: Signer {
    let address: EVMAddressText
    let inner: KeyFileSigner?

    func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        guard let inner else { throw X402Error(.signerFailed, "refused") }
        return try await inner.sign(typedData)
    }
}
