import Foundation
import FoundationNetworking
import Synchronization
import X402

/// The transport the product used before `HTTPClient`, kept only so benchmarks can compare the two in
/// one run. `purser-bench` is not the product: it may link FoundationNetworking, `purser` must not.
///
/// Guarantees that the payment code relies on:
/// - **No redirects are followed.** A session-level delegate refuses them (per-task delegates are ignored on
///   Linux), so a 3xx comes back as a response and payment or auth headers never travel to another host.
/// - **Bounded size.** The body is counted while it streams; past `maximumResponseBytes` the transfer is
///   cancelled and `HTTPTransportError.tooLarge` is thrown.
/// - **Bounded time.** The deadline is enforced by cancelling the task (URLSession truncates sub-second
///   timeouts to whole seconds), giving `HTTPTransportError.timeout`.
/// - **No state between calls.** Ephemeral configuration, no cookies, no cache.
/// - **Classified failures.** `HTTPTransportError.Code.definitelyNotSent` separates "never left this
///   machine" (safe to forget a payment) from "may have arrived" (a payment is in doubt).
final class URLSessionTransport: HTTPTransport {
    /// Limits and pool settings.
    struct Configuration: Sendable {
        /// The longest response body accepted, in bytes.
        var maximumResponseBytes: Int
        /// The deadline for a whole exchange (connect, send, receive).
        var timeout: Duration
        /// Parallel connections per host (URLSession's default of 6 serialises concurrent tool calls).
        var maximumConnectionsPerHost: Int

        /// Creates a configuration.
        init(
            maximumResponseBytes: Int = 10 * 1024 * 1024, timeout: Duration = .seconds(30),
            maximumConnectionsPerHost: Int = 32
        ) {
            self.maximumResponseBytes = maximumResponseBytes
            self.timeout = timeout
            self.maximumConnectionsPerHost = maximumConnectionsPerHost
        }
    }

    /// The settings in use.
    let configuration: Configuration
    private let session: URLSession
    private let delegate: SessionDelegate

    /// Creates a transport with its own URLSession.
    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.httpMaximumConnectionsPerHost = configuration.maximumConnectionsPerHost
        sessionConfiguration.httpCookieAcceptPolicy = .never
        sessionConfiguration.httpShouldSetCookies = false
        sessionConfiguration.httpCookieStorage = nil
        sessionConfiguration.urlCache = nil
        sessionConfiguration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // A whole-second safety net above the real deadline, which task cancellation enforces.
        let seconds = Self.wholeSeconds(configuration.timeout) + 1
        sessionConfiguration.timeoutIntervalForRequest = seconds
        sessionConfiguration.timeoutIntervalForResource = seconds
        let delegate = SessionDelegate()
        self.delegate = delegate
        self.session = URLSession(configuration: sessionConfiguration, delegate: delegate, delegateQueue: nil)
    }

    deinit {
        session.invalidateAndCancel()
    }

    /// Sends `request` and returns the response, whatever its status (3xx included).
    ///
    /// - Throws: `HTTPTransportError` (`invalidRequest`, `cannotConnect`, `timeout`, `tooLarge`,
    ///   `connectionLost`, `cancelled`, `other`).
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let urlRequest = try makeURLRequest(request)
        let task = session.dataTask(with: urlRequest)
        let exchange = Exchange(limit: configuration.maximumResponseBytes)
        delegate.register(task.taskIdentifier, exchange)
        let timeout = configuration.timeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                exchange.start(continuation)
                let timer = Task {
                    try await Task.sleep(for: timeout)
                    if exchange.fail(HTTPTransportError(.timeout, "no complete response within \(timeout)")) {
                        task.cancel()
                    }
                }
                exchange.setTimer(timer)
                task.resume()
            }
        } onCancel: {
            if exchange.fail(HTTPTransportError(.cancelled, "the request was cancelled")) {
                task.cancel()
            }
        }
    }

    private func makeURLRequest(_ request: HTTPRequest) throws(HTTPTransportError) -> URLRequest {
        guard let scheme = request.url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw HTTPTransportError(.invalidRequest, "only http and https URLs are sent")
        }
        guard let host = request.url.host, !host.isEmpty else {
            throw HTTPTransportError(.invalidRequest, "the URL has no host")
        }
        guard !request.method.isEmpty, request.method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPTransportError(.invalidRequest, "the method is not a token")
        }
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.httpShouldHandleCookies = false
        urlRequest.cachePolicy = .reloadIgnoringLocalCacheData
        urlRequest.timeoutInterval = Self.wholeSeconds(configuration.timeout) + 1
        for field in request.headers {
            // Header injection: CR, LF or NUL in a name or value would split the request.
            guard !field.name.isEmpty, !Self.hasLineBreak(field.name), !Self.hasLineBreak(field.value) else {
                throw HTTPTransportError(.invalidRequest, "a header name or value contains a line break")
            }
            urlRequest.addValue(field.value, forHTTPHeaderField: field.name)
        }
        if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
        return urlRequest
    }

    private static func hasLineBreak(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    private static func wholeSeconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(max(1, seconds + (attoseconds > 0 ? 1 : 0)))
    }

    static func classify(_ error: any Error) -> HTTPTransportError {
        guard let urlError = error as? URLError else {
            return HTTPTransportError(.other, "transport failure")
        }
        switch urlError.code {
        case .timedOut:
            return HTTPTransportError(.timeout, "the request timed out")
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
            return HTTPTransportError(.cannotConnect, "could not connect (URLError \(urlError.code.rawValue))")
        case .networkConnectionLost:
            return HTTPTransportError(.connectionLost, "the connection was lost")
        case .cancelled:
            return HTTPTransportError(.cancelled, "the request was cancelled")
        case .badURL, .unsupportedURL:
            return HTTPTransportError(.invalidRequest, "the URL is not usable")
        case .badServerResponse, .cannotParseResponse:
            return HTTPTransportError(.connectionLost, "the server's response was malformed")
        default:
            return HTTPTransportError(.other, "transport failure (URLError \(urlError.code.rawValue))")
        }
    }
}

