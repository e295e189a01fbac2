"""The governed paid tool call end to end (docs/governed-call.md, docs/e2e.md).

The official MCP Python client (`mcp==2.3.0`) drives `purser serve` in both protocol eras; the upstream is
the official x402 SDK server on a fake chain (governed_peer.py), with hostile modes. What was paid is read
from the chain (transfers from this test's own wallet), never from Purser's own account of it; what Purser
recorded is read through the end user's commands (`purser session list`, `report --json`, `ledger verify`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from typing import Any

import anyio
import mcp_types as types
import pytest
from eth_utils import keccak

from governed_peer import OTHER_PAYEE, PAY_TO, Peer, RouteState
from harness import (
    AGENT,
    APPROVAL_ABOVE,
    TOOL_TIMEOUT_SECONDS,
    Installation,
    canonical_digest,
    error_code,
    wire,
)

MODES = [pytest.param("legacy", id="legacy"), pytest.param("auto", id="2026")]
ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
BERLIN = {"city": "Berlin"}


@pytest.fixture(scope="module")
def peer():
    server = Peer()
    yield server
    server.close()


@pytest.fixture
def inst(tmp_path, peer, purser_bin):
    installation = Installation(tmp_path, purser_bin, peer.url)
    yield installation
    # Whatever happened, the wallet key never left its file.
    assert installation.key_hex() not in installation.stderr().lower()


def run(scenario) -> Any:
    """Runs one client scenario; an assertion inside it is raised as itself, not as a task-group wrapper."""
    try:
        return anyio.run(scenario)
    except BaseExceptionGroup as group:
        inner: BaseException = group
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        raise inner from None


def tx_hash(transfer: dict[str, Any]) -> str:
    """The fake chain's transaction hash for a transfer, recomputed independently of Purser."""
    return "0x" + keccak(b"tx" + transfer["from"].lower().encode() + bytes.fromhex(transfer["nonce"][2:])).hex()


def session(inst: Installation) -> dict[str, Any]:
    rows = inst.sessions()
    assert len(rows) == 1, rows
    return rows[0]


def in_doubt_atomic(inst: Installation) -> int:
    return sum(int(row["amountAtomic"]) for row in inst.report()["inDoubt"] if row["asset"] == "USDC")


def spent_atomic(inst: Installation) -> int:
    return sum(int(row["amountAtomic"]) for row in inst.report()["byAgent"] if row["asset"] == "USDC")


def paid_requests(peer: Peer, route: str) -> int:
    return sum(1 for seen in peer.seen(route) if seen.paid)


def audit_payloads(inst: Installation) -> list[str]:
    with sqlite3.connect(f"file:{inst.home / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT payload FROM audit ORDER BY seq")]


def text_of(result: Any) -> str:
    return " ".join(block.text for block in result.content if getattr(block, "text", None))


