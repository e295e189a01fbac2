"""Helper for `purser-bench x402` (not a test): the SDK peer with per-request server timing, and the
official Python client paying it.

    python bench_peer.py serve          prints the base URL, serves until stdin closes
    python bench_peer.py client URL N   pays URL N times with x402_requests + EthAccountSigner, prints JSON
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def serve() -> None:
    from x402_peer import Peer

    peer = Peer()
    lock = threading.Lock()
    server_ns: list[int] = []
    inner = peer.app.wsgi_app

    def timed(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_stats"):
            with lock:
                if path == "/_stats/reset":
                    server_ns.clear()
                    body = b"{}"
                else:
                    body = json.dumps({"count": len(server_ns), "total_ns": sum(server_ns)}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        started = time.perf_counter_ns()
        # Buffer the body so the measured time covers the whole handler, settlement included.
        chunks = list(inner(environ, start_response))
        elapsed = time.perf_counter_ns() - started
        with lock:
            server_ns.append(elapsed)
        return chunks

    peer.app.wsgi_app = timed
    print(peer.url, flush=True)
    sys.stdin.read()
    peer.close()


def client(url: str, count: int) -> None:
    from eth_account import Account
    from x402 import x402ClientSync
    from x402.http.clients import x402_requests
    from x402.mechanisms.evm import EthAccountSigner
    from x402.mechanisms.evm.exact.register import register_exact_evm_client

    account = Account.from_key(b"\x07" * 32)
    sdk = x402ClientSync()
    register_exact_evm_client(sdk, EthAccountSigner(account))
    base = url.rsplit("/", 1)[0]
    totals: list[float] = []
    with x402_requests(sdk) as session:
        for index in range(count + 5):
            if index == 5:
                urllib.request.urlopen(base + "/_stats/reset").read()
            started = time.perf_counter_ns()
            response = session.get(url)
            elapsed = time.perf_counter_ns() - started
            if response.status_code != 200 or "PAYMENT-RESPONSE" not in response.headers:
                raise SystemExit(f"python client payment failed: {response.status_code}")
            if index >= 5:
                totals.append(elapsed / 1e6)
    stats = json.loads(urllib.request.urlopen(base + "/_stats").read())
    print(json.dumps({
        "count": len(totals),
        "mean_ms": statistics.fmean(totals),
        "p50_ms": statistics.median(totals),
        "server_mean_ms": stats["total_ns"] / 1e6 / len(totals),
    }))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    else:
        client(sys.argv[2], int(sys.argv[3]))
