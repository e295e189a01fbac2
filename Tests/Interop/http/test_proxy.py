"""HTTPClient (through `purser-interop http-fetch`) through a forward proxy that is not ours: tinyproxy from
Debian. HTTPS_PROXY / HTTP_PROXY / NO_PROXY are given in the environment, as the product reads them.

The servers are on loopback, which bypasses the proxy by default; `--proxy-loopback 1` turns that off.
"""
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import certs  # noqa: E402
import servers  # noqa: E402

USER, PASSWORD = "agent", "s3cret-Proxy-Pass"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY")


def fetch(interop_bin, url, *options, env=None, timeout=60):
    environment = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES}
    environment.update(env or {})
    completed = subprocess.run(
        [interop_bin, "http-fetch", "--url", url, *options],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr
    assert PASSWORD not in completed.stdout + completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    return lines[:-1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = certs.CA(directory, "purser-test")
    return {
        "ca": ca.cert_path,
        "valid": ca.leaf("valid", ["localhost", "127.0.0.1"]),
        "wrong-host": ca.leaf("wrong-host", ["elsewhere.example", "10.9.9.9"]),
    }


@pytest.fixture(scope="module")
def nginx(pki, tmp_path_factory):
    cert, key = pki["valid"]
    wrong_cert, wrong_key = pki["wrong-host"]
    try:
        server = servers.Nginx(tmp_path_factory.mktemp("nginx"), cert, key, wrong_cert, wrong_key)
    except FileNotFoundError:
        pytest.skip("nginx is not installed (scripts/test installs it with apt-get)")
    yield server
    server.stop()


def start_tinyproxy(tmp_path_factory, credentials=None):
    try:
        return servers.Tinyproxy(tmp_path_factory.mktemp("tinyproxy"), credentials)
    except FileNotFoundError:
        pytest.skip("tinyproxy is not installed (scripts/test installs tinyproxy-bin with apt-get)")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    server = start_tinyproxy(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory):
    server = start_tinyproxy(tmp_path_factory, (USER, PASSWORD))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain():
    server = servers.python_http()
    yield server
    server.stop()


def nginx_log(nginx):
    time.sleep(0.2)  # nginx writes its access log line after the response
    return [line.split(" ") for line in nginx.access_log.read_text().splitlines()]


def test_https_through_tinyproxy_is_tls_end_to_end_with_the_origin(interop_bin, pki, nginx, proxy):
    before = len(nginx_log(nginx))
    lines = fetch(
        interop_bin,
        f"https://localhost:{nginx.port}/",
        "--ca-file", str(pki["ca"]), "--repeat", "3", "--proxy-loopback", "1",
        env={"HTTPS_PROXY": proxy.url()},
    )
    assert [line["status"] for line in lines] == [200] * 3
    assert lines[0]["body_prefix"] == "served by nginx\n"
    assert lines[-1]["idle_connections"] == 1
    # One CONNECT for three requests: the tunnel (and the TLS session in it) was kept alive.
    assert proxy.requests().count(f"CONNECT localhost:{nginx.port} HTTP/1.1") == 1
    entries = nginx_log(nginx)[before:]
    assert len({entry[0] for entry in entries}) == 1
    assert [entry[1] for entry in entries] == ["1", "2", "3"]
    # nginx saw TLS with SNI naming the origin; the proxy only relayed it.
    assert all(entry[-1] == "sni=localhost" for entry in entries)


def test_origin_certificate_is_checked_through_the_tunnel(interop_bin, pki, nginx, proxy):
    # nginx's second server shows a certificate for elsewhere.example, signed by the trusted CA.
    (line,) = fetch(
        interop_bin,
        f"https://localhost:{nginx.wrong_port}/",
        "--ca-file", str(pki["ca"]), "--proxy-loopback", "1",
        env={"HTTPS_PROXY": proxy.url()},
    )
    assert line["error"] == "cannotConnect"
    assert line["definitely_not_sent"] is True
    assert "hostname mismatch" in line["message"]
    assert f"CONNECT localhost:{nginx.wrong_port} HTTP/1.1" in proxy.requests()


def test_proxy_credentials_from_the_url(interop_bin, pki, nginx, auth_proxy):
    (line,) = fetch(
        interop_bin,
        f"https://localhost:{nginx.port}/",
        "--ca-file", str(pki["ca"]), "--proxy-loopback", "1",
        env={"https_proxy": auth_proxy.url((USER, PASSWORD))},
    )
    assert line["status"] == 200


@pytest.mark.parametrize(
    "credentials, words",
    [(None, "407, the proxy requires credentials"), ((USER, "wrong"), "the proxy did not accept the credentials")],
)
def test_407_from_tinyproxy_is_never_sent(interop_bin, pki, nginx, auth_proxy, credentials, words):
    (line,) = fetch(
        interop_bin,
        f"https://localhost:{nginx.port}/",
        "--ca-file", str(pki["ca"]), "--proxy-loopback", "1", "--method", "POST", "--body", "paid",
        "--header", "PAYMENT-SIGNATURE:c2lnbmVk",
        env={"HTTPS_PROXY": auth_proxy.url(credentials)},
    )
    assert line["error"] == "cannotConnect"
    assert line["definitely_not_sent"] is True
    assert words in line["message"]
    assert "wrong" not in line["message"]


def test_http_origin_through_tinyproxy_in_absolute_form(interop_bin, plain, proxy):
    lines = fetch(
        interop_bin,
        f"http://127.0.0.1:{plain.port}/plain",
        "--proxy-loopback", "1", "--repeat", "2",
        env={"HTTP_PROXY": proxy.url()},
    )
    assert [line["status"] for line in lines] == [200, 200]
    assert lines[0]["body_prefix"] == "hello from http.server"
    assert proxy.requests().count(f"GET http://127.0.0.1:{plain.port}/plain HTTP/1.1") == 2


def test_loopback_bypasses_the_proxy_by_default(interop_bin, pki, nginx):
    # The proxy address is closed: any attempt to use it would fail.
    env = {"HTTPS_PROXY": f"http://127.0.0.1:{servers._free_port()}"}
    (line,) = fetch(interop_bin, f"https://localhost:{nginx.port}/", "--ca-file", str(pki["ca"]), env=env)
    assert line["status"] == 200


@pytest.mark.parametrize("no_proxy", ["localhost", ".localhost", "LOCALHOST:{port}", "*", "other.example, localhost"])
def test_no_proxy_entries_bypass_the_proxy(interop_bin, pki, nginx, no_proxy):
    env = {
        "HTTPS_PROXY": f"http://127.0.0.1:{servers._free_port()}",
        "NO_PROXY": no_proxy.format(port=nginx.port),
    }
    (line,) = fetch(
        interop_bin, f"https://localhost:{nginx.port}/", "--ca-file", str(pki["ca"]), "--proxy-loopback", "1", env=env
    )
    assert line["status"] == 200


@pytest.mark.parametrize("no_proxy", ["", "localhost:1", "otherlocalhost", "127.0.0.1"])
def test_no_proxy_entries_that_do_not_match_leave_the_proxy_in_use(interop_bin, pki, nginx, no_proxy):
    port = servers._free_port()
    env = {"HTTPS_PROXY": f"http://{USER}:{PASSWORD}@127.0.0.1:{port}", "no_proxy": no_proxy}
    (line,) = fetch(
        interop_bin, f"https://localhost:{nginx.port}/", "--ca-file", str(pki["ca"]), "--proxy-loopback", "1", env=env
    )
    assert line["error"] == "cannotConnect"
    assert f"proxy 127.0.0.1 port {port}" in line["message"]


def test_an_https_proxy_url_is_refused_clearly(interop_bin, pki, nginx):
    env = {"HTTPS_PROXY": f"https://{USER}:{PASSWORD}@127.0.0.1:3129"}
    (line,) = fetch(
        interop_bin, f"https://localhost:{nginx.port}/", "--ca-file", str(pki["ca"]), "--proxy-loopback", "1", env=env
    )
    assert line["error"] == "invalidRequest"
    assert "TLS to the proxy" in line["message"]
