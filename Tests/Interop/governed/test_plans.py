"""Spend plans end to end (docs/governed-call.md "Spend plans", issue 13 part 2 and 3).

The official MCP Python client (`mcp==2.3.0`) drives `purser serve` in both protocol eras against the official
x402 SDK peer, in a session granted with `purser session grant --require-plan`: an unplanned paid call is
refused; a plan is proposed and approved once (form elicitation in the legacy era, `input_required` in the
2026 era, or `purser approve pln_…`); its steps run without further approval; a step beyond the plan is
refused; closing returns the unused reservation; a failed plan's spend appears as wasted in `purser report`.
What was paid is read from the fake chain (transfers from this test's wallet), never from Purser alone.
"""

from __future__ import annotations

import json

import pytest

from governed_peer import PAY_TO, Peer
from harness import Installation, error_code, wire
from test_governed_call import ACCEPT, MODES, Approver, run

CITY = {"city": "Oslo"}
PLAN_TOOLS = {"purser_plan_propose", "purser_plan_status", "purser_plan_close"}
# weather_expensive costs 0.20, above the 0.10 approval threshold: outside a plan every call would ask.
PLAN = {
    "steps": [{"tool": "weather_expensive", "purpose": "compare three forecasts", "maxAmount": "0.20", "count": 3}],
    "total": "0.50",
}


@pytest.fixture(scope="module")
def peer():
    server = Peer()
    yield server
    server.close()


@pytest.fixture
def inst(tmp_path, peer, purser_bin):
    installation = Installation(tmp_path, purser_bin, peer.url)
    yield installation
    assert installation.key_hex() not in installation.stderr().lower()


def paid(peer: Peer, inst: Installation) -> list[dict]:
    return peer.transfers_from(inst.address)


def remaining(inst: Installation) -> str:
    (session,) = inst.sessions()
    return session["remaining"]