# -- 1. a paid call ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_paid_call_carries_settlement_and_receipt(inst, peer, mode):
    inst.grant("1.00")

    async def scenario():
        async with inst.client(mode) as client:
            assert client.protocol_version == ERAS[mode]
            listed = {tool.name: tool for tool in (await client.list_tools()).tools}
            # Purser adds the optional idempotency key to every paid tool's listed schema.
            assert "idempotency_key" in listed["weather_cheap"].input_schema["properties"]
            return await client.call_tool("weather_cheap", BERLIN)

    result = run(scenario)
    data = wire(result)
    assert not result.is_error, data
    assert "sunny" in text_of(result)

    transfers = peer.transfers_from(inst.address)
    assert len(transfers) == 1
    assert transfers[0]["to"].lower() == PAY_TO.lower() and transfers[0]["value"] == 10000

    settlement = data["_meta"]["x402/payment-response"]
    assert settlement["success"] is True
    assert settlement["transaction"] == tx_hash(transfers[0])
    assert settlement["network"] == "eip155:84532"
    assert settlement["payer"].lower() == inst.address.lower()

    receipt = data["_meta"]["com.purser/receipt"]
    assert receipt["receiptId"].startswith("rcp_")
    assert Decimal(receipt["amount"]) == Decimal("0.01")
    assert receipt["amountAtomic"] == "10000"
    assert receipt["asset"] == "USDC"
    assert receipt["network"] == "eip155:84532"
    assert receipt["payee"].lower() == PAY_TO.lower()
    assert receipt["transaction"] == settlement["transaction"]
    assert receipt["sessionId"] == session(inst)["id"]
    assert Decimal(receipt["sessionRemaining"]) == Decimal("0.99")
    assert receipt["traceId"].startswith("trc_")
    assert receipt["purpose"] == "data.weather"
    assert receipt["argumentsDigest"] == canonical_digest(BERLIN)
    # A digest instead of the raw arguments.
    assert "Berlin" not in json.dumps(data["_meta"])

    row = session(inst)
    assert Decimal(row["spent"]) == Decimal("0.01") and Decimal(row["remaining"]) == Decimal("0.99")
    report = inst.report()
    assert [(r["key"], r["amountAtomic"]) for r in report["byTool"]] == [("weather_cheap", 10000)]
    assert [(r["key"].lower(), r["amountAtomic"]) for r in report["byPayee"]] == [(PAY_TO.lower(), 10000)]
    assert report["inDoubt"] == []
    inst.verify()
    # The trace holds the digest and never the raw arguments (read straight from the ledger, read-only).
    payloads = audit_payloads(inst)
    assert any(receipt["argumentsDigest"] in payload for payload in payloads)
    assert not any("Berlin" in payload for payload in payloads)


def test_x402_v1_upstream_is_paid_with_a_receipt(inst, peer):
    inst.grant("1.00")

    async def scenario():
        async with inst.client("auto") as client:
            return await client.call_tool("weather_v1", BERLIN)

    result = run(scenario)
    assert not result.is_error, wire(result)
    transfers = peer.transfers_from(inst.address)
    assert [(t["to"].lower(), t["value"]) for t in transfers] == [(PAY_TO.lower(), 10000)]
    assert paid_requests(peer, "/v1/cheap") == 1
    meta = wire(result)["_meta"]
    assert meta["x402/payment-response"]["success"] is True
    assert meta["x402/payment-response"]["transaction"] == tx_hash(transfers[0])
    receipt = meta["com.purser/receipt"]
    assert receipt["amountAtomic"] == "10000" and receipt["transaction"] == tx_hash(transfers[0])
    assert Decimal(receipt["sessionRemaining"]) == Decimal("0.99")
    inst.verify()


# -- 2. refusals before any payment --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_call_policy_refusal_contacts_nothing_and_pays_nothing(inst, peer, mode):
    inst.grant("1.00")
    before = len(peer.seen("/paid/cheap"))

    async def scenario():
        async with inst.client(mode) as client:
            return await client.call_tool("forbidden_data", BERLIN)

    result = run(scenario)
    assert error_code(result) == "policy_denied", wire(result)
    assert "forbidden-data-is-off-limits" in json.dumps(wire(result)["structuredContent"])  # the deciding policy
    assert len(peer.seen("/paid/cheap")) == before  # the upstream was never contacted
    assert peer.transfers_from(inst.address) == []
    assert spent_atomic(inst) == 0
    assert inst.refusals().get("policy_denied", 0) >= 1
    inst.verify()


