"""Upstreams that give the secret back (issue 16): a 401 quoting the key and a 200 echoing the request
headers. The upstream must receive the canary secret, and nothing `purser serve` writes may contain it;
conftest.py then searches every other output of the run for it too."""
import base64
import json
import urllib.parse

import pytest

from canary import CANARY
from helpers import RawServer, write_tools
from upstream import Upstream


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture(scope="module")
def tools_dir(tmp_path_factory, upstream):
    directory = tmp_path_factory.mktemp("tools")
    write_tools(directory, upstream.port)
    base = f"http://127.0.0.1:{upstream.port}"
    tools = {
        "quote_key": {
            "name": "quote_key",
            "description": "Upstream refuses and quotes the key.",
            "inputSchema": {"type": "object", "additionalProperties": False},
            "upstream": {"url": f"{base}/quote-key",
                         "secretHeaders": {"Authorization": {"secret": "INTEROP_TOKEN", "prefix": "Bearer "}}},
        },
        "echo_headers": {
            "name": "echo_headers",
            "description": "Upstream echoes the request headers.",
            "inputSchema": {"type": "object", "additionalProperties": False},
            "upstream": {"url": f"{base}/echo-headers",
                         "secretHeaders": {"X-Api-Key": {"secret": "INTEROP_TOKEN", "prefix": ""}}},
        },
    }
    for name, manifest in tools.items():
        (directory / f"{name}.json").write_text(json.dumps(manifest))
    return directory


def call(server, request_id, name):
    server.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": {}}})
    return server.receive(timeout=15)


def forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()[:-4], urllib.parse.quote(value)]


def test_secrets_the_upstream_gives_back_never_reach_the_agent(purser_bin, tools_dir, upstream):
    server = RawServer(purser_bin, tools_dir)
    try:
        server.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        server.receive()
        refused = call(server, 1, "quote_key")
        echoed = call(server, 2, "echo_headers")
        server.close_input_and_wait()
    finally:
        server.kill()
    # The upstream really got the secret, in both headers, so this test can fail.
    sent = [seen["headers"] for seen in upstream.seen if seen["path"] in ("/quote-key", "/echo-headers")]
    assert any(headers.get("Authorization") == f"Bearer {CANARY}" for headers in sent)
    assert any(headers.get("X-Api-Key") == CANARY for headers in sent)
    assert refused["result"]["isError"] is True
    assert "HTTP 401" in refused["result"]["content"][0]["text"]
    assert "[redacted]" in refused["result"]["content"][0]["text"]
    assert echoed["result"].get("isError") is not True
    assert "[redacted]" in echoed["result"]["content"][0]["text"]
    everything = b"".join(server.raw).decode()
    for form in forms(CANARY):
        assert form not in everything
