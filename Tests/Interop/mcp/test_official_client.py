"""The official MCP Python client (PyPI mcp, pinned) drives `purser serve` in both protocol eras."""
import os
import re

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from helpers import policies_dir, write_tools
from upstream import Upstream

NAME_RULE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture(scope="module")
def tools_dir(tmp_path_factory, upstream):
    directory = tmp_path_factory.mktemp("tools")
    write_tools(directory, upstream.port, fillers=12)
    return directory


def connect(purser_bin, tools_dir, mode, stray_lines):
    async def handler(message):
        if isinstance(message, Exception):
            stray_lines.append(message)

    params = StdioServerParameters(
        command=purser_bin,
        args=["serve", "--tools", str(tools_dir), "--policies", str(policies_dir(tools_dir)), "--page-size", "5"],
        env={"INTEROP_TOKEN": os.environ["INTEROP_TOKEN"]},
    )
    return Client(
        params, mode=mode, read_timeout_seconds=20, cache=None, message_handler=handler,
        client_info=types.Implementation(name="purser-interop", version="0"),
    )


async def list_all(client):
    tools, cursor, pages = [], None, 0
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        pages += 1
        cursor = page.next_cursor
        if not cursor:
            return tools, pages


@pytest.mark.parametrize("mode,expected_version", [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
def test_connect_list_and_call(purser_bin, tools_dir, upstream, mode, expected_version):
    stray = []

    async def scenario():
        started = anyio.current_time()
        async with connect(purser_bin, tools_dir, mode, stray) as client:
            # A legacy-only answer to server/discover would cost the client a 10 s probe timeout.
            assert anyio.current_time() - started < 5
            assert client.protocol_version == expected_version
            assert (client.session.discover_result is not None) == (mode == "auto")

            tools, pages = await list_all(client)
            names = [tool.name for tool in tools]
            assert len(names) == len(set(names)) == 17
            assert pages == 4  # 17 tools, 5 per page
            assert all(NAME_RULE.match(name) for name in names)
            assert all(tool.input_schema["type"] == "object" for tool in tools)

            # The client validates structuredContent against outputSchema itself.
            result = await client.call_tool("search_papers", {"query": "graph theory", "max_results": 2})
            assert not result.is_error
            assert result.structured_content == {
                "query": "graph theory", "results": [{"title": "graph theory #0"}, {"title": "graph theory #1"}]}

            # Bad arguments: an isError result the model can act on; nothing sent upstream.
            before = len(upstream.seen)
            bad = await client.call_tool("search_papers", {"query": "x", "max_results": 500})
            assert bad.is_error
            assert "max_results" in bad.content[0].text
            assert len(upstream.seen) == before

            # A parameter cannot change the path, host or query: it arrives as one segment.
            echoed = await client.call_tool("echo_segment", {"value": "../../evil?x=1#frag@127.0.0.2:80/"})
            assert not echoed.is_error
            assert '"segment": "../../evil?x=1#frag@127.0.0.2:80/"' in echoed.content[0].text

            # An upstream that breaks its outputSchema is an error, never invalid structured content.
            broken = await client.call_tool("bad_output", {})
            assert broken.is_error

            # A redirect to another host is not followed, so the secret header never travels there.
            redirected = await client.call_tool("redirect_away", {})
            assert redirected.is_error
            assert redirected.structured_content["error"] == "cross_origin_redirect"
            assert not any(entry["query"].get("q") == ["stolen"] for entry in upstream.seen)

            with pytest.raises(MCPError) as unknown:
                await client.call_tool("no_such_tool", {})
            assert unknown.value.error.code == -32602

            if mode == "legacy":
                await client.send_ping()
                await client.set_logging_level("debug")

    anyio.run(scenario)
    assert stray == [], f"non-JSON-RPC output on stdout: {stray}"


def test_progress_notifications(purser_bin, tools_dir):
    stray, progress = [], []

    async def scenario():
        async with connect(purser_bin, tools_dir, "legacy", stray) as client:
            async def on_progress(value, total, message):
                progress.append((value, total, message))

            result = await client.call_tool("search_papers", {"query": "p"}, progress_callback=on_progress)
            assert not result.is_error

    anyio.run(scenario)
    assert [value for value, _, _ in progress] == [1, 2]
    assert stray == []
