import MCP
import X402

/// Step 4: the unpaid upstream request (URL template, secrets, same-origin redirects only).
///
/// A 2xx/4xx/5xx other than 402 ends the call with the mapped result; a readable 402 goes on to offer
/// selection with its requirements in `state.challenge`.
struct UpstreamRequestStep: CallStep {
    var name: String { "upstream request" }

    func run(_ state: inout CallState, in environment: CallEnvironment) async -> StepOutcome {
        let request: HTTPRequest
        switch UpstreamCall.buildRequest(
            manifest: state.manifest, arguments: state.arguments, secrets: environment.secrets)
        {
        case .success(let built): request = built
        case .failure(let refusal): return .finish(.refused(refusal))
        }
        guard let transport = environment.transports[state.manifest.name] else {
            return .finish(.refused(.noTransport(tool: state.manifest.name)))
        }
        await state.caller.progress(1, 3, "calling the upstream API")
        // Without a wallet the client never signs; the placeholder signer refuses if ever asked.
        let signer: any Signer
        if case .enabled(let rail) = environment.payments { signer = rail.signer } else { signer = NoWallet() }
        let client = X402Client(transport: transport, signer: signer, clock: environment.payments.clock)
        state.client = client
        let first: X402Client.FirstResponse
        do {
            first = try await client.send(request)
        } catch let redirect as CrossOriginRedirect {
            return .finish(.refused(.crossOriginRedirect(status: redirect.status)))
        } catch let error as HTTPTransportError {
            return .finish(.refused(.upstreamUnreachable(code: error.code.name, message: error.message)))
        } catch {
            return .finish(.refused(.upstreamUnreachable(code: nil, message: nil)))
        }
        switch first {
        case .completed(let response):
            await state.caller.progress(2, 3, "upstream answered")
            return .finish(.answered(UpstreamCall.mapResponse(manifest: state.manifest, response: response)))
        case .unreadableChallenge(_, let error):
            return .finish(.refused(.unreadableChallenge(reason: "\(error)")))
        case .paymentRequired(let challenge):
            await state.caller.progress(2, 3, "payment required")
            state.challenge = challenge
            return .proceed
        }
    }
}
