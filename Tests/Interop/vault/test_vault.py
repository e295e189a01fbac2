"""The vault (docs/vault.md, docs/threat_model.md): the wallet, the ledger and the owner's authority out of
reach of an agent that has a shell, with real OS users.

Needs root (CI runs scripts/test as root) to create the users; skipped with a message otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "governed"))
from governed_peer import PAY_TO, Peer  # noqa: E402

from vault_setup import (  # noqa: E402
    PASSPHRASE, Users, Vault, Wire, front, grant, owner_key, owner_send, run, run_client, signed_request,
)

if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
    pytest.skip(
        "the vault suite creates OS users: run it as root (CI runs scripts/test as root) with useradd and runuser",
        allow_module_level=True,
    )

MODES = [pytest.param("legacy", id="legacy"), pytest.param("auto", id="2026")]
ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}


@pytest.fixture(scope="module")
def peer():
    server = Peer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def users():
    created = Users()
    yield created
    created.remove()


@pytest.fixture
def vault(users, purser_bin, peer):
    installation = Vault(users, purser_bin, peer.url)
    yield installation
    installation.stop()
    # The wallet key never reached the vault's own log (its stderr) either.
    key = (installation.home / "wallet.key").read_text().strip().removeprefix("0x").lower()
    assert len(key) == 64 and key not in installation.log.read_text(errors="replace").lower()
    installation.close()


# -- 1. out of the agent's reach ------------------------------------------------------------------------


def test_the_agent_user_cannot_read_the_key_or_the_ledger_nor_use_the_owner_commands(vault):
    grant(vault, "1.00")
    before = vault.sessions()
    for path in ("wallet.key", "ledger.sqlite", "owner.json", "approval.key", "agents.json"):
        completed = vault.as_agent("cat", str(vault.home / path), raw=True)
        assert completed.returncode != 0 and "Permission denied" in completed.stderr, (path, completed)
    listing = vault.as_agent("ls", str(vault.home), raw=True)
    assert listing.returncode != 0 and "Permission denied" in listing.stderr
    # The single-user commands need the home: refused.
    for argv in (
        ("session", "grant", "--agent", "alice", "--budget", "1000", "--home", str(vault.home), "--policies", str(vault.policies)),
        ("approve", "apr_x", "--home", str(vault.home)),
        ("ledger", "verify", "--home", str(vault.home)),
    ):
        completed = vault.as_agent(*argv)
        assert completed.returncode != 0, (argv, completed.stdout)
    # The owner commands need the passphrase from a terminal; the agent's process has none.
    completed = vault.as_agent("owner", "grant", "--agent", "alice", "--budget", "1000", "--vault", str(vault.socket))
    assert completed.returncode == 1 and "no terminal" in completed.stderr, completed.stderr
    # ... and guessing it on stdin (the documented test-only override) derives another key: refused.
    completed = vault.as_agent(
        "owner", "grant", "--agent", "alice", "--budget", "1000", "--vault", str(vault.socket),
        "--insecure-passphrase-stdin", stdin="hunter2 hunter2 hunter2\n",
    )
    assert completed.returncode == 1 and "wrong passphrase" in completed.stderr, completed.stderr
    assert vault.sessions() == before


def test_a_user_not_mapped_to_the_agent_is_refused(vault):
    # Root is not in agents.json, nor may the agent user act as another agent.
    completed = run(str(vault.bin), "serve", "--vault", str(vault.socket), check=False, stdin="")
    assert completed.returncode != 0 and "may not act as any agent" in completed.stderr, completed.stderr
    completed = vault.as_agent("serve", "--vault", str(vault.socket), "--agent", "bob", stdin="")
    assert completed.returncode != 0 and 'may not act as agent "bob"' in completed.stderr, completed.stderr
    # A user outside the socket group cannot even connect.
    completed = run(str(vault.bin), "serve", "--vault", str(vault.socket), user=vault.users.stranger, check=False, stdin="")
    assert completed.returncode != 0 and "permission denied" in completed.stderr.lower(), completed.stderr


# -- 2. the owner's authority needs the owner's secret ------------------------------------------------------


def test_owner_requests_without_the_passphrase_altered_or_replayed_are_refused(vault):
    record = vault.owner_record()
    assert record["kdf"]["iterations"] >= 600_000 and len(bytes.fromhex(record["kdf"]["salt"])) == 16
    good = owner_key(record, PASSPHRASE)
    wrong = owner_key(record, "not the owner's passphrase at all")

    for action, params in (
        ("session.grant", {"agent": "alice", "budget": "1000"}),
        ("approve", {"id": "apr_0000"}),
        ("ledger.resolve", {"id": "rsv_0000", "outcome": "unpaid"}),
    ):
        answer = owner_send(vault, signed_request(wrong, action, params))
        assert not answer["accepted"] and answer["code"] == "bad_signature", answer
    assert vault.sessions() == []

    # Altered after signing: the owner granted 1.00, the request now says 1000.
    request = signed_request(good, "session.grant", {"agent": "alice", "budget": "1.00"})
    altered = json.loads(json.dumps(request))
    altered["params"]["budget"] = "1000"
    answer = owner_send(vault, altered)
    assert not answer["accepted"] and answer["code"] == "bad_signature", answer
    assert vault.sessions() == []

    # Signed by the owner: accepted once; the same request again is a replay, also after a restart.
    answer = owner_send(vault, request)
    assert answer["accepted"], answer
    assert [Decimal(s["cap"]) for s in vault.sessions()] == [Decimal("1.00")]
    answer = owner_send(vault, request)
    assert not answer["accepted"] and answer["code"] == "replayed_request", answer
    vault.stop()
    vault.start()
    answer = owner_send(vault, request)
    assert not answer["accepted"] and answer["code"] == "replayed_request", answer
    assert len(vault.sessions()) == 1

    # A request signed long ago (or far ahead) is stale.
    answer = owner_send(vault, signed_request(good, "session.grant", {"agent": "alice", "budget": "1"}, timestamp=int(time.time() * 1000) - 3_600_000))
    assert not answer["accepted"] and answer["code"] == "stale_request", answer

    # ledger.resolve is verified like the others and reaches the ledger: a bad outcome and an unknown
    # reservation are refused by the action itself (not as an unknown action).
    answer = owner_send(vault, signed_request(good, "ledger.resolve", {"id": "rsv_0000", "outcome": "unpaid", "note": "n"}))
    assert not answer["accepted"] and answer["code"] == "refused" and "outcome" in answer["message"], answer
    answer = owner_send(vault, signed_request(good, "ledger.resolve", {"id": "rsv_0000", "outcome": "void", "note": "checked"}))
    assert not answer["accepted"] and answer["code"] == "refused" and "no reservation rsv_0000" in answer["message"], answer

    # Revoke, signed: accepted.
    session_id = vault.sessions()[0]["id"]
    answer = owner_send(vault, signed_request(good, "session.revoke", {"id": session_id}))
    assert answer["accepted"], answer
    assert vault.sessions()[0]["status"] == "revoked"
    vault.verify()


def test_the_owner_command_line_signs_with_the_passphrase(vault):
    completed = run(
        str(vault.bin), "owner", "grant", "--agent", "alice", "--budget", "2.50", "--vault", str(vault.socket),
        "--insecure-passphrase-stdin", stdin=PASSPHRASE + "\n",
    )
    assert "granted session" in completed.stdout
    assert [Decimal(s["cap"]) for s in vault.sessions()] == [Decimal("2.50")]


def test_broken_frames_close_the_connection_and_the_vault_keeps_serving(vault):
    for data in (struct.pack(">I", 64 * 1024 * 1024), struct.pack(">I", 5) + b"nope!", struct.pack(">I", 2) + b"[]"):
        wire = Wire(vault.socket)
        wire.send_raw(data)
        answer = wire.receive()
        assert answer is None or answer["type"] in ("violation", "refused"), answer
        assert wire.receive() is None
        wire.close()
    wire = Wire(vault.socket)
    wire.send({"type": "hello", "v": 99, "role": "owner"})
    answer = wire.receive()
    assert answer["type"] == "refused" and "version" in answer["message"], answer
    wire.close()
    grant(vault, "1.00")  # still serving


# -- 3. the governed call through serve → vault → the x402 seller ------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_paid_call_through_the_vault_in_both_eras(vault, peer, mode):
    grant(vault, "1.00")

    async def scenario():
        async with front(vault, mode) as client:
            assert client.protocol_version == ERAS[mode]
            listed = {tool.name for tool in (await client.list_tools()).tools}
            assert listed == {"weather_cheap", "weather_expensive"}
            return await client.call_tool("weather_cheap", {"city": "Berlin"})

    result = run_client(scenario)
    data = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert not result.is_error, data
    transfers = peer.transfers_from(vault.address)
    assert len(transfers) == 1 and transfers[0]["value"] == 10000 and transfers[0]["to"].lower() == PAY_TO.lower()
    settlement = data["_meta"]["x402/payment-response"]
    receipt = data["_meta"]["com.purser/receipt"]
    assert settlement["success"] is True and settlement["payer"].lower() == vault.address.lower()
    assert receipt["receiptId"].startswith("rcp_") and receipt["amountAtomic"] == "10000"
    assert receipt["transaction"] == settlement["transaction"]
    assert receipt["sessionId"] == vault.sessions()[0]["id"]
    assert Decimal(vault.sessions()[0]["spent"]) == Decimal("0.01")
    assert [(r["key"], r["amountAtomic"]) for r in vault.report()["byTool"]] == [("weather_cheap", 10000)]
    vault.verify()
    # The front held no key: the wallet key appears nowhere the agent could read.
    key_text = run("cat", str(vault.home / "wallet.key")).stdout.strip().removeprefix("0x").lower()
    assert key_text and key_text not in json.dumps(data).lower()


@pytest.mark.parametrize("mode", MODES)
def test_in_band_approval_round_trips_through_the_vault(vault, peer, mode):
    """Legacy: elicitation/create relayed from the vault to the client. 2026-07-28: input_required + requestState."""
    grant(vault, "1.00")
    asked: list[Any] = []

    async def approver(context: Any, params: Any) -> Any:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"approve": True})

    async def scenario():
        async with front(vault, mode, elicitation=approver) as client:
            return await client.call_tool("weather_expensive", {"city": "Paris"})

    result = run_client(scenario)
    data = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert not result.is_error, data
    assert len(asked) == 1 and "weather_expensive" in asked[0].message
    assert data["_meta"]["com.purser/receipt"]["amountAtomic"] == "200000"
    assert [t["value"] for t in peer.transfers_from(vault.address)] == [200000]
    vault.verify()


def test_fallback_approval_needs_the_owners_signature(vault, peer):
    """A client without elicitation: the payment waits for `purser owner approve`, which the agent cannot sign."""
    grant(vault, "1.00")

    async def first_call():
        async with front(vault, "legacy") as client:
            return await client.call_tool("weather_expensive", {"city": "Rome"})

    required = run_client(first_call).model_dump(by_alias=True, mode="json", exclude_none=True)
    assert required["structuredContent"]["error"] == "approval_required", required
    approval_id = required["structuredContent"]["approvalId"]
    # The refusal names the command that works here: the owner's signed one, not the single-user `purser approve`.
    text = required["content"][0]["text"]
    assert f"purser owner approve {approval_id}" in text and "`purser approve" not in text, text

    # The agent's user: no terminal, and a guessed passphrase signs with another key.
    completed = vault.as_agent("owner", "approve", approval_id, "--vault", str(vault.socket))
    assert completed.returncode == 1 and "no terminal" in completed.stderr, completed.stderr
    wrong = owner_key(vault.owner_record(), "a guess at the owner's passphrase")
    answer = owner_send(vault, signed_request(wrong, "approve", {"id": approval_id}))
    assert not answer["accepted"] and answer["code"] == "bad_signature", answer

    async def retry():
        async with front(vault, "legacy") as client:
            return await client.call_tool("weather_expensive", {"city": "Rome"}, meta={"com.purser/approval": approval_id})

    still = run_client(retry).model_dump(by_alias=True, mode="json", exclude_none=True)
    assert still.get("isError"), still
    assert peer.transfers_from(vault.address) == []

    # The owner approves (the command line, passphrase on the test-only stdin override): the retry pays once.
    approved = run(
        str(vault.bin), "owner", "approve", approval_id, "--vault", str(vault.socket), "--insecure-passphrase-stdin",
        stdin=PASSPHRASE + "\n",
    )
    assert approval_id in approved.stdout
    paid = run_client(retry)
    assert not paid.is_error, paid
    assert [t["value"] for t in peer.transfers_from(vault.address)] == [200000]
    vault.verify()


def test_owner_only_approvals_ignore_an_accept_from_the_agents_side(vault, peer):
    """With "approvals": "owner", an accept answered by the agent's own client (or script) approves nothing."""
    grant(vault, "1.00")
    agents = json.dumps({"version": 1, "users": {vault.users.agent: ["alice"]}, "approvals": "owner"})
    vault.as_vault("sh", "-c", f"umask 077; cat > {vault.home}/agents.json", stdin=agents, raw=True)
    asked: list[Any] = []

    async def approver(context: Any, params: Any) -> Any:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"approve": True})

    for mode in ("legacy", "auto"):
        async def scenario():
            async with front(vault, mode, elicitation=approver) as client:
                return await client.call_tool("weather_expensive", {"city": "Oslo"})

        result = run_client(scenario).model_dump(by_alias=True, mode="json", exclude_none=True)
        assert result["structuredContent"]["error"] == "approval_required", result
    assert asked == [] and peer.transfers_from(vault.address) == []


