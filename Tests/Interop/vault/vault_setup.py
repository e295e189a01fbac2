"""A vault installation with real OS users (root only): the vault's user owns the home with the wallet, the
ledger and the owner record; an agent user may only connect to the socket; the suite itself plays the
owner and the MCP client.

Users and groups get unique names and are removed afterwards. The binary is copied to a directory every
user can read, since the build tree may not be.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from eth_account import Account
from mcp import Client, StdioServerParameters
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "governed"))
from harness import CALL_POLICY, LIMITS, PAY_POLICY, tool, CHEAP, EXPENSIVE  # noqa: E402

PASSPHRASE = "the owner's long passphrase, typed at a terminal"
ITERATIONS = 600_000  # the default work factor


def run(*argv: str, user: str | None = None, stdin: str | None = None, check: bool = True, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    command = list(argv) if user is None else ["runuser", "-u", user, "--", *argv]
    completed = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout,
        # No controlling terminal: like an agent's tool process (start_new_session detaches it from ours).
        start_new_session=True, stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    if check:
        assert completed.returncode == 0, f"{command}: {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    return completed


class Users:
    """A vault user, an agent user, a stranger, and the socket group the agent is in."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.vault, self.agent, self.stranger, self.group = f"pv{tag}v", f"pv{tag}a", f"pv{tag}s", f"pv{tag}g"
        run("groupadd", self.group)
        run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.vault)
        run("useradd", "--no-create-home", "--shell", "/bin/sh", "-G", self.group, self.agent)
        run("useradd", "--no-create-home", "--shell", "/bin/sh", self.stranger)

    def remove(self) -> None:
        for user in (self.vault, self.agent, self.stranger):
            subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", self.group], capture_output=True)


