import COpenSSL
import Synchronization
import X402

/// An OpenSSL client context: TLS 1.2 or newer, peer verification against one trust store.
///
/// `@unchecked Sendable`: the `SSL_CTX` is configured once in `init` and only read afterwards, which
/// OpenSSL 3 allows from many threads.
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads `caFile` (PEM) as the only trust anchors, or the system trust store when nil.
    init(caFile: String?) throws(HTTPFailure) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw HTTPFailure(.cannotConnect, "could not create a TLS context: \(TLSContext.lastError())")
        }
        _ = purser_ssl_ctx_set_min_tls12(context)
        _ = purser_ssl_ctx_set_modes(context)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        let loaded: Int32
        if let caFile {
            loaded = SSL_CTX_load_verify_locations(context, caFile, nil)
        } else {
            // The system store: /etc/ssl/certs (Debian's ca-certificates), or SSL_CERT_FILE/SSL_CERT_DIR.
            loaded = SSL_CTX_set_default_verify_paths(context)
        }
        guard loaded == 1 else {
            SSL_CTX_free(context)
            let which = caFile ?? "the system trust store"
            throw HTTPFailure(.cannotConnect, "could not load trusted certificates from \(which)")
        }
        self.context = context
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// The oldest queued OpenSSL error as text (and clears the queue), or a generic phrase.
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unspecified TLS failure" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static let cache = Mutex([String: TLSContext]())

    /// One shared context per trust store, created on first HTTPS use (loading the store costs time).
    static func shared(caFile: String?) throws(HTTPFailure) -> TLSContext {
        let key = caFile ?? ""
        let result: Result<TLSContext, HTTPFailure> = cache.withLock { cache in
            if let existing = cache[key] { return .success(existing) }
            do throws(HTTPFailure) {
                let created = try TLSContext(caFile: caFile)
                cache[key] = created
                return .success(created)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