def test_pay_policy_refuses_a_swapped_payee_and_an_amount_above_the_ceiling(inst, peer):
    inst.grant("1.00")
    peer.routes["swap"] = RouteState(pay_to=PAY_TO)
    peer.routes["pricey"] = RouteState(amount="750000")  # 0.75 > the 0.50 Cedar ceiling

    async def scenario():
        async with inst.client("legacy") as client:
            honest = await client.call_tool("h_swap", BERLIN)
            peer.routes["swap"].pay_to = OTHER_PAYEE  # the upstream swaps its payee between calls
            swapped = await client.call_tool("h_swap", BERLIN)
            pricey = await client.call_tool("h_pricey", BERLIN)
            return honest, swapped, pricey

    honest, swapped, pricey = run(scenario)
    assert not honest.is_error, wire(honest)
    assert error_code(swapped) == "payment_policy_denied", wire(swapped)
    assert error_code(pricey) == "payment_policy_denied", wire(pricey)
    # The deciding policies are the forbids that held (Cedar: deny = some forbid, or no permit).
    assert wire(swapped)["structuredContent"]["policies"] == ["payee-allowlist"]
    assert wire(pricey)["structuredContent"]["policies"] == ["per-call-ceiling"]
    transfers = peer.transfers_from(inst.address)
    assert [(t["to"].lower(), t["value"]) for t in transfers] == [(PAY_TO.lower(), 10000)]
    assert paid_requests(peer, "/h/swap") == 1  # nothing signed for the swapped payee
    assert paid_requests(peer, "/h/pricey") == 0
    assert spent_atomic(inst) == 10000
    assert inst.refusals().get("payment_policy_denied", 0) >= 2
    inst.verify()


def test_offer_on_an_unlisted_network_is_unserviceable(inst, peer):
    inst.grant("1.00")
    # Base mainnet USDC: neither the network nor the asset is allowed by limits.json.
    peer.routes["unserviceable"] = RouteState(
        network="eip155:8453", asset="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")

    async def scenario():
        async with inst.client("legacy") as client:
            return await client.call_tool("h_unserviceable", BERLIN)

    result = run(scenario)
    assert error_code(result) == "payment_unserviceable", wire(result)
    assert paid_requests(peer, "/h/unserviceable") == 0
    assert peer.transfers_from(inst.address) == []
    inst.verify()


@pytest.mark.parametrize("mode", MODES)
def test_budget_refusal_names_the_gate_and_pays_nothing(inst, peer, mode):
    inst.grant("0.015")

    async def scenario():
        async with inst.client(mode) as client:
            first = await client.call_tool("weather_cheap", BERLIN)
            second = await client.call_tool("weather_cheap", {"city": "Paris"})
            return first, second

    first, second = run(scenario)
    assert not first.is_error, wire(first)
    assert error_code(second) == "budget_exceeded", wire(second)
    detail = wire(second)["structuredContent"]

    def amount(key: str) -> Decimal:
        value = str(detail[key])
        assert "USDC" in value, detail  # whole units with the asset
        return Decimal(value.replace("USDC", "").strip())

    assert amount("limit") == Decimal("0.015")
    assert amount("used") == Decimal("0.01")
    assert amount("requested") == Decimal("0.01")
    assert amount("shortfall") == Decimal("0.005")
    assert "session" in json.dumps(detail)  # names the gate
    assert len(peer.transfers_from(inst.address)) == 1
    assert spent_atomic(inst) == 10000
    assert inst.refusals().get("budget_exceeded", 0) >= 1
    inst.verify()


def test_no_session_refuses_and_pays_nothing(inst, peer):
    before = paid_requests(peer, "/paid/cheap")

    async def scenario():
        async with inst.client("legacy") as client:
            return await client.call_tool("weather_cheap", BERLIN)

    result = run(scenario)
    assert error_code(result) == "no_session", wire(result)
    assert paid_requests(peer, "/paid/cheap") == before
    assert peer.transfers_from(inst.address) == []


def test_revoked_session_stops_a_running_server_at_its_next_payment(inst, peer):
    inst.grant("1.00")

    async def scenario():
        async with inst.client("legacy") as client:
            first = await client.call_tool("weather_cheap", BERLIN)
            inst.cli("session", "revoke", session(inst)["id"])
            second = await client.call_tool("weather_cheap", {"city": "Paris"})
            return first, second

    first, second = run(scenario)
    assert not first.is_error, wire(first)
    assert error_code(second) in ("no_session", "budget_exceeded"), wire(second)
    assert len(peer.transfers_from(inst.address)) == 1
    inst.verify()


# -- 3. approvals above the threshold ------------------------------------------------------------------