# -- 4. several machines: the vault on a PostgreSQL ledger ------------------------------------------------

def _psql(url: str, sql: str) -> list[str]:
    binary = shutil.which("psql") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    assert binary, "psql is needed to check the database independently"
    done = run(binary, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql)
    return done.stdout.splitlines()


@pytest.fixture
def postgres_schema():
    """A fresh schema on the test server: the ledger URL with that schema first in its search_path."""
    url = os.environ.get("PURSER_TEST_POSTGRES", "")
    if not url:
        if os.environ.get("PURSER_REQUIRE_POSTGRES"):
            pytest.fail("PURSER_REQUIRE_POSTGRES is set but PURSER_TEST_POSTGRES is not")
        pytest.skip("PURSER_TEST_POSTGRES is not set: no PostgreSQL server for the vault-on-PostgreSQL test")
    schema = "vault_" + os.urandom(6).hex()
    _psql(url, f"CREATE SCHEMA {schema}")
    yield url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}", url, schema
    _psql(url, f"DROP SCHEMA {schema} CASCADE")


def test_a_vault_on_a_postgresql_ledger_pays_and_records_there(users, purser_bin, peer, postgres_schema):
    """`purser vault init|run --ledger postgres://…`: the schema is made at init, the paid call's money is in the
    database (read back with psql, not through Purser), and no SQLite ledger appears in the vault's home."""
    ledger_url, server_url, schema = postgres_schema
    vault = Vault(users, purser_bin, peer.url, ledger=ledger_url)
    try:
        grant(vault, "1.00")

        async def scenario():
            async with front(vault, "legacy") as client:
                return await client.call_tool("weather_cheap", {"city": "Lisbon"})

        result = run_client(scenario)
        assert not result.is_error, result
        assert [t["value"] for t in peer.transfers_from(vault.address)] == [10000]
        assert not (vault.home / "ledger.sqlite").exists()
        sessions = vault.sessions()
        assert len(sessions) == 1 and Decimal(sessions[0]["spent"]) == Decimal("0.01"), sessions
        rows = _psql(server_url, f"SELECT state, amount FROM {schema}.reservations")
        assert rows == ["committed|10000"], rows
        vault.verify()
    finally:
        vault.close()


def test_a_vault_pointed_at_a_database_without_a_ledger_refuses_to_start(users, purser_bin, peer, postgres_schema):
    """`vault run` on a database `vault init` never prepared says so and exits, instead of serving calls it
    cannot pay for."""
    ledger_url, _, _ = postgres_schema
    vault = Vault(users, purser_bin, peer.url)  # initialized on SQLite
    try:
        vault.stop()
        done = vault.as_vault(
            "vault", "run", "--home", str(vault.home), "--socket", str(vault.socket), "--tools", str(vault.tools),
            "--policies", str(vault.policies), "--ledger", ledger_url, check=False)
        assert done.returncode != 0
        assert "no ledger in the PostgreSQL database" in done.stderr and "vault init" in done.stderr, done.stderr
        assert "PGPASSWORD" not in done.stderr and os.environ.get("PGPASSWORD", "\0") not in done.stderr
    finally:
        vault.close()
