"""A new user's path, followed the way the README tells it, from an empty directory outside the repository.

`purser init` → the official MCP Python client (`mcp==2.3.0`) launches exactly the `serve` command that init
printed for Claude Desktop → `tools/list` shows the tools → a paid call against `purser seller` returns a
result with a receipt → a payment above the approval threshold is approved (by the client's elicitation, and
by `purser approve` for a client without it) → `purser report --html` renders in headless Chromium with the
ledger's numbers. Then the errors a new user can hit on that path, each of which must name its fix, and
`purser tool add` against the official x402 SDK seller with bazaar discovery metadata.

Expected values come from the README and the sample configuration's documented prices (0.01 and 0.50 USDC,
approval above 0.25, a 5.00 session), never from Purser's own output.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

import browser
from bazaar_peer import BODY_SCHEMA, NETWORK, PAY_TO, QUERY_SCHEMA, USDC, BazaarPeer

AGENT = "claude"
DEMO_PAYEE = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
OTHER_PAYEE = "0x1111111111111111111111111111111111111111"


def run(scenario) -> Any:
    try:
        return anyio.run(scenario)
    except BaseExceptionGroup as group:
        inner: BaseException = group
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        raise inner from None


def wire(result: Any) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The user's environment without any Purser variable, so nothing but the printed configuration counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PURSER_")}
    env.update(extra)
    return env


def purser(binary: str, *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True):
    completed = subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env or clean_env()
    )
    if check:
        assert completed.returncode == 0, f"purser {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


def claude_desktop_config(init_output: str) -> dict[str, Any]:
    """The JSON block init prints under "Claude Desktop", parsed as a user would paste it."""
    lines = init_output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Claude Desktop"))
    block: list[str] = []
    for line in lines[start + 1 :]:
        block.append(line)
        if line == "}":
            break
    return json.loads("\n".join(block))


class Seller:
    """`purser seller --port N` as its own long-running process."""

    def __init__(self, binary: str, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / "seller.log"
        self.process = subprocess.Popen(
            [binary, "seller", "--port", str(self.port)],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=clean_env(),
        )
        deadline = time.monotonic() + 20
        while "listening on" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "purser seller did not start"
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def outside(tmp_path: Path, repo_root: Path) -> Path:
    """An empty directory outside the repository."""
    directory = tmp_path / "new-user"
    directory.mkdir()
    assert not directory.resolve().is_relative_to(repo_root.resolve())
    return directory


@pytest.fixture
def seller(purser_bin: str, tmp_path: Path):
    started = Seller(purser_bin, tmp_path)
    yield started
    started.stop()


class Approver:
    def __init__(self, *answers: types.ElicitResult) -> None:
        self.answers = list(answers)
        self.asked: list[Any] = []

    async def __call__(self, context, params):
        self.asked.append(params)
        return self.answers.pop(0)


def client_for(config: dict[str, Any], cwd: Path, stderr: Path, elicitation: Any = None) -> Client:
    server = config["mcpServers"]["purser"]
    # Exactly the printed command and arguments; stderr is kept to read the start-up summary.
    params = StdioServerParameters(
        command="/bin/sh",
        args=["-c", 'exec "$0" "$@" 2>>"$E2E_STDERR"', server["command"], *server["args"]],
        env={"E2E_STDERR": str(stderr)},
        cwd=str(cwd),
    )
    return Client(
        params,
        mode="legacy",
        read_timeout_seconds=30,
        cache=None,
        elicitation_callback=elicitation,
        client_info=types.Implementation(name="newuser-e2e", version="0"),
    )


def test_readme_path_from_an_empty_directory_to_a_paid_call_and_a_report(purser_bin, outside, seller, tmp_path):
    # 1. purser init (the seller runs on a free port here, so the README's --seller flag points at it).
    init = purser(purser_bin, "init", "--agent", AGENT, "--seller", seller.url, cwd=outside)
    for created in ("tools/weather.json", "policies/tools.cedar", "policies/limits.json", ".purser/"):
        assert created in init.stdout, init.stdout
    config = claude_desktop_config(init.stdout)
    server = config["mcpServers"]["purser"]
    assert os.path.isabs(server["command"]) and os.path.samefile(server["command"], purser_bin)
    for path in server["args"][4::2]:
        assert os.path.isabs(path) and Path(path).exists(), server["args"]
    home_line = re.search(r"export PURSER_HOME=(\S+)", init.stdout)
    assert home_line, init.stdout
    home = home_line.group(1)
    user_env = clean_env(PURSER_HOME=home)
    # The other snippets name the same command.
    assert f"claude mcp add purser -- {server['command']} serve --agent {AGENT}" in init.stdout
    assert '"servers"' in init.stdout and '"type": "stdio"' in init.stdout  # VS Code

    # The client starts the server from an unrelated directory: only the printed paths may matter.
    elsewhere = tmp_path / "client-cwd"
    elsewhere.mkdir()
    stderr = tmp_path / "serve.stderr"
    approver = Approver(types.ElicitResult(action="accept", content={"approve": True}))

    async def as_claude_code():
        async with client_for(config, elsewhere, stderr, elicitation=approver) as client:
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            weather = await client.call_tool("weather", {"city": "Lisbon"})
            report = await client.call_tool("premium_report", {"company": "ACME"})
            return names, weather, report

    names, weather, report = run(as_claude_code)
    assert names == ["premium_report", "search_papers", "weather"]
    paid = wire(weather)
    assert not paid.get("isError"), paid
    assert paid["structuredContent"]["city"] == "Lisbon"
    receipt = paid["_meta"]["com.purser/receipt"]
    assert receipt["amount"] == "0.01" and receipt["asset"] == "USDC"
    assert receipt["payee"] == DEMO_PAYEE and receipt["sessionRemaining"] == "4.99"
    assert paid["_meta"]["x402/payment-response"]["success"] is True
    # 0.50 is above the 0.25 threshold: the client was asked, accepted, and the payment went through.
    assert len(approver.asked) == 1 and "0.5" in approver.asked[0].message
    approved = wire(report)
    assert not approved.get("isError"), approved
    assert approved["_meta"]["com.purser/receipt"]["amount"] == "0.50"
    assert "agent claude may call 3 of 3 tools" in stderr.read_text()

    # 2. A client without elicitation (the README's fallback): the user runs `purser approve`.
    async def first():
        async with client_for(config, elsewhere, stderr) as client:
            return await client.call_tool("premium_report", {"company": "Globex"})

    held = wire(run(first))
    assert held["structuredContent"]["error"] == "approval_required", held
    approval = held["structuredContent"]["approvalId"]
    purser(purser_bin, "approve", approval, cwd=elsewhere, env=user_env)

    async def retry():
        async with client_for(config, elsewhere, stderr) as client:
            return await client.call_tool(
                "premium_report", {"company": "Globex"}, meta={"com.purser/approval": approval}
            )

    retried = wire(run(retry))
    assert not retried.get("isError"), retried
    assert retried["_meta"]["com.purser/receipt"]["sessionRemaining"] == "3.99"
    # The seller saw and logged exactly these three payments.
    time.sleep(0.5)
    settled = [line for line in seller.output().splitlines() if line.startswith("settled ")]
    assert [line.split()[1] for line in settled] == ["0.01", "0.50", "0.50"], seller.output()

    # An agent the policies do not name is refused (counted in the report's refusals).
    bob = purser(purser_bin, "call", "weather", "--agent", "bob", "--args", '{"city": "Paris"}', cwd=elsewhere,
                 env=user_env, check=False)
    assert json.loads(bob.stdout)["structuredContent"]["error"] == "policy_denied", bob.stdout

    # 3. purser report --html, from anywhere, through PURSER_HOME; rendered by headless Chromium.
    page = tmp_path / "report.html"
    purser(purser_bin, "report", "--html", str(page), cwd=elsewhere, env=user_env)
    text = page.read_text()
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "src=" not in text and "<link" not in text
    ledger = json.loads(purser(purser_bin, "report", "--json", cwd=elsewhere, env=user_env).stdout)
    shot = browser.screenshot(page, tmp_path / "report.png")
    width, height, sample = browser.png_pixels(shot)
    assert (width, height) == (1000, 1600)
    background = max(set(sample), key=sample.count)
    drawn = [pixel for pixel in sample if pixel != background]
    assert len(drawn) > len(sample) // 50, "the screenshot is (nearly) blank"
    assert len(set(drawn)) > 20, "the screenshot has almost no colours: the charts did not render"
    charts = browser.charts(browser.dom(page))
    for chart, rows in (("by-agent", ledger["byAgent"]), ("by-tool", ledger["byTool"]), ("by-payee", ledger["byPayee"])):
        shown = {bar["key"]: (bar["amount"], bar["asset"], bar["payments"]) for bar in charts[chart]}
        assert shown == {r["key"]: (r["amount"], r["asset"], str(r["payments"])) for r in rows}, (chart, shown)
        for bar in charts[chart]:
            assert bar["amount"] in bar["aria-label"] and bar["key"] in bar["aria-label"]
    # The documented prices: 0.01 weather, two 0.50 reports, all to the demo payee.
    by_tool = {bar["key"]: bar["amount"] for bar in charts["by-tool"]}
    assert by_tool == {"weather": "0.01", "premium_report": "1.00"}
    refusals = {bar["key"]: bar["count"] for bar in charts["refusals"]}
    assert refusals == {r["reason"]: str(r["count"]) for r in ledger["refusals"]}
    assert refusals == {"policy_denied": "1"}
    assert {bar["key"]: int(bar["micros"]) for bar in charts["latency"]} == {
        "p50": ledger["latency"]["p50Micros"],
        "p90": ledger["latency"]["p90Micros"],
        "p99": ledger["latency"]["p99Micros"],
        "max": ledger["latency"]["maxMicros"],
    }
    points = charts["over-time"]
    assert [p["cumulative"] for p in points if "cumulative" in p] == ["0.01", "0.51", "1.01"]
    assert charts.get("in-doubt") == []  # nothing in doubt: the empty state, not a chart


def test_errors_on_the_new_user_path_name_the_fix(purser_bin, outside, tmp_path):
    # Outside any setup: the path tried, and the flag and variable that change it.
    grant = purser(purser_bin, "session", "grant", "--agent", AGENT, "--budget", "1", cwd=outside, check=False)
    assert grant.returncode != 0
    for part in (str(outside / "policies"), "limits.json", "--policies", "PURSER_POLICIES", "purser init"):
        assert part in grant.stderr, grant.stderr
    report = purser(purser_bin, "report", cwd=outside, check=False)
    assert report.returncode != 0
    for part in ("ledger.sqlite", "--home", "PURSER_HOME", "session grant"):
        assert part in report.stderr, report.stderr
    wallet = purser(purser_bin, "wallet", "address", cwd=outside, check=False)
    assert wallet.returncode == 1 and "purser wallet new" in wallet.stderr and "PURSER_HOME" in wallet.stderr
    sessions = purser(purser_bin, "session", "list", cwd=outside)
    assert str(outside / ".purser" / "ledger.sqlite") in sessions.stdout and "--home" in sessions.stdout
    check = purser(purser_bin, "check", "--agent", AGENT, cwd=outside, check=False)
    assert check.returncode != 0 and "--tools" in check.stdout and "PURSER_TOOLS" in check.stdout, check.stdout

    # A setup for claude, used as bob: zero tools, and the reason, both in check and at serve's start.
    setup = outside / "setup"
    init = purser(purser_bin, "init", str(setup), "--agent", AGENT, cwd=outside)
    home = str(setup / ".purser")
    bob = purser(purser_bin, "check", "--agent", "bob", cwd=tmp_path, env=clean_env(PURSER_HOME=home))
    assert 'agent bob may call 0 of 3 tools: no policy permits Agent::"bob"' in bob.stdout, bob.stdout
    assert 'permit (principal == Agent::"bob"' in bob.stdout  # the fix, spelled out
    config = claude_desktop_config(init.stdout)
    config["mcpServers"]["purser"]["args"][2] = "bob"
    stderr = tmp_path / "bob.stderr"

    async def listing():
        async with client_for(config, tmp_path, stderr) as client:
            return (await client.list_tools()).tools

    assert run(listing) == []
    assert 'agent bob may call 0 of 3 tools: no policy permits Agent::"bob"' in stderr.read_text()

    # The home's config.json finds tools and policies from any directory.
    claude = purser(purser_bin, "check", "--agent", AGENT, cwd=tmp_path, env=clean_env(PURSER_HOME=home))
    assert "agent claude may call 3 of 3 tools" in claude.stdout and "warning" not in claude.stdout, claude.stdout

    # A payee the limits do not allow: the paid tools can never be paid, and check says which line.
    limits_path = setup / "policies" / "limits.json"
    limits = json.loads(limits_path.read_text())
    limits["allow"]["payees"] = [OTHER_PAYEE]
    limits_path.write_text(json.dumps(limits))
    warned = purser(purser_bin, "check", "--agent", AGENT, cwd=tmp_path, env=clean_env(PURSER_HOME=home))
    assert f'weather can never be paid: its payee {DEMO_PAYEE} is not in limits.json "allow"."payees"' in warned.stdout
    assert "search_papers can never" not in warned.stdout  # free

    # init never overwrites: a second run changes nothing and says why.
    before = {p: p.read_bytes() for p in setup.rglob("*") if p.is_file()}
    again = purser(purser_bin, "init", str(setup), "--agent", "other", cwd=outside, check=False)
    assert again.returncode == 1 and "already exist" in again.stderr and "nothing was changed" in again.stderr
    assert {p: p.read_bytes() for p in setup.rglob("*") if p.is_file()} == before

    # A taken port: the seller says how to pick another and point the tools at it.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = purser(purser_bin, "seller", "--port", str(port), cwd=tmp_path, check=False)
    assert busy.returncode == 1 and "--port" in busy.stderr and "--seller" in busy.stderr, busy.stderr


@pytest.fixture(scope="module")
def bazaar():
    peer = BazaarPeer()
    other = BazaarPeer(pay_to=OTHER_PAYEE)
    yield peer, other
    peer.close()
    other.close()


def test_tool_add_writes_a_manifest_from_an_official_x402_sellers_offer(purser_bin, outside, bazaar):
    peer, other = bazaar
    purser(purser_bin, "init", "--agent", AGENT, cwd=outside)
    env = clean_env(PURSER_HOME=str(outside / ".purser"))

    # GET with a bazaar query schema.
    added = purser(purser_bin, "tool", "add", peer.url + "/forecast", "--name", "forecast", cwd=outside, env=env)
    manifest = json.loads((outside / "tools" / "forecast.json").read_text())
    assert manifest["price"] == {"amount": "0.02", "asset": "USDC", "network": NETWORK, "payTo": PAY_TO}
    assert manifest["inputSchema"]["properties"] == QUERY_SCHEMA["properties"]
    assert manifest["inputSchema"]["required"] == QUERY_SCHEMA["required"]
    assert manifest["upstream"]["method"] == "GET" and manifest["upstream"]["url"] == peer.url + "/forecast"
    assert manifest["upstream"]["query"] == {"city": "city", "units": "units"}
    assert "MISSING" not in added.stdout and added.stdout.count("ok ") >= 4, added.stdout

    # POST with a bazaar body schema (GET answers 405, so the command tries POST).
    purser(purser_bin, "tool", "add", peer.url + "/report", cwd=outside, env=env)
    report = json.loads((outside / "tools" / "report.json").read_text())
    assert report["price"]["amount"] == "0.30" and report["upstream"]["method"] == "POST"
    assert sorted(report["upstream"]["body"]) == sorted(BODY_SCHEMA["properties"])
    assert report["inputSchema"]["properties"] == BODY_SCHEMA["properties"]

    # No discovery metadata, and a payee nobody allowed: the manifest is written, the missing lines are named.
    unknown = purser(purser_bin, "tool", "add", other.url + "/plain", "--name", "plain", cwd=outside, env=env)
    assert f'MISSING {outside}/policies/limits.json "allow"."payees" contains "{OTHER_PAYEE}"' in unknown.stdout
    assert "entities.json" in unknown.stdout and "input schema: none declared" in unknown.stdout
    plain = json.loads((outside / "tools" / "plain.json").read_text())
    assert plain["price"]["payTo"] == OTHER_PAYEE and plain["inputSchema"]["properties"] == {}
    check = purser(purser_bin, "check", "--agent", AGENT, cwd=outside, env=env)
    assert "agent claude may call 6 of 6 tools" in check.stdout
    assert f"plain can never be paid: its payee {OTHER_PAYEE}" in check.stdout, check.stdout
    assert "forecast can never" not in check.stdout

    # Refusals: not a 402, an existing name.
    free = purser(purser_bin, "tool", "add", peer.url + "/free", cwd=outside, env=env, check=False)
    assert free.returncode == 1 and "not 402" in free.stderr and not (outside / "tools" / "free.json").exists()
    twice = purser(purser_bin, "tool", "add", peer.url + "/forecast", "--name", "forecast", cwd=outside, env=env, check=False)
    assert twice.returncode == 1 and "already exists" in twice.stderr
    assert json.loads((outside / "tools" / "forecast.json").read_text()) == manifest