class Approver:
    """An elicitation callback that answers from a script and records what it was asked."""

    def __init__(self, *answers: types.ElicitResult):
        self.answers = list(answers)
        self.asked: list[Any] = []

    async def __call__(self, context, params):
        self.asked.append(params)
        return self.answers.pop(0)


ACCEPT = types.ElicitResult(action="accept", content={"approve": True})
ACCEPT_FALSE = types.ElicitResult(action="accept", content={"approve": False})
DECLINE = types.ElicitResult(action="decline")
CANCEL = types.ElicitResult(action="cancel")


def check_approval_prompt(params: Any) -> None:
    message = params.message
    for part in ("weather_expensive", "USDC", "eip155:84532"):
        assert part in message, message
    assert "0.2" in message, message
    assert PAY_TO.lower() in message.lower(), message
    schema = params.requested_schema
    schema = schema if isinstance(schema, dict) else schema.model_dump(by_alias=True, exclude_none=True)
    assert schema["properties"]["approve"]["type"] == "boolean"


@pytest.mark.parametrize("mode", MODES)
def test_approval_through_the_clients_elicitation_callback(inst, peer, mode):
    """Legacy: elicitation/create inside the call. 2026-07-28: MRTR, driven by the client through the same callback."""
    assert Decimal("0.01") <= Decimal(APPROVAL_ABOVE) < Decimal("0.20")
    inst.grant("1.00")
    approver = Approver(ACCEPT, DECLINE, CANCEL, ACCEPT_FALSE)

    async def scenario():
        async with inst.client(mode, elicitation=approver) as client:
            assert client.protocol_version == ERAS[mode]
            cheap = await client.call_tool("weather_cheap", BERLIN)  # below the threshold: nobody is asked
            asked_for_cheap = len(approver.asked)
            results = [await client.call_tool("weather_expensive", {"city": f"c{i}"}) for i in range(4)]
            return cheap, asked_for_cheap, results

    cheap, asked_for_cheap, (accepted, declined, cancelled, refused) = run(scenario)
    assert not cheap.is_error and asked_for_cheap == 0
    assert not accepted.is_error, wire(accepted)
    for result in (declined, cancelled, refused):
        assert error_code(result) == "approval_declined", wire(result)
    assert len(approver.asked) == 4
    check_approval_prompt(approver.asked[0])
    assert wire(accepted)["_meta"]["com.purser/receipt"]["amountAtomic"] == "200000"
    assert inst.refusals().get("approval_declined", 0) == 3
    assert sorted(t["value"] for t in peer.transfers_from(inst.address)) == [10000, 200000]
    assert spent_atomic(inst) == 210000
    inst.verify()


def test_mrtr_request_state_is_single_use_and_bound(inst, peer):
    """The 2026-07-28 loop driven by hand: a replayed, tampered or mismatched requestState is refused."""
    inst.grant("1.00")
    approver = Approver()  # declares the capability; the loop below answers by hand
    expensive_before = paid_requests(peer, "/paid/expensive")

    async def scenario():
        async with inst.client("auto", elicitation=approver) as client:
            assert client.protocol_version == "2026-07-28"
            session = client.session

            async def ask(arguments):
                first = await session.call_tool("weather_expensive", arguments, allow_input_required=True)
                assert isinstance(first, types.InputRequiredResult), first
                assert first.request_state
                (key, request), = first.input_requests.items()
                assert request.method == "elicitation/create"
                check_approval_prompt(request.params)
                return first, {key: ACCEPT}

            def answer(arguments, responses, state):
                return session.call_tool(
                    "weather_expensive", arguments, input_responses=responses, request_state=state,
                    allow_input_required=True)

            first, responses = await ask(BERLIN)
            paid = await answer(BERLIN, responses, first.request_state)
            replayed = await answer(BERLIN, responses, first.request_state)

            other, responses = await ask({"city": "Paris"})
            state = other.request_state
            flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
            tampered = await answer({"city": "Paris"}, responses, flipped)
            mismatched = await answer({"city": "Rome"}, responses, state)  # state bound to other arguments
            return paid, replayed, tampered, mismatched

    paid, replayed, tampered, mismatched = run(scenario)
    assert isinstance(paid, types.CallToolResult) and not paid.is_error, paid
    for result in (replayed, tampered, mismatched):
        assert isinstance(result, types.CallToolResult), result
        assert error_code(result) == "approval_invalid", wire(result)
    assert approver.asked == []
    assert [t["value"] for t in peer.transfers_from(inst.address)] == [200000]
    assert paid_requests(peer, "/paid/expensive") - expensive_before == 1
    assert spent_atomic(inst) == 200000
    inst.verify()


