"""HTTP and HTTPS servers that are not ours, on loopback: Python's http.server and ssl, an h11 server, nginx."""
import http.server
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time

import h11

BIG_BODY = 100 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes for the client's promises. HTTP/1.1, so connections stay open between requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    connections: set = set()

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: bytes, extra=()):
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Handler.connections.add(self.client_address)
        path = self.path
        if path == "/plain":
            self._reply(200, b"hello from http.server", [("Payment-Required", "abc")])
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"alpha-", b"beta-", b"gamma"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/slow":
            time.sleep(3)
            self._reply(200, b"late")
        elif path == "/drip":
            # One byte per second, announced as 60: only the deadline ends it.
            self.send_response(200)
            self.send_header("Content-Length", "60")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif path == "/big-header":
            self.send_response(200)
            try:
                self.send_header("X-Filler", "a" * (1024 * 1024))
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass
        elif path == "/big-body":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG_BODY))
            self.end_headers()
            self._stream(BIG_BODY)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = b"y" * 65536
            try:
                for _ in range(BIG_BODY // len(piece)):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
        elif path == "/redirect":
            self._reply(302, b"", [("Location", "http://127.0.0.2:9/steal")])
        else:
            self._reply(404, b"not found")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._reply(200, b"echo:" + body)

    def _stream(self, total: int):
        piece = b"z" * 65536
        try:
            sent = 0
            while sent < total:
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Background:
    def __init__(self, server):
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def python_http(host: str = "127.0.0.1") -> Background:
    class Server(ThreadingServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return Background(Server((host, 0), Handler))


def python_https(cert_path, key_path) -> Background:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_path), str(key_path))

    class TLSServer(ThreadingServer):
        def get_request(self):
            raw, address = self.socket.accept()
            # Handshake in the handler thread; a refused handshake must not stop the accept loop.
            return context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address

        def handle_error(self, request, client_address):
            pass

    return Background(TLSServer(("127.0.0.1", 0), Handler))


class H11Server:
    """A keep-alive server built on h11: chunked replies, counts the connections it accepts."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.requests = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = connection.recv(65536)
                    conn.receive_data(data)
                    if not data and conn.their_state is not h11.MUST_CLOSE:
                        return
                    continue
                if isinstance(event, h11.Request):
                    self.requests += 1
                    target = event.target.decode()
                elif isinstance(event, h11.EndOfMessage):
                    body = f"h11 says hi to {target} #{self.requests}".encode()
                    out = conn.send(h11.Response(status_code=200, headers=[("Transfer-Encoding", "chunked")]))
                    half = len(body) // 2
                    out += conn.send(h11.Data(data=body[:half]))
                    out += conn.send(h11.Data(data=body[half:]))
                    out += conn.send(h11.EndOfMessage())
                    connection.sendall(out)
                    if conn.our_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (OSError, h11.ProtocolError):
            return
        finally:
            connection.close()

    def stop(self):
        self.running = False
        self.listener.close()


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class Nginx:
    """nginx from Debian serving TLS with a test certificate, keep-alive on, from a private prefix."""

    def __init__(self, directory, cert_path, key_path, wrong_cert_path, wrong_key_path):
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if binary is None:
            raise FileNotFoundError("nginx")
        self.port, self.wrong_port = _free_port(), _free_port()
        (directory / "logs").mkdir(exist_ok=True)
        (directory / "html").mkdir(exist_ok=True)
        (directory / "html" / "index.html").write_text("served by nginx\n")
        config = directory / "nginx.conf"
        config.write_text(
            f"""
daemon off;
master_process off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    log_format conn '$connection $connection_requests $ssl_protocol $request sni=$ssl_server_name';
    access_log {directory}/logs/access.log conn;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_timeout 30;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        server_name localhost;
        ssl_certificate {cert_path};
        ssl_certificate_key {key_path};
        root {directory}/html;
    }}
    server {{
        listen 127.0.0.1:{self.wrong_port} ssl;
        ssl_certificate {wrong_cert_path};
        ssl_certificate_key {wrong_key_path};
        root {directory}/html;
    }}
}}
"""
        )
        self.access_log = directory / "logs" / "access.log"
        self.process = subprocess.Popen(
            [binary, "-c", str(config), "-p", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()[-500:]}")
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)


class Tinyproxy:
    """tinyproxy from Debian (package tinyproxy-bin), a forward proxy that is not ours: CONNECT tunnels and
    absolute-form requests, optionally with Basic credentials, logging each request line."""

    def __init__(self, directory, credentials=None):
        binary = shutil.which("tinyproxy") or (
            "/usr/bin/tinyproxy" if os.path.exists("/usr/bin/tinyproxy") else None
        )
        if binary is None:
            raise FileNotFoundError("tinyproxy")
        self.port = _free_port()
        self.log = directory / "tinyproxy.log"
        auth = f"BasicAuth {credentials[0]} {credentials[1]}\n" if credentials else ""
        config = directory / "tinyproxy.conf"
        # No ConnectPort line: CONNECT is allowed to every port (the test servers use ephemeral ones).
        config.write_text(
            f"""Port {self.port}
Listen 127.0.0.1
Timeout 30
MaxClients 32
LogLevel Info
LogFile "{self.log}"
PidFile "{directory}/tinyproxy.pid"
DisableViaHeader Yes
{auth}"""
        )
        self.process = subprocess.Popen(
            [binary, "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"tinyproxy exited: {self.process.stderr.read().decode()[-500:]}")
                time.sleep(0.05)
        raise RuntimeError("tinyproxy did not start")

    def url(self, credentials=None):
        userinfo = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
        return f"http://{userinfo}127.0.0.1:{self.port}"

    def requests(self):
        """The request lines tinyproxy logged ("CONNECT localhost:443 HTTP/1.1", "GET http://… HTTP/1.1")."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        marker = "): "
        return [line.split(marker, 1)[1] for line in lines if "Request (file descriptor" in line]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)
