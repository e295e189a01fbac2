"""`purser wallet`: the key file it creates is owner-only, and the printed address is the key's (eth_account)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from eth_account import Account

ROOT = Path(__file__).resolve().parents[3]
PURSER_BIN = os.environ.get("PURSER_BIN", str(ROOT / ".build" / "release" / "purser"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PURSER_BIN, "wallet", *args], capture_output=True, text=True, timeout=30)


def test_wallet_new_prints_only_the_address_of_an_owner_only_key(tmp_path):
    home = tmp_path / "home"
    created = run("new", "--home", str(home))
    assert created.returncode == 0, created.stderr
    key_file = home / "wallet.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    address = Account.from_key(key).address
    assert created.stdout.strip() == address
    assert key.removeprefix("0x") not in created.stdout + created.stderr

    shown = run("address", "--home", str(home))
    assert shown.returncode == 0 and shown.stdout.strip() == address

    again = run("new", "--home", str(home))
    assert again.returncode != 0
    assert key_file.read_text().strip() == key
    assert "already exists" in again.stderr

    key_file.chmod(0o644)
    refused = run("address", "--home", str(home))
    assert refused.returncode != 0
    assert "owner-only" in refused.stderr
    assert key.removeprefix("0x") not in refused.stdout + refused.stderr


def test_wallet_signer_command_writes_the_configuration(tmp_path):
    home = tmp_path / "home"
    address = Account.from_key(b"\x01" * 32).address
    configured = run("signer", "command", "/bin/true", "--address", address, "--home", str(home))
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.strip() == address
    assert stat.S_IMODE((home / "signer.json").stat().st_mode) == 0o600
    assert run("address", "--home", str(home)).stdout.strip() == address
    missing = run("signer", "command", "/bin/true", "--home", str(home))
    assert missing.returncode == 64