def test_approval_is_bound_to_the_amount_when_the_upstream_reprices(inst, peer):
    """Approved at 0.20, the upstream asks 0.30 on the retry: neither the MRTR state nor the fallback token
    covers the new amount."""
    inst.grant("1.00")
    peer.routes["reprice"] = RouteState(amount="200000")

    async def mrtr():
        async with inst.client("auto", elicitation=Approver()) as client:
            first = await client.session.call_tool("h_reprice", BERLIN, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult), first
            (key, _), = first.input_requests.items()
            peer.routes["reprice"].amount = "300000"
            return await client.session.call_tool(
                "h_reprice", BERLIN, input_responses={key: ACCEPT}, request_state=first.request_state,
                allow_input_required=True)

    repriced = run(mrtr)
    assert isinstance(repriced, types.CallToolResult), repriced
    assert error_code(repriced) == "approval_invalid", wire(repriced)

    peer.routes["reprice"].amount = "200000"

    async def fallback(meta=None):
        async with inst.client("legacy") as client:
            return await client.call_tool("h_reprice", {"city": "Paris"}, meta=meta)

    approval_id = wire(run(fallback))["structuredContent"]["approvalId"]
    inst.cli("approve", approval_id)
    peer.routes["reprice"].amount = "300000"
    token = run(lambda: fallback({"com.purser/approval": approval_id}))
    assert error_code(token) == "approval_invalid", wire(token)
    assert paid_requests(peer, "/h/reprice") == 0
    assert peer.transfers_from(inst.address) == []
    inst.verify()


@pytest.mark.parametrize("mode", MODES)
def test_fallback_approval_token_for_a_client_without_elicitation(inst, peer, mode):
    inst.grant("1.00")

    async def first_call():
        async with inst.client(mode) as client:  # no elicitation callback: no capability declared
            return await client.call_tool("weather_expensive", BERLIN)

    required = run(first_call)
    assert error_code(required) == "approval_required", wire(required)
    approval_id = wire(required)["structuredContent"]["approvalId"]
    assert peer.transfers_from(inst.address) == []

    approved = inst.cli("approve", approval_id)
    assert approval_id in approved.stdout  # the end user sees what they approved

    async def retries():
        async with inst.client(mode) as client:
            meta = {"com.purser/approval": approval_id}
            paid = await client.call_tool("weather_expensive", BERLIN, meta=meta)
            reused = await client.call_tool("weather_expensive", BERLIN, meta=meta)
            return paid, reused

    paid, reused = run(retries)
    assert not paid.is_error, wire(paid)
    assert error_code(reused) == "approval_invalid", wire(reused)
    assert [t["value"] for t in peer.transfers_from(inst.address)] == [200000]
    inst.verify()


def test_fallback_approval_is_bound_to_the_call(inst, peer):
    inst.grant("1.00")

    async def scenario(meta=None, arguments=BERLIN):
        async with inst.client("legacy") as client:
            return await client.call_tool("weather_expensive", arguments, meta=meta)

    approval_id = wire(run(scenario))["structuredContent"]["approvalId"]
    # Not yet approved by the user: the agent cannot approve itself by echoing the id.
    early = run(lambda: scenario({"com.purser/approval": approval_id}))
    assert error_code(early) in ("approval_required", "approval_invalid"), wire(early)
    inst.cli("approve", approval_id)
    other = run(lambda: scenario({"com.purser/approval": approval_id}, {"city": "Paris"}))
    assert error_code(other) == "approval_invalid", wire(other)
    unknown = inst.cli("approve", "apr_forged", check=False)
    assert unknown.returncode != 0 and "apr_forged" in unknown.stderr
    forged = run(lambda: scenario({"com.purser/approval": "apr_forged"}))
    assert error_code(forged) == "approval_invalid", wire(forged)
    assert peer.transfers_from(inst.address) == []
    inst.verify()