@pytest.mark.parametrize("mode", MODES)
def test_plan_required_session_end_to_end(inst, peer, mode):
    inst.grant("1.00", "--require-plan")
    assert inst.sessions()[0]["requiresPlan"] is True
    approver = Approver(ACCEPT)
    remaining_seen = {}

    async def scenario():
        async with inst.client(mode, elicitation=approver) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            unplanned = await client.call_tool("weather_expensive", CITY)
            free_tools_listed = "weather_cheap" in listed
            proposed = await client.call_tool("purser_plan_propose", PLAN)
            remaining_seen["approved"] = remaining(inst)
            steps = [await client.call_tool("weather_expensive", {"city": c}) for c in ("Oslo", "Bergen")]
            over_total = await client.call_tool("weather_expensive", {"city": "Tromsø"})
            other_tool = await client.call_tool("weather_cheap", CITY)
            status = await client.call_tool("purser_plan_status", {})
            remaining_seen["before_close"] = remaining(inst)
            closed = await client.call_tool("purser_plan_close", {"outcome": "failed"})
            return listed, free_tools_listed, unplanned, proposed, steps, over_total, other_tool, status, closed

    listed, _, unplanned, proposed, steps, over_total, other_tool, status, closed = run(scenario)
    assert PLAN_TOOLS <= listed

    # An unplanned paid call is refused before anything is signed; the words send the model to the plan tool.
    assert error_code(unplanned) == "plan_required", wire(unplanned)
    assert "purser_plan_propose" in wire(unplanned)["content"][0]["text"]

    # Approved once (elicitation / input_required); the total is reserved against the session at once.
    assert not proposed.is_error, wire(proposed)
    assert wire(proposed)["structuredContent"]["state"] == "approved"
    assert len(approver.asked) == 1
    assert "weather_expensive: up to 0.20 USDC per call, 3 calls" in approver.asked[0].message
    assert remaining_seen["approved"] == "0.50"

    # The steps run without asking again (0.20 each, above the approval threshold), each paid on chain.
    for step in steps:
        assert not step.is_error, wire(step)
        assert wire(step)["_meta"]["com.purser/receipt"]["plan"] == wire(proposed)["structuredContent"]["plan"]
    assert len(approver.asked) == 1
    transfers = paid(peer, inst)
    assert [(t["to"].lower(), t["value"]) for t in transfers] == [(PAY_TO.lower(), 200000)] * 2

    # Beyond the plan: the total (0.40 used of 0.50), and a tool the plan does not name.
    assert error_code(over_total) == "outside_plan", wire(over_total)
    assert wire(over_total)["structuredContent"]["gate"] == "plan_total"
    assert "Revise the plan" in wire(over_total)["content"][0]["text"]
    assert error_code(other_tool) == "outside_plan"
    assert wire(other_tool)["structuredContent"]["planReason"] == "tool_not_in_plan"
    assert len(paid(peer, inst)) == 2

    assert wire(status)["structuredContent"]["spent"] == "0.40"
    assert wire(status)["structuredContent"]["reserved"] == "0.10"
    assert remaining_seen["before_close"] == "0.50"

    # Closing returns the unused 0.10; the 0.40 paid stays spent.
    assert not closed.is_error, wire(closed)
    assert wire(closed)["structuredContent"]["returned"] == "0.10"
    assert remaining(inst) == "0.60"

    # Closed as failed: its spend is wasted, by tool and seller, with the receipts for a refund request.
    receipts = [wire(step)["_meta"]["com.purser/receipt"] for step in steps]
    wasted = inst.report()["wasted"]
    assert sorted((w["receiptId"], w["tool"], w["seller"], w["amount"], w["reason"]) for w in wasted) == sorted(
        (r["receiptId"], "weather_expensive", PAY_TO, "0.20", "plan_failed") for r in receipts
    )
    assert {w["transaction"] for w in wasted} == {r["transaction"] for r in receipts}
    assert receipts[0]["receiptId"] in inst.cli("report").stdout

    # The report lists the plan: closed as failed, 0.40 of its 0.50 spent, nothing held or reserved any more.
    plan_id = wire(proposed)["structuredContent"]["plan"]
    [plan] = [p for p in inst.report()["plans"] if p["plan"] == plan_id]
    assert (plan["state"], plan["outcome"], plan["total"], plan["spent"], plan["held"], plan["reserved"],
            plan["payments"]) == ("closed", "failed", "0.50", "0.40", "0.00", "0.00", 2)
    text = inst.cli("report").stdout
    section = text[text.index("Spend plans"):]
    row = next(line for line in section.splitlines() if line.startswith(plan_id))
    assert row.split()[2:] == ["closed:", "failed", "0.50", "USDC", "0.40", "USDC", "0.00", "USDC", "0.00", "USDC"], row

    # --explain shows the plan and its approval with the payment.
    chain = json.loads(inst.cli("report", "--explain", receipts[0]["receiptId"], "--json").stdout)
    kinds = [r["kind"] for r in chain["records"]]
    assert "plan.propose" in kinds and "plan.approve" in kinds, kinds
    approve = next(r["payload"] for r in chain["records"] if r["kind"] == "plan.approve")
    assert approve["by"] == ("elicitation" if mode == "legacy" else "input_required")
    text = inst.cli("report", "--explain", receipts[0]["receiptId"]).stdout
    assert "plan.approve" in text and "step of spend plan" in text
    inst.verify()


@pytest.mark.parametrize("mode", MODES)
def test_plan_approved_with_purser_approve(inst, peer, mode):
    """A client without form elicitation: the end user approves the plan with `purser approve pln_…`."""
    inst.grant("1.00", "--require-plan")

    async def propose():
        async with inst.client(mode) as client:
            return await client.call_tool("purser_plan_propose", PLAN)

    proposed = run(propose)
    assert not proposed.is_error, wire(proposed)
    plan = wire(proposed)["structuredContent"]
    assert plan["state"] == "proposed" and plan["approvalCommand"] == f"purser approve {plan['plan']}"

    async def call():
        async with inst.client(mode) as client:
            return await client.call_tool("weather_expensive", CITY)

    waiting = run(call)
    assert error_code(waiting) == "plan_required" and wire(waiting)["structuredContent"]["plan"] == plan["plan"]
    assert remaining(inst) == "1.00"
    approved = inst.cli("approve", plan["plan"]).stdout
    assert "approved plan" in approved
    assert remaining(inst) == "0.50"
    step = run(call)
    assert not step.is_error, wire(step)
    assert len(paid(peer, inst)) == 1
    inst.verify()


def test_session_without_the_flag_is_unchanged(inst, peer):
    inst.grant("1.00")

    async def scenario():
        async with inst.client("legacy", elicitation=Approver(ACCEPT)) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            return listed, await client.call_tool("weather_expensive", CITY), await client.call_tool(
                "purser_plan_propose", PLAN
            )

    listed, call, propose = run(scenario)
    assert not (listed & PLAN_TOOLS)
    assert not call.is_error, wire(call)  # asked once (above the threshold) and paid, as without plans
    assert error_code(propose) == "plan_not_required"
