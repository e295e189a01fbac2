import HTTPClient
import Testing

/// `NO_PROXY` and the proxy variables, with curl's semantics (documented on `NoProxyList`).
@Suite("NO_PROXY and proxy variables")
struct NoProxyListTests {
    @Test(
        "matches names, domain suffixes, addresses, networks and ports, case-insensitively",
        arguments: [
            // (NO_PROXY, host, port, bypassed)
            ("example.com", "example.com", 443, true),
            ("example.com", "API.Example.COM", 443, true),
            ("example.com", "badexample.com", 443, false),
            (".example.com", "example.com", 443, true),
            (".example.com", "a.b.example.com", 443, true),
            ("EXAMPLE.com.", "example.com.", 443, true),
            ("example.com:8443", "example.com", 8443, true),
            ("example.com:8443", "example.com", 443, false),
            ("*", "anything.at.all", 1, true),
            ("  other.org ,  example.com ", "example.com", 443, true),
            ("", "example.com", 443, false),
            ("10.1.2.3", "10.1.2.3", 80, true),
            ("10.1.2.3", "10.1.2.4", 80, false),
            ("10.0.0.0/8", "10.200.3.4", 80, true),
            ("10.0.0.0/8", "11.0.0.1", 80, false),
            ("192.168.1.0/24:8080", "192.168.1.9", 8080, true),
            ("192.168.1.0/24:8080", "192.168.1.9", 80, false),
            ("::1", "::1", 80, true),
            ("[fd00::1]:8080", "fd00::1", 8080, true),
            ("[fd00::1]:8080", "fd00::1", 80, false),
            ("fd00::/8", "fd12::5", 443, true),
            ("fd00::/8", "fe80::1", 443, false),
            // Names are never resolved: an address entry does not match a name, nor a name an address.
            ("127.0.0.1", "localhost", 80, false),
            ("example.com", "93.184.216.34", 80, false),
            // Malformed entries are ignored, the rest still apply.
            ("10.0.0.0/99, example.com", "example.com", 443, true),
            ("10.0.0.0/99", "10.0.0.1", 443, false),
        ])
    func matching(noProxy: String, host: String, port: Int, bypassed: Bool) {
        #expect(NoProxyList(noProxy).matches(host: host.lowercased(), port: port) == bypassed)
    }

    @Test("lower-case variables win over upper-case ones, as in curl; ALL_PROXY is not read")
    func environmentPrecedence() {
        let configuration = ProxyConfiguration.environment([
            "https_proxy": "http://lower:3128", "HTTPS_PROXY": "http://upper:3128", "HTTP_PROXY": "upper-http:8080",
            "NO_PROXY": "internal.corp", "ALL_PROXY": "http://all:1",
        ])
        guard case .proxy(let https) = configuration.httpsProxy, case .proxy(let http) = configuration.httpProxy
        else {
            Issue.record("expected both proxies, got \(configuration)")
            return
        }
        #expect(https.host == "lower" && https.port == 3128)
        // A URL without a scheme is an http:// proxy.
        #expect(http.host == "upper-http" && http.port == 8080)
        #expect(configuration.noProxy.matches(host: "db.internal.corp", port: 5432))
        #expect(configuration.bypassesLoopback)
        let empty = ProxyConfiguration.environment(["ALL_PROXY": "http://all:1", "https_proxy": ""])
        guard case .none = empty.httpsProxy, case .none = empty.httpProxy else {
            Issue.record("expected no proxy, got \(empty)")
            return
        }
    }

    @Test("a proxy URL's port defaults to 80; an IPv6 proxy is written in brackets")
    func proxyURLForms() {
        guard case .proxy(let plain) = ProxyConfiguration(httpsProxy: "http://proxy.corp").httpsProxy,
            case .proxy(let v6) = ProxyConfiguration(httpsProxy: "http://[::1]:3128/").httpsProxy
        else {
            Issue.record("expected usable proxies")
            return
        }
        #expect(plain.port == 80)
        #expect(v6.host == "::1" && v6.port == 3128)
        #expect(!plain.hasCredentials)
    }
}