# -- 4. idempotency ------------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", ["meta", "argument"])
def test_idempotent_retry_pays_once_and_replays(inst, peer, carrier):
    inst.grant("1.00")

    def call(client, arguments, key):
        if carrier == "meta":
            return client.call_tool("weather_cheap", arguments, meta={"com.purser/idempotency-key": key})
        return client.call_tool("weather_cheap", {**arguments, "idempotency_key": key})

    before = len(peer.seen("/paid/cheap"))

    async def scenario():
        async with inst.client("legacy") as client:
            first = await call(client, BERLIN, "order-1")
            again = await call(client, BERLIN, "order-1")
            conflict = await call(client, {"city": "Paris"}, "order-1")
            return first, again, conflict

    first, again, conflict = run(scenario)
    assert not first.is_error, wire(first)
    assert not again.is_error, wire(again)
    assert wire(again)["_meta"].get("com.purser/replayed") is True
    assert text_of(again) == text_of(first)
    assert wire(again)["_meta"]["com.purser/receipt"] == wire(first)["_meta"]["com.purser/receipt"]
    assert error_code(conflict) == "idempotency_conflict", wire(conflict)
    assert len(peer.transfers_from(inst.address)) == 1
    assert len(peer.seen("/paid/cheap")) - before == 2  # the 402 and the paid retry, nothing more
    # The key is not an argument of the purchase: the digest is over the tool's own arguments.
    assert wire(first)["_meta"]["com.purser/receipt"]["argumentsDigest"] == canonical_digest(BERLIN)
    assert spent_atomic(inst) == 10000
    inst.verify()


def test_replay_comes_before_the_budget_gates(inst, peer):
    """A stored result is replayed even when the budget could no longer pay for the call again."""
    inst.grant("0.015")
    meta = {"com.purser/idempotency-key": "order-budget"}

    async def scenario():
        async with inst.client("legacy") as client:
            first = await client.call_tool("weather_cheap", BERLIN, meta=meta)
            again = await client.call_tool("weather_cheap", BERLIN, meta=meta)
            fresh = await client.call_tool("weather_cheap", BERLIN)
            return first, again, fresh

    first, again, fresh = run(scenario)
    assert not first.is_error and not again.is_error, wire(again)
    assert wire(again)["_meta"].get("com.purser/replayed") is True
    assert error_code(fresh) == "budget_exceeded", wire(fresh)
    assert len(peer.transfers_from(inst.address)) == 1


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_malformed_idempotency_key_is_refused_before_anything(inst, peer, key):
    inst.grant("1.00")
    before = len(peer.seen("/paid/cheap"))

    async def scenario():
        async with inst.client("legacy") as client:
            return await client.call_tool("weather_cheap", BERLIN, meta={"com.purser/idempotency-key": key})

    result = run(scenario)
    assert error_code(result) == "invalid_arguments", wire(result)
    assert len(peer.seen("/paid/cheap")) == before
    assert peer.transfers_from(inst.address) == []


def test_idempotent_replay_survives_a_restart(inst, peer):
    inst.grant("1.00")
    meta = {"com.purser/idempotency-key": "order-restart"}

    async def once():
        async with inst.client("auto") as client:
            return await client.call_tool("weather_cheap", BERLIN, meta=meta)

    first, again = run(once), run(once)
    assert not first.is_error and not again.is_error
    assert wire(again)["_meta"].get("com.purser/replayed") is True
    assert len(peer.transfers_from(inst.address)) == 1


