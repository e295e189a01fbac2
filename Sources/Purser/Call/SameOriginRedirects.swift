import FoundationEssentials
import X402

/// The upstream redirected to another origin: refused, never contacted.
struct CrossOriginRedirect: Error {
    var status: Int
}

/// Follows same-origin redirects for unpaid requests; never follows anything for a paid request (a 3xx
/// after payment is an ambiguous outcome for the payment code to classify).
struct SameOriginRedirects: HTTPTransport {
    let base: any HTTPTransport
    let manifest: ToolManifest

    func send(_ first: HTTPRequest) async throws -> HTTPResponse {
        let paid = first.headers["PAYMENT-SIGNATURE"] != nil || first.headers["X-PAYMENT"] != nil
        var request = first
        for _ in 0...ToolCallPipeline.maximumRedirects {
            let response = try await base.send(request)
            guard !paid, [301, 302, 303, 307, 308].contains(response.status),
                let location = response.headers["Location"],
                let next = URL(string: location, relativeTo: request.url)?.absoluteURL
            else { return response }
            guard manifest.upstream.urlTemplate.isSameOrigin(next) else {
                throw CrossOriginRedirect(status: response.status)
            }
            if response.status == 303
                || ((response.status == 301 || response.status == 302) && request.method == "POST")
            {
                request = HTTPRequest(method: "GET", url: next, headers: request.headers, body: [])
                request.headers.remove(name: "Content-Type")
            } else {
                request.url = next
            }
        }
        throw HTTPTransportError(.other, "too many redirects")
    }
}
