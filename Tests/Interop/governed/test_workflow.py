"""Change detection, proof traces and wasted spend end to end (docs/governed-call.md step 5b, docs/policies.md).

The official MCP Python client (`mcp==2.3.0`) drives `purser serve` in both protocol eras against the
official x402 SDK peer: a tool that paid one payee now asks another; the payment pauses for the human the
first time, pays only after approval (checked on the fake chain), and the new payee is then remembered.
`purser report --explain` reproduces the decisions from the audit trail.
"""

from __future__ import annotations

import json

import mcp_types as types
import pytest

from governed_peer import OTHER_PAYEE, PAY_TO, Peer, RouteState
from harness import AGENT, Installation, error_code, wire
from test_governed_call import ACCEPT, DECLINE, MODES, Approver, run

CITY = {"city": "Oslo"}
# Both payees may be paid by policy: only change detection stands between a swap and the payment.
PERMISSIVE_PAY = f'@id("alice-may-pay")\npermit (principal == Agent::"{AGENT}", action == Action::"pay", resource);\n'


@pytest.fixture(scope="module")
def peer():
    server = Peer()
    yield server
    server.close()


@pytest.fixture
def inst(tmp_path, peer, purser_bin):
    installation = Installation(tmp_path, purser_bin, peer.url)
    (installation.policies / "payments.cedar").write_text(PERMISSIVE_PAY)
    peer.routes["swap"] = RouteState(pay_to=PAY_TO)
    yield installation
    assert installation.key_hex() not in installation.stderr().lower()


def transfers_to(peer: Peer, inst: Installation, payee: str) -> int:
    return sum(1 for t in peer.transfers_from(inst.address) if t["to"].lower() == payee.lower())


def explain(inst: Installation, receipt_id: str) -> dict:
    return json.loads(inst.cli("report", "--explain", receipt_id, "--json").stdout)


@pytest.mark.parametrize("mode", MODES)
def test_payee_swap_pauses_then_pays_after_approval_and_is_remembered(inst, peer, mode):
    inst.grant("1.00")
    approver = Approver(DECLINE, ACCEPT)

    async def scenario():
        async with inst.client(mode, elicitation=approver) as client:
            known = await client.call_tool("h_swap", CITY)
            asked_before_swap = len(approver.asked)
            peer.routes["swap"].pay_to = OTHER_PAYEE
            declined = await client.call_tool("h_swap", CITY)
            transfers_after_decline = transfers_to(peer, inst, OTHER_PAYEE)
            approved = await client.call_tool("h_swap", CITY)
            remembered = await client.call_tool("h_swap", {"city": "Bergen"})
            return known, asked_before_swap, declined, transfers_after_decline, approved, remembered

    known, asked_before_swap, declined, after_decline, approved, remembered = run(scenario)
    assert not known.is_error, wire(known)
    assert asked_before_swap == 0  # the first payee of a tool is not a change
    assert error_code(declined) == "approval_declined", wire(declined)
    assert after_decline == 0
    assert not approved.is_error, wire(approved)
    assert not remembered.is_error, wire(remembered)
    assert len(approver.asked) == 2  # the swap asked twice (declined, accepted); the remembered payee never
    message = approver.asked[0].message
    assert f"h_swap paid {PAY_TO[:6]}… on Base Sepolia before; it now asks {OTHER_PAYEE[:6]}… on Base Sepolia" in message
    assert transfers_to(peer, inst, PAY_TO) == 1 and transfers_to(peer, inst, OTHER_PAYEE) == 2

    receipt = wire(approved)["_meta"]["com.purser/receipt"]
    chain = explain(inst, receipt["receiptId"])
    assert chain["auditIntact"] is True
    kinds = [r["kind"] for r in chain["records"]]
    assert kinds[0] == "session.grant" and kinds[-2:] == ["commit", "call"], kinds
    call = chain["records"][-1]["payload"]
    assert call["changes"] == ["payee_new"] and call["change_action"] == "approve"
    assert call["change_facts"]["payeeIsNew"] is True
    assert call["approval_channel"] == ("elicitation" if mode == "legacy" else "input_required")
    assert call["pay_policies"] == ["alice-may-pay"] and call["call_policies"] == ["alice-may-call"]
    commit = next(r["payload"] for r in chain["records"] if r["kind"] == "commit")
    assert commit["transaction"] == receipt["transaction"]
    # The trace id names the same chain; the text form says it in words and never shows the arguments.
    assert explain(inst, receipt["traceId"])["records"] == chain["records"]
    text = inst.cli("report", "--explain", receipt["receiptId"]).stdout
    assert "changed: payee_new → approve" in text and "audit trail: intact" in text
    assert "Oslo" not in text and "Oslo" not in json.dumps(chain)
    inst.verify()