# -- 5. hostile upstreams -------------------------------------------------------------------------------


def hostile_call(inst, route, key, mode="legacy"):
    meta = {"com.purser/idempotency-key": key}

    async def scenario():
        async with inst.client(mode) as client:
            started = time.monotonic()
            first = await client.call_tool("h_" + route, BERLIN, meta=meta)
            elapsed = time.monotonic() - started
            retried = await client.call_tool("h_" + route, BERLIN, meta=meta)
            return first, elapsed, retried

    return run(scenario)


def assert_same_unknown_outcome(first, retried):
    """A retry with the same key reports the same in-doubt reservation (and signs nothing)."""
    assert error_code(retried) == "outcome_unknown", wire(retried)
    held = wire(first)["structuredContent"]
    assert wire(retried)["structuredContent"]["reservation"] == held["reservation"]
    assert held["heldUntil"] > time.time()


def assert_within_budget(inst):
    row = session(inst)
    assert Decimal(row["spent"]) + Decimal(row["inFlight"]) <= Decimal(row["cap"])


def test_second_402_after_payment_is_in_doubt_and_never_paid_twice(inst, peer):
    inst.grant("1.00")
    peer.routes["second_402"] = RouteState(mode="second_402")
    first, _, retried = hostile_call(inst, "second_402", "k-second-402")
    assert error_code(first) == "outcome_unknown", wire(first)
    assert "idempotency key" in text_of(first).lower()
    assert paid_requests(peer, "/h/second_402") == 1  # signed once, never again for this call
    assert [t["value"] for t in peer.transfers_from(inst.address)] == [10000]  # the upstream did take it
    assert_same_unknown_outcome(first, retried)
    assert paid_requests(peer, "/h/second_402") == 1
    assert in_doubt_atomic(inst) == 10000  # held, and reported as in doubt
    assert Decimal(session(inst)["inFlight"]) == Decimal("0.01")
    assert_within_budget(inst)
    inst.verify()


def test_settlement_failure_pays_nothing_and_holds_until_the_authorization_expires(inst, peer):
    """The upstream says settlement failed. Nothing moved on chain, but the signed authorization is in the
    upstream's hands until `validBefore`: it is held in doubt until then (design.md step 10: only a failure
    before anything was signed is released at once), and reported as such."""
    inst.grant("1.00")
    peer.routes["settle_fail"] = RouteState(mode="settle_fail")

    async def scenario():
        async with inst.client("auto") as client:
            return await client.call_tool("h_settle_fail", BERLIN)

    started = int(time.time())
    result = run(scenario)
    assert error_code(result) == "payment_failed", wire(result)
    detail = wire(result)["structuredContent"]
    assert detail["reason"] == "invalid_exact_evm_insufficient_balance"  # the SDK's own reason code
    # validBefore of an offer with maxTimeoutSeconds 300.
    assert started < detail["heldUntil"] <= started + 600 + 5, detail
    assert "new idempotency key" in text_of(result)
    assert paid_requests(peer, "/h/settle_fail") == 1
    assert peer.transfers_from(inst.address) == []
    row = session(inst)
    assert Decimal(row["spent"]) == 0 and Decimal(row["inFlight"]) == Decimal("0.01")
    assert in_doubt_atomic(inst) == 10000
    assert spent_atomic(inst) == 0
    assert inst.refusals().get("payment_failed", 0) == 1
    inst.verify()


def test_redirect_to_another_host_before_payment_is_refused(inst, peer):
    inst.grant("1.00")
    peer.routes["redirect_first"] = RouteState(mode="redirect_first")
    before = len(peer.elsewhere)

    async def scenario():
        async with inst.client("legacy") as client:
            return await client.call_tool("h_redirect_first", BERLIN)

    result = run(scenario)
    assert error_code(result) == "cross_origin_redirect", wire(result)
    assert len(peer.elsewhere) == before
    assert paid_requests(peer, "/h/redirect_first") == 0
    assert peer.transfers_from(inst.address) == []
    assert Decimal(session(inst)["remaining"]) == Decimal("1.00")
    inst.verify()