class Vault:
    """The directories, the vault process and the owner's tools."""

    def __init__(
        self, users: Users, purser_bin: str, peer_url: str, *, manifests: list[dict[str, Any]] | None = None,
        policies: dict[str, str] | None = None, limits: dict[str, Any] | None = None,
        nodes: dict[str, Any] | None = None, ledger: str | None = None,
    ) -> None:
        """The governed peer's tools and policies unless told otherwise; `nodes` is written as the home's
        nodes.json before the vault starts; `ledger` (a postgres:// URL without password) replaces the home's
        SQLite ledger, the password reaching the vault through PGPASSWORD in its environment."""
        self.users = users
        self.ledger_args = ["--ledger", ledger] if ledger else []
        self.base = Path(tempfile.mkdtemp(prefix="purser-vault-"))
        os.chmod(self.base, 0o755)
        self.bin = self.base / "purser"
        shutil.copy(purser_bin, self.bin)
        os.chmod(self.bin, 0o755)
        self.home = self.base / "home"
        self.tools = self.base / "tools"
        self.policies = self.base / "policies"
        self.run_dir = self.base / "run"
        self.socket = self.run_dir / "vault.sock"
        self.log = self.base / "vault.log"
        # Tools and policies: root's, readable by the vault, writable by nobody else.
        self.tools.mkdir()
        self.policies.mkdir()
        for manifest in manifests or [
            tool("weather_cheap", peer_url + "/paid/cheap", CHEAP),
            tool("weather_expensive", peer_url + "/paid/expensive", EXPENSIVE),
        ]:
            (self.tools / f"{manifest['name']}.json").write_text(json.dumps(manifest))
        for name, text in (policies or {"calls.cedar": CALL_POLICY, "payments.cedar": PAY_POLICY}).items():
            (self.policies / name).write_text(text)
        (self.policies / "limits.json").write_text(json.dumps(limits or LIMITS))
        # The home: the vault user's alone.
        vault_pw = pwd.getpwnam(users.vault)
        self.home.mkdir(mode=0o700)
        os.chown(self.home, vault_pw.pw_uid, vault_pw.pw_gid)
        # The socket directory: setgid to the socket group, so the socket (0660) is the group's to connect to.
        self.run_dir.mkdir()
        os.chown(self.run_dir, vault_pw.pw_uid, grp.getgrnam(users.group).gr_gid)
        os.chmod(self.run_dir, 0o2750)
        self.address = self.as_vault("wallet", "new", "--home", str(self.home)).stdout.strip()
        out = self.as_vault(
            "vault", "init", "--home", str(self.home), *self.ledger_args, "--iterations", str(ITERATIONS),
            "--insecure-passphrase-stdin",
            stdin=PASSPHRASE + "\n",
        ).stdout
        assert "PBKDF2-HMAC-SHA256" in out and str(ITERATIONS) in out, out
        agents = json.dumps({"version": 1, "users": {users.agent: ["alice"]}})
        self.as_vault("sh", "-c", f"umask 077; cat > {self.home}/agents.json", stdin=agents, raw=True)
        if nodes is not None:
            self.as_vault("sh", "-c", f"umask 077; cat > {self.home}/nodes.json", stdin=json.dumps(nodes), raw=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def as_vault(self, *argv: str, stdin: str | None = None, raw: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(argv) if raw else [str(self.bin), *argv]
        return run(*command, user=self.users.vault, stdin=stdin, check=check)

    def as_agent(self, *argv: str, stdin: str | None = None, raw: bool = False) -> subprocess.CompletedProcess[str]:
        command = list(argv) if raw else [str(self.bin), *argv]
        return run(*command, user=self.users.agent, stdin=stdin, check=False)

    def start(self) -> None:
        # A killed vault leaves its socket file behind; wait for the new one, not the stale one.
        self.socket.unlink(missing_ok=True)
        log = open(self.log, "ab")
        self.process = subprocess.Popen(
            ["runuser", "-u", self.users.vault, "--", str(self.bin), "vault", "run", "--home", str(self.home),
             "--socket", str(self.socket), "--tools", str(self.tools), "--policies", str(self.policies),
             *self.ledger_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        deadline = time.time() + 30
        while not self.socket.exists():
            assert self.process.poll() is None, "the vault exited:\n" + self.log.read_text()
            assert time.time() < deadline, "the vault did not listen:\n" + self.log.read_text()
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to `runuser`, which passes it on to the vault (and SIGKILLs it 2 s later)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- what root (the owner's administrator) reads, for the assertions ------------------------------
    def sessions(self) -> list[dict[str, Any]]:
        return json.loads(run(str(self.bin), "session", "list", "--json", "--home", str(self.home), *self.ledger_args).stdout)

    def report(self) -> dict[str, Any]:
        return json.loads(run(str(self.bin), "report", "--json", "--home", str(self.home), *self.ledger_args).stdout)

    def verify(self) -> str:
        return run(str(self.bin), "ledger", "verify", "--home", str(self.home), *self.ledger_args).stdout

    def owner_record(self) -> dict[str, Any]:
        return json.loads((self.home / "owner.json").read_text())


# -- the vault protocol, spoken by hand ------------------------------------------------------------------

class Wire:
    """One raw connection to the vault socket (as root, or as whoever runs this)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, frame: dict[str, Any]) -> None:
        body = json.dumps(frame).encode()
        self.send_raw(struct.pack(">I", len(body)) + body)

    def receive(self) -> dict[str, Any] | None:
        header = self._exactly(4)
        if header is None:
            return None
        (length,) = struct.unpack(">I", header)
        body = self._exactly(length)
        return None if body is None else json.loads(body)

    def _exactly(self, count: int) -> bytes | None:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def owner_key(record: dict[str, Any], passphrase: str) -> bytes:
    """The owner key as the record says to derive it, with Python's own PBKDF2 (an independent implementation)."""
    kdf = record["kdf"]
    assert kdf["algorithm"] == "pbkdf2-hmac-sha256"
    salt = b"purser-owner-key-v1" + bytes.fromhex(kdf["salt"])
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, kdf["iterations"], 32)


def signed_request(key: bytes, action: str, params: dict[str, Any], *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, Any]:
    body = {
        "action": action, "params": params, "nonce": nonce or secrets.token_hex(16),
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    digest = keccak(b"\x19Purser owner request v1\n" + canonical)
    signature = Account.unsafe_sign_hash(digest, key).signature.hex()
    return {"v": 1, **body, "signature": signature if signature.startswith("0x") else "0x" + signature}


def owner_send(vault: Vault, request: dict[str, Any]) -> dict[str, Any]:
    wire = Wire(vault.socket)
    try:
        wire.send({"type": "hello", "v": 1, "role": "owner"})
        welcome = wire.receive()
        assert welcome and welcome["type"] == "welcome", welcome
        wire.send({"type": "owner", "id": 1, "request": request})
        answer = wire.receive()
        assert answer is not None and answer["type"] == "ownerResult", answer
        return answer
    finally:
        wire.close()


# -- the owner and the agent's MCP client, for the scenarios ----------------------------------------------

def grant(vault: Vault, budget: str) -> dict[str, Any]:
    key = owner_key(vault.owner_record(), PASSPHRASE)
    answer = owner_send(vault, signed_request(key, "session.grant", {"agent": "alice", "budget": budget}))
    assert answer["accepted"], answer
    return answer


def run_client(scenario) -> Any:
    try:
        return anyio.run(scenario)
    except BaseExceptionGroup as group:
        inner: BaseException = group
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        raise inner from None


def front(vault: Vault, mode: str, elicitation: Any = None) -> Client:
    """The official MCP client launching `purser serve --vault` as the agent's OS user."""
    params = StdioServerParameters(
        command="runuser",
        args=["-u", vault.users.agent, "--", str(vault.bin), "serve", "--vault", str(vault.socket)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=str(vault.base),
    )
    return Client(
        params, mode=mode, read_timeout_seconds=30, cache=None, elicitation_callback=elicitation,
        client_info=types.Implementation(name="purser-vault-e2e", version="0"),
    )
