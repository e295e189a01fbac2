"""Settlement evidence behind the vault (issues 10 and 17): `purser vault run` owns the ledger, so it is the
process that reconciles held payments with the chain node of its nodes.json — at start and every five
minutes, as `purser serve` does in single-user mode — with no `purser owner resolve`.

Real OS users (root only, like the rest of the vault suite) and a real EVM (py-evm behind JSON-RPC, the
EIP-3009 token compiled with vyper, the official x402 facilitator settling on it): skipped when either is
missing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
    pytest.skip(
        "the vault suite creates OS users: run it as root (CI runs scripts/test as root) with useradd and runuser",
        allow_module_level=True,
    )
pytest.importorskip("eth_tester")
pytest.importorskip("vyper")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "settlement"))
from evm_node import Node  # noqa: E402
from evm_seller import PAY_TO, PRICE, VALIDITY_SECONDS, Seller  # noqa: E402

from vault_setup import Users, Vault, front, grant, run_client  # noqa: E402

MINTED = 1_000_000


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


@pytest.fixture(scope="module")
def users() -> Any:
    created = Users()
    yield created
    created.remove()


def evm_vault(users: Users, purser_bin: str, node: Node, seller: Seller) -> Vault:
    manifest = {
        "name": "weather",
        "description": "Paid weather.",
        "purpose": "data.weather",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        "upstream": {"method": "GET", "url": seller.url + "/paid", "timeoutSeconds": 20},
        "price": {"amount": "0.01", "asset": "USDC"},
    }
    limits = {
        "assets": {"USDC": {"decimals": 6, "networks": {node.network: node.token.address}}},
        "sessionDefaults": {"asset": "USDC", "budget": "0.03", "ttl": "1h"},
        "limits": {"USDC": {"perCall": "1.00"}},
        "allow": {"networks": [node.network], "assets": ["USDC"], "payees": [PAY_TO]},
    }
    vault = Vault(
        users, purser_bin, seller.url, manifests=[manifest],
        policies={"calls.cedar": "permit (principal, action, resource);"}, limits=limits,
        nodes={"nodes": {node.network: {"url": node.url}}},
    )
    node.mint(vault.address, MINTED)
    return vault


def call_through_the_vault(vault: Vault) -> dict[str, Any]:
    async def scenario():
        async with front(vault, "legacy") as client:
            return await client.call_tool("weather", {})

    return run_client(scenario).model_dump(by_alias=True, mode="json", exclude_none=True)


def states(vault: Vault) -> list[tuple[str, str | None, str | None]]:
    """(state, evidence, release reason) per payment, oldest first: read by root, as the owner's admin would."""
    with sqlite3.connect(vault.home / "ledger.sqlite") as db:
        return db.execute("SELECT state, evidence, release_reason FROM reservations ORDER BY created_ms").fetchall()


def test_the_vault_decides_held_payments_with_the_chain_without_the_owner(users, purser_bin, node, seller):
    vault = evm_vault(users, purser_bin, node, seller)
    try:
        grant(vault, "0.03")
        # The seller takes the first payment on chain, then fails its response; the second it never settles.
        seller.mode = "settle_then_fail"
        first = call_through_the_vault(vault)
        seller.mode = "never_settle"
        second = call_through_the_vault(vault)
        assert first.get("isError") and second.get("isError"), (first, second)
        assert [s[0] for s in states(vault)] == ["in_doubt", "in_doubt"]
        assert MINTED - node.balance(vault.address) == int(PRICE)

        # Stopped with SIGTERM, as systemd stops it: a clean stop (within runuser's 2 s grace), the socket removed.
        vault.stop()
        assert "purser vault: stopped" in vault.log.read_text(), vault.log.read_text()
        assert not vault.socket.exists()

        # Past every validBefore on chain; then the vault starts and its first pass decides both: the settled
        # one is spent (verified on chain), the unused one is void and its amount restored. No owner resolve.
        node.wait_past(int(time.time()) + VALIDITY_SECONDS + 3)
        vault.start()
        deadline = time.time() + 60
        while any(state == "in_doubt" for state, _, _ in states(vault)) and time.time() < deadline:
            time.sleep(0.2)
        assert states(vault) == [("committed", "verified", None), ("released", None, "unused_on_chain")], (
            vault.log.read_text()
        )
        assert "purser vault: reconcile: 1 verified, 1 void" in vault.log.read_text()
        session = vault.sessions()[0]
        assert (Decimal(session["spent"]), Decimal(session["remaining"])) == (Decimal("0.01"), Decimal("0.02")), session
        assert MINTED - node.balance(vault.address) == int(PRICE)
        vault.verify()
    finally:
        vault.close()