def test_redirect_after_payment_is_not_followed_and_held_in_doubt(inst, peer):
    inst.grant("1.00")
    peer.routes["redirect_paid"] = RouteState(mode="redirect_paid")
    before = len(peer.elsewhere)
    first, _, retried = hostile_call(inst, "redirect_paid", "k-redirect")
    assert error_code(first) == "outcome_unknown", wire(first)
    assert len(peer.elsewhere) == before  # the signed payment never travelled to 127.0.0.2
    assert paid_requests(peer, "/h/redirect_paid") == 1
    assert_same_unknown_outcome(first, retried)
    assert paid_requests(peer, "/h/redirect_paid") == 1
    assert peer.transfers_from(inst.address) == []
    # The authorization left the process to an upstream that did not answer with a settlement: ambiguous.
    assert in_doubt_atomic(inst) == 10000
    assert_within_budget(inst)
    inst.verify()


def test_hang_after_payment_times_out_in_doubt(inst, peer):
    inst.grant("1.00")
    hang = TOOL_TIMEOUT_SECONDS + 4
    peer.routes["hang"] = RouteState(mode="hang_paid", hang_seconds=hang)
    first, elapsed, retried = hostile_call(inst, "hang", "k-hang")
    assert error_code(first) == "outcome_unknown", wire(first)
    assert elapsed < hang - 1, elapsed  # bounded by the tool's timeout, not by the upstream
    assert paid_requests(peer, "/h/hang") == 1
    assert [t["value"] for t in peer.transfers_from(inst.address)] == [10000]  # settled before the hang
    # The same key reports the outcome (or that it is still unknown) and never pays again.
    assert_same_unknown_outcome(first, retried)
    assert paid_requests(peer, "/h/hang") == 1
    assert in_doubt_atomic(inst) == 10000
    assert_within_budget(inst)
    inst.verify()


# -- 6. two servers, one budget ------------------------------------------------------------------------


def concurrently(inst, calls):
    """Runs each (arguments, meta) call in its own `purser serve` process, all at once."""
    results: list[Any] = [None] * len(calls)

    async def one(index, arguments, meta):
        async with inst.client("legacy") as client:
            results[index] = await client.call_tool("h_slow", arguments, meta=meta)

    async def scenario():
        async with anyio.create_task_group() as group:
            for index, (arguments, meta) in enumerate(calls):
                group.start_soon(one, index, arguments, meta)

    run(scenario)
    return results


def test_same_key_in_two_processes_pays_once(inst, peer):
    inst.grant("1.00")
    peer.routes["slow"] = RouteState(mode="delay_paid", hang_seconds=1.0)
    meta = {"com.purser/idempotency-key": "order-shared"}
    results = concurrently(inst, [(BERLIN, meta), (BERLIN, meta)])
    codes = sorted(str(error_code(result)) for result in results)
    # One pays; the other is told the key is in progress, or (if it came second) gets the stored result.
    assert codes in (["None", "idempotency_in_progress"], ["None", "None"]), [wire(r) for r in results]
    if codes == ["None", "None"]:
        assert any(wire(r)["_meta"].get("com.purser/replayed") is True for r in results)
    assert len(peer.transfers_from(inst.address)) == 1
    assert spent_atomic(inst) == 10000
    inst.verify()


def test_two_processes_cannot_overspend_one_budget(inst, peer):
    inst.grant("0.025")  # room for two 0.01 payments, not three
    peer.routes["slow"] = RouteState(mode="delay_paid", hang_seconds=1.0)
    results = concurrently(inst, [({"city": f"c{i}"}, None) for i in range(3)])
    codes = sorted(str(error_code(result)) for result in results)
    assert codes == ["None", "None", "budget_exceeded"], [wire(r) for r in results]
    assert len(peer.transfers_from(inst.address)) == 2
    row = session(inst)
    assert Decimal(row["spent"]) == Decimal("0.02") and Decimal(row["inFlight"]) == 0
    inst.verify()
