import X402

/// The boundary where upstream bytes enter Purser: every response (and transport error message) is
/// scrubbed of the secret header values this request carried, before anything else reads it.
///
/// Wrapping the transport rather than the result builders means no later step (result mapping, refusal
/// texts, settlement reasons, traces, idempotency records, reports) can forget to scrub.
struct SecretScrubbingTransport: HTTPTransport {
    let base: any HTTPTransport
    let secretHeaders: [(name: String, secret: String, prefix: String)]

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let scrubber = SecretScrubber(secretHeaders: secretHeaders, request: request)
        do {
            return scrubber.scrub(try await base.send(request))
        } catch let error as HTTPTransportError {
            throw HTTPTransportError(error.code, scrubber.scrub(error.message))
        }
    }
}
