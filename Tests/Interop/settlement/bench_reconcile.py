"""Benchmark: `purser ledger reconcile` over N in-doubt payments against the local py-evm node.

Half of the payments were settled on chain with a real `transferWithAuthorization` (the reconciler finds
each through its `AuthorizationUsed` log and checks the receipt: verified), half were never used and are
past `validBefore` (`authorizationState` false at the final block, which eth-tester names with its head:
void). The in-doubt rows are written straight into the ledger (as the governed call leaves them, without
their audit records), then `purser ledger reconcile --json` runs once and is timed.

The settlements are sent by eth-tester's ten funded accounts, one transaction each per block, ten to a block
(as a busy chain holds many transactions a block), with the gas given rather than estimated: the setup is
eth-tester's, not Purser's, and a block per settlement made it the slow part (0.46 s a settlement) and
stretched the chain to one block per payment.

    python Tests/Interop/settlement/bench_reconcile.py --purser .build/release/purser --count 1000
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evm_node import Node  # noqa: E402

PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purser", required=True)
    parser.add_argument("--count", type=int, default=1000)
    # Below the chain's length, the log search reads headers to find each payment's window and queries the
    # window in ranges of this many blocks (as against a hosted node's range limit).
    parser.add_argument("--max-log-blocks", type=int, default=None)
    args = parser.parse_args()

    node = Node()
    payer = Account.create()
    node.mint(payer.address, 10**12)
    root = Path(tempfile.mkdtemp(prefix="purser-bench-reconcile-"))
    home, policies = root / "home", root / "policies"
    policies.mkdir(parents=True)
    (policies / "limits.json").write_text(json.dumps({
        "assets": {"USDC": {"decimals": 6, "networks": {node.network: node.token.address}}},
        "limits": {"USDC": {"perCall": "1.00"}},
        "allow": {"networks": [node.network], "assets": ["USDC"], "payees": [PAY_TO]},
    }))

    def cli(*arguments: str, check: bool = True) -> str:
        env = {**os.environ, "PURSER_HOME": str(home)}
        return subprocess.run([args.purser, *arguments, "--home", str(home)], check=check, capture_output=True,
                              text=True, env=env, cwd=root).stdout

    cli("session", "grant", "--agent", "bench", "--budget", "1000000", "--asset", "USDC",
        "--policies", str(policies))
    session = json.loads(cli("session", "list", "--json"))[0]["id"]
    # eth-tester answers `eth_getLogs` by reading every receipt of the range, and finds each receipt by walking
    # back from the head: over the chain of 1,000 payments one log query takes ~5 s on a quiet machine and
    # over 10 s (the default timeout) on a loaded one. A production node indexes logs; this one gets 60 s.
    entry: dict[str, object] = {"url": node.url, "timeoutSeconds": 60}
    if args.max_log_blocks is not None:
        entry["maxLogBlocks"] = args.max_log_blocks
    (home / "nodes.json").write_text(json.dumps({"nodes": {node.network: entry}}))

    domain = {"name": "USDC", "version": "2", "chainId": node.chain_id, "verifyingContract": node.token.address}
    types = {"TransferWithAuthorization": [
        {"name": "from", "type": "address"}, {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"}, {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"}, {"name": "nonce", "type": "bytes32"}]}
    now = node.now()
    rows = []
    relayers = list(node.w3.eth.accounts)
    node.tester.disable_auto_mine_transactions()
    pending = 0
    started = time.time()
    for index in range(args.count):
        nonce = "0x" + secrets.token_hex(32)
        settled = index % 2 == 0
        valid_before = now + 3600 if settled else now - 1
        if settled:
            message = {"from": payer.address, "to": PAY_TO, "value": 10_000, "validAfter": 0,
                       "validBefore": valid_before, "nonce": bytes.fromhex(nonce[2:])}
            signed = Account.sign_typed_data(payer.key, domain, types, message)
            with node.lock:
                # eth-tester keeps one pending transaction per sender: a block takes one from each relayer.
                node.token.functions.transferWithAuthorization(
                    payer.address, PAY_TO, 10_000, 0, valid_before, bytes.fromhex(nonce[2:]),
                    signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"),
                ).transact({"from": relayers[pending], "gas": 200_000})
                pending += 1
                if pending == len(relayers):
                    node.tester.mine_blocks(1)
                    pending = 0
        rows.append((f"res_bench{index:06d}", session, "bench", "weather", PAY_TO, node.network, "USDC", 10_000,
                     "in_doubt", "data.weather", "digest", "bench-owner", index, index, valid_before,
                     nonce, payer.address, node.token.address))
    with node.lock:
        node.tester.mine_blocks(1)
        node.tester.enable_auto_mine_transactions()
    setup = time.time() - started
    settled_on_chain = (node.balance(PAY_TO), len(rows[::2]) * 10_000)
    assert settled_on_chain[0] == settled_on_chain[1], f"settled on chain {settled_on_chain}"
    with sqlite3.connect(home / "ledger.sqlite") as db:
        db.executemany(
            "INSERT INTO reservations(id, session_id, agent, tool, payee, network, asset, amount, state, purpose, "
            "args_digest, owner, created_ms, updated_ms, valid_before, nonce, authorizer, token) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    node.requests = node.calls = 0
    load_before = os.getloadavg()[0]
    started = time.time()
    summary = json.loads(cli("ledger", "reconcile", "--json", check=False))  # exit 2 when some failed
    wall = time.time() - started
    load_after = os.getloadavg()[0]
    print(json.dumps({
        "payments": args.count, "verified": len(summary["verified"]), "voided": len(summary["voided"]),
        "pending": len(summary["pending"]), "failed": len(summary["failed"]),
        "reconcile_seconds_reported": summary["seconds"], "process_wall_seconds": round(wall, 3),
        "per_payment_ms": round(wall * 1000 / args.count, 3), "node_requests": node.requests,
        "node_calls": node.calls, "blocks": node.w3.eth.block_number, "setup_seconds": round(setup, 1),
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "failure_reasons": sorted(set(summary["failed"].values()))[:5],
    }, indent=1))
    node.close()


if __name__ == "__main__":
    main()
