"""Settlement evidence on a real EVM: py-evm behind a JSON-RPC endpoint, an EIP-3009 token compiled with
vyper, the official x402 facilitator settling with real `transferWithAuthorization`, and `purser` (the
real binary) paying, reconciling and reporting. Each scenario compares the seller's on-chain balance with
Purser's ledger.

Needs the pins in requirements.txt (eth-tester[py-evm], vyper); skipped when they are not installed.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("eth_tester")
pytest.importorskip("vyper")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evm_node import Node  # noqa: E402
from evm_seller import PAY_TO, PRICE, VALIDITY_SECONDS, Seller  # noqa: E402

AGENT = "agent-evm"
BUDGET = "0.03"  # three payments of 0.01


@pytest.fixture(scope="module")
def node() -> Any:
    chain = Node()
    yield chain
    chain.close()


@pytest.fixture(scope="module")
def seller(node: Node) -> Any:
    peer = Seller(node)
    yield peer
    peer.close()


class Install:
    """tools/, policies/ and a home for one scenario, with a funded wallet."""

    def __init__(self, root: Path, purser: str, node: Node, seller: Seller, with_node: bool = True,
                 budget: str = BUDGET) -> None:
        self.root, self.purser, self.node = root, purser, node
        self.home = root / "home"
        (root / "tools").mkdir(parents=True)
        (root / "policies").mkdir()
        manifest = {
            "name": "weather",
            "description": "Paid weather.",
            "purpose": "data.weather",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
            "upstream": {"method": "GET", "url": seller.url + "/paid", "timeoutSeconds": 20},
            "price": {"amount": "0.01", "asset": "USDC"},
        }
        (root / "tools" / "weather.json").write_text(json.dumps(manifest))
        (root / "policies" / "calls.cedar").write_text("permit (principal, action, resource);")
        limits = {
            "assets": {"USDC": {"decimals": 6, "networks": {node.network: node.token.address}}},
            "limits": {"USDC": {"perCall": "1.00"}},
            "allow": {"networks": [node.network], "assets": ["USDC"], "payees": [PAY_TO]},
        }
        (root / "policies" / "limits.json").write_text(json.dumps(limits))
        self.address = self.cli("wallet", "new").stdout.strip()
        node.mint(self.address, 1_000_000)
        self.cli("session", "grant", "--agent", AGENT, "--budget", budget, "--asset", "USDC", "--policies", str(root / "policies"))
        if with_node:
            (self.home / "nodes.json").write_text(json.dumps({"nodes": {node.network: {"url": node.url}}}))

    def cli(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [self.purser, *arguments, "--home", str(self.home)],
            capture_output=True, text=True, timeout=60, cwd=self.root,
            env={**os.environ, "PURSER_HOME": str(self.home)},
        )
        if check:
            assert completed.returncode == 0, f"purser {' '.join(arguments)}: {completed.stdout}{completed.stderr}"
        return completed

    def call(self) -> dict[str, Any]:
        completed = subprocess.run(
            [self.purser, "call", "weather", "--args", "{}", "--agent", AGENT, "--tools", str(self.root / "tools"),
             "--policies", str(self.root / "policies"), "--home", str(self.home)],
            capture_output=True, text=True, timeout=60, cwd=self.root,
        )
        return json.loads(completed.stdout) if completed.stdout.strip().startswith("{") else {"raw": completed.stdout}

    def reconcile(self, check: bool = True) -> dict[str, Any]:
        completed = self.cli("ledger", "reconcile", "--json", check=False)
        if check:
            assert completed.returncode == 0, completed.stdout + completed.stderr
        return json.loads(completed.stdout)

    def states(self) -> list[tuple[str, str | None]]:
        with sqlite3.connect(self.home / "ledger.sqlite") as db:
            return db.execute("SELECT state, evidence FROM reservations ORDER BY created_ms").fetchall()

    def held_and_spent(self) -> tuple[int, int]:
        with sqlite3.connect(self.home / "ledger.sqlite") as db:
            spent = db.execute("SELECT COALESCE(SUM(settled_amount), 0) FROM reservations WHERE state = 'committed'").fetchone()[0]
            held = db.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE state IN ('reserved', 'in_doubt', 'contradicted')"
            ).fetchone()[0]
        return held, spent


def past_valid_before(node: Node) -> None:
    """Until the chain is past the validBefore of every authorization signed so far (Purser's hold is
    validBefore + 2 s)."""
    node.wait_past(int(time.time()) + VALIDITY_SECONDS + 3)


def paid_to_seller(node: Node, seller: Seller, install: Install) -> int:
    """What left this wallet for the payee on chain (the wallet was minted 1.000000)."""
    return 1_000_000 - node.balance(install.address)


def test_honest_settlement_is_verified(tmp_path: Path, purser_bin: str, node: Node, seller: Seller) -> None:
    seller.mode = "honest"
    install = Install(tmp_path, purser_bin, node, seller)
    result = install.call()
    receipt = result["_meta"]["com.purser/receipt"]
    assert receipt["settlement"] == "claimed"
    assert install.states() == [("committed", "claimed")]
    summary = install.reconcile()
    assert len(summary["verified"]) == 1
    assert install.states() == [("committed", "verified")]
    assert paid_to_seller(node, seller, install) == install.held_and_spent()[1] == int(PRICE)
    report = json.loads(install.cli("report", "--json").stdout)
    assert report["claimedUnverified"] == []


@pytest.mark.parametrize("with_node", [True, False])
def test_settle_then_fail_over_three_windows_takes_at_most_the_budget(
    tmp_path: Path, purser_bin: str, node: Node, seller: Seller, with_node: bool
) -> None:
    seller.mode = "settle_then_fail"
    install = Install(tmp_path, purser_bin, node, seller, with_node=with_node)
    for _ in range(3):
        for _ in range(3):
            install.call()
        past_valid_before(node)  # past every authorization's validBefore, on chain
        install.reconcile(check=False)
        assert paid_to_seller(node, seller, install) <= 30_000
    held, spent = install.held_and_spent()
    assert paid_to_seller(node, seller, install) == 30_000
    # The budget is never restored: spent (verified with a node) or held (without one).
    assert held + spent == 30_000
    if with_node:
        assert spent == 30_000 and all(state == ("committed", "verified") for state in install.states())
    else:
        assert all(state == ("in_doubt", None) for state in install.states())


def test_never_settled_is_void_after_valid_before(tmp_path: Path, purser_bin: str, node: Node, seller: Seller) -> None:
    seller.mode = "never_settle"
    install = Install(tmp_path, purser_bin, node, seller)
    install.call()
    assert install.reconcile()["pending"]  # it could still settle
    assert install.held_and_spent() == (10_000, 0)
    past_valid_before(node)
    assert len(install.reconcile()["voided"]) == 1
    assert install.held_and_spent() == (0, 0)
    assert paid_to_seller(node, seller, install) == 0


def test_lying_receipt_is_contradicted_then_the_chain_decides(
    tmp_path: Path, purser_bin: str, node: Node, seller: Seller
) -> None:
    seller.mode = "lie"
    install = Install(tmp_path, purser_bin, node, seller)
    result = install.call()
    assert result.get("isError") is True
    assert result["structuredContent"]["error"] == "settlement_contradicted"
    assert "x402/payment-response" not in result.get("_meta", {})
    assert install.states() == [("contradicted", None)]
    assert install.held_and_spent() == (10_000, 0)
    # The seller did settle (and lied about it): the chain shows the real transaction.
    assert len(install.reconcile()["verified"]) == 1
    assert paid_to_seller(node, seller, install) == install.held_and_spent()[1] == 10_000

    seller.mode = "lie_unsettled"
    install2 = Install(tmp_path / "second", purser_bin, node, seller)
    install2.call()
    assert install2.states() == [("contradicted", None)]
    past_valid_before(node)
    assert len(install2.reconcile()["voided"]) == 1
    assert paid_to_seller(node, seller, install2) == 0 and install2.held_and_spent() == (0, 0)


def test_unreachable_node_keeps_the_amount_held(tmp_path: Path, purser_bin: str, node: Node, seller: Seller) -> None:
    seller.mode = "settle_then_fail"
    install = Install(tmp_path, purser_bin, node, seller)
    install.call()
    past_valid_before(node)
    node.unreachable = True
    try:
        completed = install.cli("ledger", "reconcile", check=False)
        assert completed.returncode == 2
    finally:
        node.unreachable = False
    assert install.states() == [("in_doubt", None)]
    assert install.held_and_spent() == (10_000, 0)
    assert len(install.reconcile()["verified"]) == 1


def test_failed_ledger_write_after_a_paid_response_is_held(
    tmp_path: Path, purser_bin: str, node: Node, seller: Seller
) -> None:
    seller.mode = "honest"
    install = Install(tmp_path, purser_bin, node, seller)
    with sqlite3.connect(install.home / "ledger.sqlite") as db:
        db.execute(
            "CREATE TRIGGER fail_commit BEFORE UPDATE OF state ON reservations WHEN NEW.state = 'committed' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    result = install.call()
    # Paid but not recorded: reported as an unknown outcome (never as a plain paid result), amount held.
    assert result.get("isError") is True
    assert result["structuredContent"]["error"] == "outcome_unknown"
    assert install.states() == [("in_doubt", None)]
    assert install.held_and_spent() == (10_000, 0)
    assert paid_to_seller(node, seller, install) == 10_000


@pytest.mark.parametrize("batches", ["taken", "refused"])
def test_one_pass_decides_many_payments_in_batches(
    tmp_path: Path, purser_bin: str, node: Node, seller: Seller, batches: str
) -> None:
    """Three settled-then-failed payments and three never settled, decided in one pass: the node is asked in
    JSON-RPC batches, or (when it refuses them, as some providers do) one call at a time, with the same
    decisions either way."""
    install = Install(tmp_path, purser_bin, node, seller, budget="0.06")
    seller.mode = "settle_then_fail"
    for _ in range(3):
        install.call()
    seller.mode = "never_settle"
    for _ in range(3):
        install.call()
    assert [state for state, _ in install.states()] == ["in_doubt"] * 6
    past_valid_before(node)
    node.requests = node.calls = 0
    if batches == "refused":
        node.batch_refusal = (400, {"error": "batch requests are not supported"})
    try:
        summary = install.reconcile()
    finally:
        node.batch_refusal = None
    assert len(summary["verified"]) == 3 and len(summary["voided"]) == 3 and not summary["failed"]
    assert paid_to_seller(node, seller, install) == install.held_and_spent()[1] == 30_000
    assert install.held_and_spent()[0] == 0
    if batches == "taken":
        # chain id, final block, one batch of six authorizationState calls, one log query, one batch of
        # three receipts: five requests for twelve calls (one at a time it was nineteen requests).
        assert node.requests <= 5 < node.calls, (node.requests, node.calls)
    else:
        assert node.requests == node.calls + 1, (node.requests, node.calls)  # the refused batch, then alone


def test_settled_is_found_through_the_time_window_in_small_log_ranges(
    tmp_path: Path, purser_bin: str, node: Node, seller: Seller
) -> None:
    """With `maxLogBlocks` far below the chain's length (as a hosted node's range limit is below a real chain's),
    reconcile finds the settled-then-failed payment through block headers (binary search for the last block
    before its validBefore) and log queries of at most 2 blocks each, on the real EVM."""
    seller.mode = "settle_then_fail"
    install = Install(tmp_path, purser_bin, node, seller)
    (install.home / "nodes.json").write_text(
        json.dumps({"nodes": {node.network: {"url": node.url, "maxLogBlocks": 2}}})
    )
    install.call()
    past_valid_before(node)
    assert node.w3.eth.block_number >= 4  # longer than one log range
    summary = install.reconcile()
    assert len(summary["verified"]) == 1 and not summary["failed"], summary
    assert install.states() == [("committed", "verified")]
    assert paid_to_seller(node, seller, install) == install.held_and_spent()[1] == 10_000
