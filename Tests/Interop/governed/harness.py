"""A throwaway Purser installation around the governed peer: tools/, policies/, a state home with a wallet
and a session, the CLI, and the official MCP client (`mcp==2.3.0`) driving `purser serve`.

Every test gets its own installation (its own wallet, so the fake chain's transfers *from that wallet* are
exactly what that test paid), while the peer is shared by the module.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters

from governed_peer import OTHER_PAYEE, PAY_TO

AGENT = "alice"
CHEAP, EXPENSIVE = "0.01", "0.20"
APPROVAL_ABOVE = "0.10"  # between the cheap and the expensive route
PAY_CEILING = "0.50"  # the Cedar per-call ceiling
HOSTILE = ["swap", "pricey", "unserviceable", "second_402", "settle_fail", "redirect_first", "redirect_paid", "hang", "slow", "reprice"]
TOOL_TIMEOUT_SECONDS = 2

CALL_POLICY = """\
// Alice may call every tool except the one forbidden below.
@id("alice-may-call")
permit (principal == Agent::"alice", action == Action::"call_tool", resource);

@id("forbidden-data-is-off-limits")
forbid (principal, action == Action::"call_tool", resource == Tool::"forbidden_data");
"""

PAY_POLICY = f"""\
@id("alice-may-pay")
permit (principal == Agent::"alice", action == Action::"pay", resource);

// Only allowlisted payees, guarded with `has` so a missing attribute denies.
@id("payee-allowlist")
forbid (principal, action == Action::"pay", resource)
unless {{ context has payTo && ["{PAY_TO}"].contains(context.payTo) }};

@id("per-call-ceiling")
forbid (principal, action == Action::"pay", resource)
unless {{ context has amount && context.amount.lessThanOrEqual(decimal("{PAY_CEILING}")) }};
"""

LIMITS = {
    "assets": {"USDC": {"decimals": 6, "networks": {"eip155:84532": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}}},
    "sessionDefaults": {"asset": "USDC", "budget": "1.00", "ttl": "1h"},
    "limits": {
        "USDC": {
            "perCall": "1.00",
            "perTool": {},
            "velocity": {"window": "1h", "maxPayments": 100, "maxAmount": "10.00"},
            "approvalAbove": APPROVAL_ABOVE,
        }
    },
    # Both payees pass the limits allowlist, so a swapped payee is stopped by the Cedar pay policy (step 6).
    "allow": {"networks": ["eip155:84532"], "assets": ["USDC"], "payees": [PAY_TO, OTHER_PAYEE]},
}

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1}},
    "required": ["city"],
    "additionalProperties": False,
}


def canonical_digest(arguments: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (RFC 8785 for these plain ASCII objects: sorted keys, no whitespace)."""
    text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def tool(name: str, url: str, price: str | None, timeout: int = 10) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "name": name,
        "description": f"Weather report ({name}).",
        "inputSchema": CITY_SCHEMA,
        "upstream": {"method": "GET", "url": url, "query": {"city": "city"}, "timeoutSeconds": timeout},
        "purpose": "data.weather",
    }
    if price is not None:
        manifest["price"] = {"amount": price, "asset": "USDC"}
    return manifest


@dataclass
class Installation:
    """tools/, policies/ and a state home in `root`, for the peer at `peer_url`."""

    root: Path
    purser: str
    peer_url: str
    address: str = ""
    stderr_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.tools = self.root / "tools"
        self.policies = self.root / "policies"
        self.home = self.root / "home"
        self.stderr_file = self.root / "serve.stderr"
        self.tools.mkdir(parents=True)
        self.policies.mkdir()
        manifests = [
            tool("weather_cheap", self.peer_url + "/paid/cheap", CHEAP),
            tool("weather_expensive", self.peer_url + "/paid/expensive", EXPENSIVE),
            tool("forbidden_data", self.peer_url + "/paid/cheap", CHEAP),
            tool("weather_v1", self.peer_url + "/v1/cheap", CHEAP),
        ]
        for name in HOSTILE:
            manifests.append(tool("h_" + name, f"{self.peer_url}/h/{name}", CHEAP, timeout=TOOL_TIMEOUT_SECONDS))
        for manifest in manifests:
            (self.tools / f"{manifest['name']}.json").write_text(json.dumps(manifest, indent=2))
        (self.policies / "calls.cedar").write_text(CALL_POLICY)
        (self.policies / "payments.cedar").write_text(PAY_POLICY)
        (self.policies / "limits.json").write_text(json.dumps(LIMITS, indent=2))
        self.address = self.cli("wallet", "new").stdout.strip()
        assert self.address.startswith("0x") and len(self.address) == 42, self.address

    # -- the end user's command line -------------------------------------------------------------------
    def cli(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [self.purser, *arguments, "--home", str(self.home)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=self.root,
            env={**os.environ, "PURSER_HOME": str(self.home)},
        )
        if check:
            assert completed.returncode == 0, f"purser {' '.join(arguments)}: {completed.stderr}"
        return completed

    def grant(self, budget: str, *extra: str) -> str:
        out = self.cli("session", "grant", "--agent", AGENT, "--budget", budget, "--policies", str(self.policies), *extra)
        return out.stdout

    def sessions(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("session", "list", "--json").stdout)

    def report(self) -> dict[str, Any]:
        return json.loads(self.cli("report", "--json").stdout)

    def verify(self) -> str:
        completed = self.cli("ledger", "verify", check=False)
        assert completed.returncode == 0, f"ledger verify failed: {completed.stdout}{completed.stderr}"
        return completed.stdout

    def refusals(self) -> dict[str, int]:
        return {row["reason"]: row["count"] for row in self.report()["refusals"]}

    def key_hex(self) -> str:
        """The wallet key's hex digits, only to prove they never appear in any output."""
        for path in self.home.iterdir():
            text = path.read_text(errors="replace").strip() if path.is_file() else ""
            digits = text[2:] if text.startswith("0x") else text
            if len(digits) == 64 and all(c in "0123456789abcdefABCDEF" for c in digits):
                return digits.lower()
        raise AssertionError("no key file in the home")

    # -- the agent's side: the official MCP client -----------------------------------------------------
    def client(self, mode: str, elicitation: Any = None, stray: list[Any] | None = None) -> Client:
        async def handler(message: Any) -> None:
            if isinstance(message, Exception) and stray is not None:
                stray.append(message)

        # stderr goes to a file, so the suite can show it on failure and check that no key leaks there.
        params = StdioServerParameters(
            command="/bin/sh",
            args=[
                "-c",
                'exec "$0" "$@" 2>>"$E2E_STDERR"',
                self.purser,
                "serve",
                "--agent",
                AGENT,
                "--tools",
                str(self.tools),
                "--policies",
                str(self.policies),
                "--home",
                str(self.home),
            ],
            env={"E2E_STDERR": str(self.stderr_file), "PURSER_HOME": str(self.home)},
            cwd=str(self.root),
        )
        return Client(
            params,
            mode=mode,
            read_timeout_seconds=20,
            cache=None,
            message_handler=handler,
            elicitation_callback=elicitation,
            client_info=types.Implementation(name="purser-e2e", version="0"),
        )

    def stderr(self) -> str:
        return self.stderr_file.read_text(errors="replace") if self.stderr_file.exists() else ""


def wire(result: Any) -> dict[str, Any]:
    """A result in its wire form (with `_meta`, `isError`, `structuredContent`)."""
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


def error_code(result: Any) -> str | None:
    data = wire(result)
    if not data.get("isError"):
        return None
    return (data.get("structuredContent") or {}).get("error")
