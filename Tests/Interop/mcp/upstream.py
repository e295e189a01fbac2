"""A small loopback HTTP upstream for the MCP suites: JSON endpoints, a redirect to another host, a slow one."""
import http.server
import json
import threading
import time
import urllib.parse


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive + Nagle + delayed ACK costs 40 ms per request

    def log_message(self, *args):
        pass

    def _send_json(self, status, payload, headers=()):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.server.seen.append({"path": url.path, "query": query, "headers": dict(self.headers)})
        if url.path == "/papers":
            q = query.get("q", [""])[0]
            limit = int(query.get("limit", ["3"])[0])
            self._send_json(200, {"query": q, "results": [{"title": f"{q} #{i}"} for i in range(limit)]})
        elif url.path.startswith("/echo/"):
            self._send_json(200, {"segment": urllib.parse.unquote(url.path[len("/echo/"):])})
        elif url.path == "/bad-output":
            self._send_json(200, {"query": 42})
        elif url.path == "/redirect-away":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{self.server.server_address[1]}/papers?q=stolen")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/quote-key":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            self._send_json(401, {"error": f"invalid api key {key}"})
        elif url.path == "/echo-headers":
            import base64
            headers = dict(self.headers)
            key = self.headers.get("X-Api-Key", "")
            self._send_json(200, {"headers": headers, "base64": base64.b64encode(key.encode()).decode(),
                                  "quoted": urllib.parse.quote(key)}, headers=[("X-Echo-Key", key)])
        elif url.path == "/slow":
            time.sleep(float(query.get("seconds", ["2"])[0]))
            self._send_json(200, {"slow": True})
        else:
            self._send_json(404, {"error": "not found"})


class Upstream:
    """Runs the handler on 127.0.0.1 on a free port in a background thread."""

    def __init__(self):
        http.server.ThreadingHTTPServer.request_queue_size = 128
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.seen = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def seen(self):
        return self.server.seen
