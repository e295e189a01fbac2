"""HTTPClient (through `purser-interop http-fetch`) against servers that are not ours.

Python's http.server and ssl module, an h11 server and nginx from Debian; a test CA made at test time.
"""
import json
import subprocess
import sys
import time

import pytest

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import certs  # noqa: E402
import servers  # noqa: E402


def fetch(interop_bin, url, *options, timeout=60):
    completed = subprocess.run(
        [interop_bin, "http-fetch", "--url", url, *options],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    return lines[:-1], lines[-1]["vmhwm_kib"]


@pytest.fixture(scope="module")
def plain():
    server = servers.python_http()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = certs.CA(directory, "purser-test")
    other = certs.CA(directory, "unknown")
    return {
        "ca": ca.cert_path,
        "valid": ca.leaf("valid", ["localhost", "127.0.0.1"]),
        "expired": ca.leaf("expired", ["localhost", "127.0.0.1"], expired=True),
        "wrong-host": ca.leaf("wrong-host", ["elsewhere.example", "10.9.9.9"]),
        "self-signed": ca.leaf("self-signed", ["localhost", "127.0.0.1"], self_signed=True),
        "unknown-ca": other.leaf("unknown-ca", ["localhost", "127.0.0.1"]),
        "directory": directory,
    }


# --- plain HTTP: http.server -------------------------------------------------------------------


def test_plain_response_and_case_insensitive_headers(interop_bin, plain):
    (line,), _ = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/plain")
    assert line["status"] == 200
    assert line["body_prefix"] == "hello from http.server"
    assert line["headers"]["payment-required"] == "abc"


def test_post_body_reaches_the_server(interop_bin, plain):
    (line,), _ = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/echo", "--method", "POST", "--body", "paid")
    assert line["body_prefix"] == "echo:paid"


def test_ipv6_loopback(interop_bin):
    try:
        server = servers.python_http("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        (line,), _ = fetch(interop_bin, f"http://[::1]:{server.port}/plain")
        assert line["status"] == 200
    finally:
        server.stop()


def test_chunked_body_from_http_server(interop_bin, plain):
    (line,), _ = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/chunked")
    assert line["status"] == 200
    assert line["body_prefix"] == "alpha-beta-gamma"


def test_keep_alive_reuses_one_connection(interop_bin, plain):
    servers.Handler.connections.clear()
    lines, _ = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/plain", "--repeat", "5")
    assert [line["status"] for line in lines] == [200] * 5
    assert len(servers.Handler.connections) == 1
    assert lines[-1]["idle_connections"] == 1


def test_redirect_is_returned_not_followed(interop_bin, plain):
    (line,), _ = fetch(
        interop_bin, f"http://127.0.0.1:{plain.port}/redirect", "--header", "PAYMENT-SIGNATURE:c2lnbmVk"
    )
    assert line["status"] == 302
    assert line["headers"]["location"] == "http://127.0.0.2:9/steal"


def test_a_one_byte_per_second_drip_is_cut_at_the_deadline(interop_bin, plain):
    (line,), _ = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/drip", "--timeout-ms", "2500")
    assert line["error"] == "timeout"
    assert line["definitely_not_sent"] is False
    assert 2400 <= line["elapsed_ms"] < 4000


def test_first_byte_deadline(interop_bin, plain):
    (line,), _ = fetch(
        interop_bin, f"http://127.0.0.1:{plain.port}/slow", "--first-byte-ms", "500", "--timeout-ms", "10000"
    )
    assert line["error"] == "timeout"
    assert "began" in line["message"]
    assert line["elapsed_ms"] < 2500


def test_cancellation_ends_a_waiting_request(interop_bin, plain):
    (line,), _ = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/slow", "--cancel-after-ms", "300")
    assert line["error"] == "cancelled"
    assert line["elapsed_ms"] < 2000


def test_a_one_megabyte_header_is_refused_without_buffering_it(interop_bin, plain):
    (line,), peak = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/big-header")
    assert line["error"] == "tooLarge"
    assert "head" in line["message"]
    assert peak < 40 * 1024


def test_a_hundred_megabyte_body_is_refused_without_buffering_it(interop_bin, plain):
    (line,), peak = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/big-body")
    assert line["error"] == "tooLarge"
    assert "announces 104857600" in line["message"]
    assert peak < 40 * 1024


def test_a_hundred_megabyte_chunked_body_is_cut_at_the_cap(interop_bin, plain):
    (line,), peak = fetch(interop_bin, f"http://127.0.0.1:{plain.port}/big-chunked")
    assert line["error"] == "tooLarge"
    # The default cap is 10 MiB; the process never holds the 100 MB.
    assert peak < 60 * 1024


# --- h11 --------------------------------------------------------------------------------------




@pytest.fixture(scope="module")
def h11_server():
    server = servers.H11Server()
    yield server
    server.stop()


def test_h11_chunked_responses_over_one_kept_alive_connection(interop_bin, h11_server):
    lines, _ = fetch(interop_bin, f"http://127.0.0.1:{h11_server.port}/a?b=c", "--repeat", "4")
    assert [line["status"] for line in lines] == [200] * 4
    assert lines[0]["body_prefix"] == "h11 says hi to /a?b=c #1"
    assert lines[3]["body_prefix"] == "h11 says hi to /a?b=c #4"
    assert lines[0]["headers"]["transfer-encoding"] == "chunked"
    assert h11_server.accepted == 1


# --- TLS: Python's ssl module ------------------------------------------------------------------


def tls_fetch(interop_bin, pki, which, host="localhost", ca=None):
    cert, key = pki[which]
    server = servers.python_https(cert, key)
    try:
        (line,), _ = fetch(
            interop_bin, f"https://{host}:{server.port}/plain", "--ca-file", str(ca or pki["ca"]), "--timeout-ms", "5000"
        )
        return line
    finally:
        server.stop()


def test_tls_valid_certificate_is_accepted(interop_bin, pki):
    line = tls_fetch(interop_bin, pki, "valid")
    assert line["status"] == 200
    assert line["body_prefix"] == "hello from http.server"


def test_tls_valid_certificate_by_ip_address(interop_bin, pki):
    line = tls_fetch(interop_bin, pki, "valid", host="127.0.0.1")
    assert line["status"] == 200


@pytest.mark.parametrize(
    "which, reason",
    [
        ("expired", "certificate has expired"),
        ("wrong-host", "hostname mismatch"),
        ("self-signed", "self-signed certificate"),
        ("unknown-ca", "unable to get local issuer certificate"),
    ],
)
def test_tls_bad_certificates_are_refused_with_a_clear_error(interop_bin, pki, which, reason):
    line = tls_fetch(interop_bin, pki, which)
    assert line["error"] == "cannotConnect"
    assert line["definitely_not_sent"] is True
    assert "TLS certificate of localhost refused" in line["message"]
    assert reason in line["message"]


def test_tls_wrong_ip_address_is_refused(interop_bin, pki):
    line = tls_fetch(interop_bin, pki, "wrong-host", host="127.0.0.1")
    assert line["error"] == "cannotConnect"
    assert "IP address mismatch" in line["message"]


def test_tls_test_ca_is_not_trusted_by_the_system_store(interop_bin, pki):
    cert, key = pki["valid"]
    server = servers.python_https(cert, key)
    try:
        (line,), _ = fetch(interop_bin, f"https://localhost:{server.port}/plain", "--timeout-ms", "5000")
    finally:
        server.stop()
    assert line["error"] == "cannotConnect"
    assert "unable to get local issuer certificate" in line["message"]


# --- TLS: nginx from Debian --------------------------------------------------------------------


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


def test_nginx_tls_keep_alive(interop_bin, pki, nginx):
    lines, _ = fetch(
        interop_bin, f"https://localhost:{nginx.port}/", "--ca-file", str(pki["ca"]), "--repeat", "3"
    )
    assert [line["status"] for line in lines] == [200] * 3
    assert lines[0]["body_prefix"] == "served by nginx\n"
    assert lines[0]["headers"]["server"].startswith("nginx")
    assert lines[-1]["idle_connections"] == 1
    time.sleep(0.2)  # nginx writes its access log line after the response
    entries = [line.split(" ", 3) for line in nginx.access_log.read_text().splitlines()]
    # One connection number for all three requests, counting 1, 2, 3 on it: the TLS connection was reused.
    assert len({entry[0] for entry in entries}) == 1
    assert [entry[1] for entry in entries] == ["1", "2", "3"]
    assert entries[0][2] in ("TLSv1.2", "TLSv1.3")


def test_nginx_certificate_from_an_untrusted_ca_is_refused(interop_bin, pki, nginx, tmp_path):
    other = certs.CA(tmp_path, "stranger")
    (line,), _ = fetch(interop_bin, f"https://localhost:{nginx.port}/", "--ca-file", str(other.cert_path))
    assert line["error"] == "cannotConnect"
    assert "unable to get local issuer certificate" in line["message"]


def test_nginx_wrong_host_name_is_refused(interop_bin, pki, nginx):
    # The second server presents a certificate for elsewhere.example, signed by the trusted test CA.
    (line,), _ = fetch(interop_bin, f"https://localhost:{nginx.wrong_port}/", "--ca-file", str(pki["ca"]))
    assert line["error"] == "cannotConnect"
    assert "hostname mismatch" in line["message"]
