"""`purser call` (the real binary) against a seller that signs its receipts with eth-account (EIP-712) or
`cryptography` (ES256K JWS): a valid receipt is shown as the seller's signed word (evidence stays
`claimed`); a tampered one is shown as invalid, the call is not presented as paid and the amount stays held.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from receipt_seller import ASSET, NETWORK, PAY_TO, ReceiptSeller  # noqa: E402

AGENT = "agent-receipts"


@pytest.fixture(scope="module")
def seller() -> Any:
    peer = ReceiptSeller()
    yield peer
    peer.close()


class Install:
    """tools/, policies/, a home with a wallet and a session (no node configured)."""

    def __init__(self, root: Path, purser: str, seller: ReceiptSeller) -> None:
        self.root, self.purser, self.home = root, purser, root / "home"
        (root / "tools").mkdir(parents=True)
        (root / "policies").mkdir()
        manifest = {
            "name": "weather", "description": "Paid weather.", "purpose": "data.weather",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
            "upstream": {"method": "GET", "url": seller.url + "/paid", "timeoutSeconds": 20},
            "price": {"amount": "0.01", "asset": "USDC"},
        }
        (root / "tools" / "weather.json").write_text(json.dumps(manifest))
        (root / "policies" / "calls.cedar").write_text("permit (principal, action, resource);")
        limits = {
            "assets": {"USDC": {"decimals": 6, "networks": {NETWORK: ASSET}}},
            "limits": {"USDC": {"perCall": "1.00"}},
            "allow": {"networks": [NETWORK], "assets": ["USDC"], "payees": [PAY_TO]},
        }
        (root / "policies" / "limits.json").write_text(json.dumps(limits))
        self.cli("wallet", "new")
        self.cli("session", "grant", "--agent", AGENT, "--budget", "0.05", "--asset", "USDC",
                 "--policies", str(root / "policies"))

    def cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [self.purser, *arguments, "--home", str(self.home)], capture_output=True, text=True, timeout=60,
            cwd=self.root, env={**os.environ, "PURSER_HOME": str(self.home)},
        )
        assert completed.returncode == 0, f"purser {' '.join(arguments)}: {completed.stdout}{completed.stderr}"
        return completed

    def call(self) -> dict[str, Any]:
        completed = subprocess.run(
            [self.purser, "call", "weather", "--args", "{}", "--agent", AGENT, "--tools", str(self.root / "tools"),
             "--policies", str(self.root / "policies"), "--home", str(self.home)],
            capture_output=True, text=True, timeout=60, cwd=self.root,
        )
        assert completed.stdout.strip().startswith("{"), completed.stdout + completed.stderr
        return json.loads(completed.stdout)

    def states(self) -> list[tuple[str, str | None, int]]:
        with sqlite3.connect(self.home / "ledger.sqlite") as db:
            return db.execute("SELECT state, evidence, amount FROM reservations ORDER BY created_ms").fetchall()


@pytest.mark.parametrize("mode,format_", [("eip712", "eip712"), ("jws", "jws-es256k")])
def test_signed_receipt_is_shown_as_valid(tmp_path: Path, purser_bin: str, seller: ReceiptSeller, mode: str,
                                          format_: str) -> None:
    seller.mode = mode
    install = Install(tmp_path, purser_bin, seller)
    result = install.call()
    assert not result.get("isError"), result
    receipt = result["_meta"]["com.purser/receipt"]
    assert receipt["sellerReceipt"] == {"status": "valid", "format": format_, "signer": PAY_TO}
    # The seller's signed word, not chain evidence: the settlement is still only claimed.
    assert receipt["settlement"] == "claimed"
    assert install.states() == [("committed", "claimed", 10000)]


def test_tampered_receipt_is_invalid_and_the_amount_stays_held(tmp_path: Path, purser_bin: str,
                                                              seller: ReceiptSeller) -> None:
    seller.mode = "tampered"
    install = Install(tmp_path, purser_bin, seller)
    result = install.call()
    assert result.get("isError"), result.get("_meta", {}).get("com.purser/receipt", {}).get("sellerReceipt")
    assert result["structuredContent"]["error"] == "settlement_contradicted"
    problems = result["structuredContent"]["problems"]
    assert any(p.startswith("seller-signed receipt invalid") for p in problems), problems
    assert "com.purser/receipt" not in result.get("_meta", {})
    assert install.states() == [("contradicted", None, 10000)]


def test_no_receipt_is_shown_as_absent(tmp_path: Path, purser_bin: str, seller: ReceiptSeller) -> None:
    seller.mode = "none"
    install = Install(tmp_path, purser_bin, seller)
    receipt = install.call()["_meta"]["com.purser/receipt"]
    assert receipt["sellerReceipt"] == {"status": "absent"}
