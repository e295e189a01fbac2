"""Raw wire checks, independent of any SDK: framing, errors, eras, cancellation, concurrency, exit on EOF."""
import json
import time

import pytest

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
    return directory


@pytest.fixture
def server(purser_bin, tools_dir):
    raw = RawServer(purser_bin, tools_dir)
    yield raw
    raw.kill()


def test_unknown_method_before_initialize_is_answered_at_once(server):
    started = time.monotonic()
    server.send({"jsonrpc": "2.0", "id": "probe-1", "method": "server/unknown"})
    reply = server.receive(timeout=2)
    assert time.monotonic() - started < 2
    assert reply == {"jsonrpc": "2.0", "id": "probe-1", "error": reply["error"]}
    assert reply["error"]["code"] == -32601


def test_malformed_and_invalid_messages(server):
    server.send("{not json")
    reply = server.receive()
    assert reply["id"] is None and reply["error"]["code"] == -32700
    server.send('[{"jsonrpc":"2.0","id":1,"method":"ping"}]')
    assert server.receive()["error"]["code"] == -32600
    server.send({"jsonrpc": "1.0", "id": 2, "method": "ping"})
    reply = server.receive()
    assert reply["id"] == 2 and reply["error"]["code"] == -32600
    server.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": 7}})
    reply = server.receive()
    assert reply["id"] == 3 and reply["error"]["code"] == -32602
    server.send({"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"cursor": "garbage"}})
    assert server.receive()["error"]["code"] == -32602


def test_initialize_counter_offers_unknown_version_and_pings(server):
    server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
    reply = server.receive()
    assert reply["result"]["protocolVersion"] == "2025-11-25"
    assert reply["result"]["serverInfo"]["name"] == "purser"
    server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    server.send({"jsonrpc": "2.0", "id": "ping-1", "method": "ping"})
    assert server.receive() == {"jsonrpc": "2.0", "id": "ping-1", "result": {}}


def test_stateless_era_fields_and_version_errors(server):
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
    server.send({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}})
    discover = server.receive()["result"]
    assert "2026-07-28" in discover["supportedVersions"] and discover["resultType"] == "complete"
    server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}})
    listing = server.receive()["result"]
    assert listing["resultType"] == "complete" and isinstance(listing["ttlMs"], int)
    assert listing["cacheScope"] in ("public", "private")
    assert listing["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "purser"
    server.send({"jsonrpc": "2.0", "id": 3, "method": "tools/list",
                 "params": {"_meta": {**meta, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}})
    error = server.receive()["error"]
    assert error["code"] == -32022 and error["data"]["requested"] == "2099-01-01"
    assert "2026-07-28" in error["data"]["supported"]
    server.send({"jsonrpc": "2.0", "id": 4, "method": "tools/list",
                 "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    assert server.receive()["error"]["code"] == -32602
    server.send({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"_meta": meta}})
    assert server.receive()["error"]["code"] == -32601  # ping was removed in 2026-07-28


def test_requests_run_concurrently_and_cancelled_requests_get_no_reply(server):
    server.send({"jsonrpc": "2.0", "id": "slow-1", "method": "tools/call",
                 "params": {"name": "slow", "arguments": {"seconds": 1.5}}})
    server.send({"jsonrpc": "2.0", "id": "fast-1", "method": "tools/call",
                 "params": {"name": "search_papers", "arguments": {"query": "q"}}})
    first = server.receive(timeout=5)
    assert first["id"] == "fast-1"  # answered while the slow call is still running
    assert server.receive(timeout=5)["id"] == "slow-1"

    server.send({"jsonrpc": "2.0", "id": "slow-2", "method": "tools/call",
                 "params": {"name": "slow", "arguments": {"seconds": 1}}})
    time.sleep(0.2)
    server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow-2", "reason": "test"}})
    server.send({"jsonrpc": "2.0", "id": "after", "method": "ping"})
    assert server.receive()["id"] == "after"
    time.sleep(1.5)
    assert server.close_input_and_wait() == 0
    assert all(message.get("id") != "slow-2" for message in server.remaining())


def test_exit_on_eof_after_in_flight_work(server):
    server.send({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                 "params": {"name": "slow", "arguments": {"seconds": 0.5}}})
    time.sleep(0.1)
    assert server.close_input_and_wait(timeout=5) == 0
    replies = server.remaining()
    assert [reply["id"] for reply in replies] == [9]
    assert not replies[0]["result"].get("isError")
    for line in server.raw:
        assert line.endswith(b"\n") and b"\n" not in line[:-1]
        json.loads(line)