@pytest.mark.parametrize("mode", MODES)
def test_payee_swap_with_the_fallback_token_names_the_change(inst, peer, mode):
    inst.grant("1.00")

    async def call(meta=None):
        async with inst.client(mode) as client:  # no elicitation: the fallback token
            return await client.call_tool("h_swap", CITY, meta=meta)

    assert not run(call).is_error
    peer.routes["swap"].pay_to = OTHER_PAYEE
    required = run(call)
    assert error_code(required) == "approval_required", wire(required)
    detail = wire(required)["structuredContent"]
    assert detail["change"].startswith(f"h_swap paid {PAY_TO[:6]}…")
    assert transfers_to(peer, inst, OTHER_PAYEE) == 0
    inst.cli("approve", detail["approvalId"])
    paid = run(lambda: call({"com.purser/approval": detail["approvalId"]}))
    assert not paid.is_error, wire(paid)
    assert transfers_to(peer, inst, OTHER_PAYEE) == 1
    receipt = wire(paid)["_meta"]["com.purser/receipt"]
    assert explain(inst, receipt["receiptId"])["records"][-1]["payload"]["approval_channel"] == "fallback_token"
    inst.verify()


def test_deny_rule_refuses_a_new_payee(inst, peer):
    limits = json.loads((inst.policies / "limits.json").read_text())
    limits["changes"] = {"newPayee": "deny"}
    (inst.policies / "limits.json").write_text(json.dumps(limits))
    inst.grant("1.00")

    async def call():
        async with inst.client("legacy", elicitation=Approver()) as client:
            return await client.call_tool("h_swap", CITY)

    assert not run(call).is_error
    peer.routes["swap"].pay_to = OTHER_PAYEE
    refused = run(call)
    assert error_code(refused) == "payment_policy_denied", wire(refused)
    assert wire(refused)["structuredContent"]["changeCode"] == "payee_new"
    assert transfers_to(peer, inst, OTHER_PAYEE) == 0
    inst.verify()


@pytest.mark.parametrize("mode", MODES)
def test_paid_call_that_delivers_nothing_is_reported_as_wasted_with_its_receipt(inst, peer, mode):
    # The honest SDK route settles and answers its report; this tool promises a field the report lacks.
    manifest = json.loads((inst.tools / "weather_cheap.json").read_text())
    manifest["name"] = "weather_promised"
    manifest["outputSchema"] = {"type": "object", "required": ["humidity"]}
    (inst.tools / "weather_promised.json").write_text(json.dumps(manifest))
    inst.grant("1.00")

    async def scenario():
        async with inst.client(mode) as client:
            return await client.call_tool("weather_promised", CITY), await client.call_tool("weather_cheap", CITY)

    wasted_call, good_call = run(scenario)
    assert wasted_call.is_error and not good_call.is_error, wire(wasted_call)
    receipt = wire(wasted_call)["_meta"]["com.purser/receipt"]
    assert len(peer.transfers_from(inst.address)) == 2  # both paid on chain
    wasted = inst.report()["wasted"]
    assert [(w["receiptId"], w["tool"], w["seller"], w["amount"], w["reason"]) for w in wasted] == [
        (receipt["receiptId"], "weather_promised", PAY_TO, "0.01", "upstream_invalid_output")
    ]
    assert wasted[0]["transaction"] == receipt["transaction"]
    text = inst.cli("report").stdout
    assert "Wasted spend (paid, nothing delivered) by tool and seller" in text and receipt["receiptId"] in text
    chain = explain(inst, receipt["receiptId"])
    assert chain["records"][-1]["payload"]["wasted"] == "upstream_invalid_output"
    inst.verify()
