"""Purser's x402 client (through `purser-interop x402-pay`) paying the official x402 Python SDK server.

The server is the SDK's Flask middleware with its real facilitator on a fake chain (x402_peer.py), on
127.0.0.1. Covers v2 and v1 payments and the conformance table of x402.md §6.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

sys.path.insert(0, str(Path(__file__).parent))
from x402_peer import PAY_TO, USDC, Peer  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
INTEROP_BIN = os.environ.get("PURSER_INTEROP_BIN", str(ROOT / ".build" / "release" / "purser-interop"))
# A fixed, throwaway test key (deterministic runs); never a real wallet.
KEY = bytes.fromhex("5f0a5e2c7b9d4e3f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081")
PAYER = Account.from_key(KEY).address


@pytest.fixture(scope="module")
def peer():
    server = Peer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("wallet") / "wallet.key"
    path.write_text("0x" + KEY.hex() + "\n")
    path.chmod(0o600)
    return str(path)


def pay(url: str, key_file: str, *extra: str) -> dict:
    completed = subprocess.run(
        [INTEROP_BIN, "x402-pay", "--url", url, "--key-file", key_file, *extra],
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert KEY.hex() not in completed.stdout + completed.stderr
    return json.loads(completed.stdout)


def decode_settlement(outcome: dict) -> dict:
    return outcome["settlement"]


def test_v2_payment_is_accepted_and_settled(peer, key_file):
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + "/weather", key_file)
    assert outcome["outcome"] == "paid", outcome
    assert outcome["status"] == 200
    assert json.loads(outcome["body"])["report"]["weather"] == "sunny"
    settlement = decode_settlement(outcome)
    assert settlement["success"] is True
    assert settlement["network"] == "eip155:84532"
    assert settlement["payer"].lower() == PAYER.lower()
    transfer = peer.chain.transfers[before]
    assert transfer["to"].lower() == PAY_TO.lower()
    assert transfer["value"] == 10000
    assert transfer["nonce"] == outcome["nonce"]
    assert settlement["transaction"].startswith("0x") and len(settlement["transaction"]) == 66


def test_v1_payment_is_accepted_and_settled(peer, key_file):
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + "/v1/weather", key_file)
    assert outcome["outcome"] == "paid", outcome
    assert outcome["status"] == 200
    assert outcome["network"] == "base-sepolia"
    settlement = decode_settlement(outcome)
    assert settlement["success"] is True
    assert settlement["network"] == "base-sepolia"
    assert peer.chain.transfers[before]["value"] == 10000
    assert int(outcome["validBefore"]) - int(outcome["validAfter"]) == 600 + 60


def test_time_window_follows_the_offer(peer, key_file):
    outcome = pay(peer.url + "/weather", key_file)
    assert outcome["outcome"] == "paid", outcome
    # validAfter = now − 600, validBefore = now + min(maxTimeoutSeconds = 300, cap = 600).
    assert int(outcome["validBefore"]) - int(outcome["validAfter"]) == 600 + 300


def test_free_route_pays_nothing(peer, key_file):
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + "/free", key_file)
    assert outcome["outcome"] == "noPaymentRequired"
    assert outcome["status"] == 200
    assert len(peer.chain.transfers) == before


def test_offer_above_the_maximum_is_refused_before_signing(peer, key_file):
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + "/weather", key_file, "--max-amount", "9999")
    assert outcome["outcome"] == "refusedBeforeSigning"
    assert outcome["code"] == "noPayableOffer"
    assert any("amountAboveMaximum" in r for r in outcome["rejections"])
    assert len(peer.chain.transfers) == before


def test_unlisted_asset_is_refused_before_signing(peer, key_file):
    outcome = pay(peer.url + "/weather", key_file, "--asset", "8453:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")
    assert outcome["outcome"] == "refusedBeforeSigning"
    assert any("assetNotAllowed" in r for r in outcome["rejections"])


# x402.md §6: mutations of an otherwise correct v2 payment, and what the official server answers.
MUTATIONS = [
    ("domain-name:USD Coin", "invalid_exact_evm_payload_signature"),
    ("domain-version:1", "invalid_exact_evm_payload_signature"),
    ("chain-id:8453", "invalid_exact_evm_payload_signature"),
    ("value:-1", "invalid_exact_evm_payload_authorization_value_mismatch"),
    ("value:1", "invalid_exact_evm_payload_authorization_value_mismatch"),
    ("valid-before:-10", "invalid_exact_evm_payload_authorization_valid_before"),
    ("valid-before:5", "invalid_exact_evm_payload_authorization_valid_before"),
    ("valid-after:60", "invalid_exact_evm_payload_authorization_valid_after"),
    ("accepted-payto-lower", "No matching payment requirements"),
]


@pytest.mark.parametrize("mutation,reason", MUTATIONS)
def test_mutated_payment_is_refused_with_the_listed_reason(peer, key_file, mutation, reason):
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + "/weather", key_file, "--mutate", mutation)
    assert outcome["outcome"] == "failedAfterSigning", outcome
    assert outcome["code"] == "paymentRejected"
    assert outcome["reason"] == reason
    assert outcome["status"] == 402
    assert len(peer.chain.transfers) == before


@pytest.mark.parametrize("route,reason", [
    ("/weather", "invalid_exact_evm_nonce_already_used"),
    ("/v1/weather", "invalid_exact_evm_nonce_already_used"),
])
def test_replayed_payment_is_refused(peer, key_file, route, reason):
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + route, key_file, "--mutate", "replay")
    assert outcome["first"]["outcome"] == "paid", outcome
    assert outcome["outcome"] == "failedAfterSigning"
    assert outcome["reason"] == reason
    assert len(peer.chain.transfers) == before + 1


def test_validity_beyond_max_timeout_is_accepted(peer, key_file):
    outcome = pay(peer.url + "/weather", key_file, "--mutate", "valid-before:3600", "--validity-cap", "3600")
    assert outcome["outcome"] == "paid", outcome


def test_failed_settlement_is_failed_after_signing(peer, key_file):
    peer.chain.fail_next_write = "ERC20: transfer amount exceeds balance"
    before = len(peer.chain.transfers)
    outcome = pay(peer.url + "/weather", key_file)
    assert outcome["outcome"] == "failedAfterSigning", outcome
    assert outcome["code"] == "settlementFailed"
    assert outcome["reason"] == "invalid_exact_evm_insufficient_balance"
    assert outcome["status"] == 402
    assert len(peer.chain.transfers) == before


def test_command_signer_with_eth_account_pays(peer, tmp_path):
    """The external-signer contract: eth_account signs the typed data Purser writes on stdin."""
    script = tmp_path / "sign.py"
    script.write_text(
        "#!" + sys.executable + "\n"
        "import json, os, sys\n"
        "from eth_account import Account\n"
        "key = open(os.environ['PURSER_TEST_SIGNER_KEY']).read().strip()\n"
        "typed = json.load(sys.stdin)\n"
        "print('0x' + Account.sign_typed_data(key, full_message=typed).signature.hex().removeprefix('0x'))\n"
    )
    script.chmod(0o700)
    key_path = tmp_path / "k"
    key_path.write_text(KEY.hex())
    key_path.chmod(0o600)
    completed = subprocess.run(
        [INTEROP_BIN, "x402-pay", "--url", peer.url + "/weather", "--signer", "command",
         "--signer-command", str(script), "--address", PAYER],
        capture_output=True, timeout=60, text=True,
        env={**os.environ, "PURSER_TEST_SIGNER_KEY": str(key_path)},
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout)
    assert outcome["outcome"] == "paid", outcome


def test_paid_call_through_a_forward_proxy(peer, key_file, tmp_path):
    """The 402 and the paid retry both go through tinyproxy (HTTP_PROXY, absolute form) and settle."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "http"))
    import servers  # noqa: PLC0415

    try:
        proxy = servers.Tinyproxy(tmp_path)
    except FileNotFoundError:
        pytest.skip("tinyproxy is not installed (scripts/test installs tinyproxy-bin with apt-get)")
    try:
        before = len(peer.chain.transfers)
        environment = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "no_proxy")}
        completed = subprocess.run(
            [INTEROP_BIN, "x402-pay", "--url", peer.url + "/weather", "--key-file", key_file, "--proxy-loopback", "1"],
            capture_output=True,
            timeout=60,
            text=True,
            env={**environment, "HTTP_PROXY": proxy.url()},
        )
        assert completed.returncode == 0, completed.stderr
        outcome = json.loads(completed.stdout)
        assert outcome["outcome"] == "paid", outcome
        assert outcome["settlement"]["success"] is True
        assert len(peer.chain.transfers) == before + 1
        path = peer.url.removeprefix("http://")
        assert proxy.requests().count(f"GET http://{path}/weather HTTP/1.1") == 2
    finally:
        proxy.stop()