/// One request in flight: its continuation, body so far, and the first terminal event.
private final class Exchange: Sendable {
    private struct State {
        var continuation: CheckedContinuation<HTTPResponse, any Error>?
        var response: HTTPURLResponse?
        var body: [UInt8] = []
        var failure: HTTPTransportError?
        var finished = false
        var timer: Task<Void, any Error>?
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    func start(_ continuation: CheckedContinuation<HTTPResponse, any Error>) {
        let resumeNow: HTTPTransportError? = state.withLock { state in
            // Cancelled before the continuation existed: resume at once.
            if let failure = state.failure {
                state.finished = true
                return failure
            }
            state.continuation = continuation
            return nil
        }
        if let resumeNow { continuation.resume(throwing: resumeNow) }
    }

    func setTimer(_ timer: Task<Void, any Error>) {
        let cancelNow = state.withLock { state in
            if state.finished { return true }
            state.timer = timer
            return false
        }
        if cancelNow { timer.cancel() }
    }

    /// Records the first failure; true when the caller should cancel the URLSession task.
    func fail(_ error: HTTPTransportError) -> Bool {
        state.withLock { state in
            guard !state.finished, state.failure == nil else { return false }
            state.failure = error
            return true
        }
    }

    func receive(_ response: HTTPURLResponse) -> Bool {
        state.withLock { state in
            state.response = response
            if response.expectedContentLength > Int64(limit) {
                if state.failure == nil {
                    state.failure = HTTPTransportError(.tooLarge, "the response announces more than \(limit) bytes")
                }
                return false
            }
            return true
        }
    }

    /// Appends body bytes; false (with `tooLarge` recorded) when the cap is passed.
    func append(_ data: Data) -> Bool {
        state.withLock { state in
            guard state.failure == nil else { return false }
            guard state.body.count + data.count <= limit else {
                state.failure = HTTPTransportError(.tooLarge, "the response body exceeds \(limit) bytes")
                state.body = []
                return false
            }
            state.body.append(contentsOf: data)
            return true
        }
    }

    func complete(_ error: (any Error)?) {
        let (continuation, result): (CheckedContinuation<HTTPResponse, any Error>?, Result<HTTPResponse, any Error>) =
            state.withLock { state in
                let continuation = state.continuation
                state.continuation = nil
                state.finished = true
                state.timer?.cancel()
                state.timer = nil
                if let failure = state.failure { return (continuation, .failure(failure)) }
                if let error { return (continuation, .failure(URLSessionTransport.classify(error))) }
                guard let response = state.response else {
                    return (continuation, .failure(HTTPTransportError(.connectionLost, "no response")))
                }
                var headers = HTTPHeaders()
                for (key, value) in response.allHeaderFields {
                    headers.add(name: String(describing: key), value: String(describing: value))
                }
                return (
                    continuation,
                    .success(HTTPResponse(status: response.statusCode, headers: headers, body: state.body))
                )
            }
        continuation?.resume(with: result)
    }
}

/// The session-level delegate: refuses redirects and routes data events to their `Exchange`.
///
/// `@unchecked Sendable`: its only stored state is the `Mutex`-guarded table.
private final class SessionDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let exchanges = Mutex([Int: Exchange]())

    func register(_ identifier: Int, _ exchange: Exchange) {
        exchanges.withLock { $0[identifier] = exchange }
    }

    private func exchange(_ task: URLSessionTask) -> Exchange? {
        exchanges.withLock { $0[task.taskIdentifier] }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        // Never follow: the 3xx goes back to the caller, and no header travels to another host.
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        guard let exchange = exchange(dataTask), let http = response as? HTTPURLResponse else {
            completionHandler(.cancel)
            return
        }
        completionHandler(exchange.receive(http) ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let exchange = exchange(dataTask) else { return }
        if !exchange.append(data) { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let exchange = exchanges.withLock { $0.removeValue(forKey: task.taskIdentifier) }
        exchange?.complete(error)
    }
}

/// Creates its `URLSessionTransport` on first use.
///
/// FoundationNetworking costs about 14 MiB of resident memory once a `URLSession` exists (measured here:
/// a trivial binary peaks at 16 MiB with Foundation and 30 MiB with one ephemeral session), so a server that
/// only lists tools, or only calls a few, should not pay it up front for every tool.
final class LazyURLSessionTransport: HTTPTransport {
    private let configuration: URLSessionTransport.Configuration
    private let transport: Mutex<URLSessionTransport?> = Mutex(nil)

    /// Creates the wrapper; nothing is allocated until the first request.
    init(configuration: URLSessionTransport.Configuration = URLSessionTransport.Configuration()) {
        self.configuration = configuration
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let transport = self.transport.withLock { current in
            if let current { return current }
            let created = URLSessionTransport(configuration: configuration)
            current = created
            return created
        }
        return try await transport.send(request)
    }
}
