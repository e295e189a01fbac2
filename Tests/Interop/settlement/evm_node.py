"""A real EVM for the settlement suite: py-evm (eth-tester) behind an Ethereum JSON-RPC endpoint on
loopback, and an EIP-3009 token with the USDC domain compiled at test time with vyper.

Everything here is the real thing Purser's `Chain` module and the official x402 facilitator talk to:
JSON-RPC over HTTP, real transactions, real receipts and logs, real `authorizationState`.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import vyper
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

HERE = Path(__file__).resolve().parent


def _plain(value: Any) -> Any:
    """web3/eth-tester values (HexBytes, AttributeDict) as JSON-RPC wire values."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    return value


class Node:
    """py-evm with a JSON-RPC HTTP endpoint on 127.0.0.1, plus a deployed EIP-3009 USDC-like token."""

    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.provider = EthereumTesterProvider(self.tester)
        self.w3 = Web3(self.provider)
        self.chain_id = self.w3.eth.chain_id
        self.network = f"eip155:{self.chain_id}"
        self.lock = threading.RLock()
        self.unreachable = False
        self.requests = 0  # HTTP POSTs
        self.calls = 0  # JSON-RPC calls (a batch POST carries many)
        self.batch_refusal: tuple[int, Any] | None = None  # (status, body) answered to every batch, when set
        keys = self.tester.backend.account_keys
        self.deployer_key = "0x" + bytes(keys[0]).hex() if not isinstance(keys[0], str) else keys[0]
        self.facilitator_key = self._key(1)
        self.deployer = self.w3.eth.accounts[0]
        self.w3.eth.default_account = self.deployer
        self.token = self._deploy()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _key(self, index: int) -> str:
        key = self.tester.backend.account_keys[index]
        text = key.to_hex() if hasattr(key, "to_hex") else str(key)
        return text if text.startswith("0x") else "0x" + text

    def _deploy(self) -> Any:
        source = (HERE / "EIP3009Token.vy").read_text()
        compiled = vyper.compile_code(source, output_formats=["abi", "bytecode"])
        contract = self.w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
        tx = contract.constructor().transact({"from": self.deployer})
        address = self.w3.eth.get_transaction_receipt(tx)["contractAddress"]
        return self.w3.eth.contract(address=address, abi=compiled["abi"])

    # -- what tests do to the chain ---------------------------------------------------------------
    def mint(self, to: str, amount: int) -> None:
        with self.lock:
            self.token.functions.mint(Web3.to_checksum_address(to), amount).transact({"from": self.deployer})

    def balance(self, address: str) -> int:
        with self.lock:
            return self.token.functions.balanceOf(Web3.to_checksum_address(address)).call()

    def now(self) -> int:
        with self.lock:
            return self.w3.eth.get_block("latest")["timestamp"]

    def wait_past(self, unix_seconds: int) -> None:
        """Waits in real time (Purser signs with the system clock) until `unix_seconds`, then makes sure the
        latest block is at least that late. The chain never runs ahead of the wall clock by more than the
        one second per block eth-tester adds, so authorizations signed afterwards are still valid on it."""
        while time.time() < unix_seconds:
            time.sleep(0.2)
        with self.lock:
            if self.now() < unix_seconds:
                self.tester.time_travel(unix_seconds)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the JSON-RPC endpoint --------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                if node.unreachable:
                    self.send_response(503)
                    self.end_headers()
                    return
                status = 200
                with node.lock:
                    node.requests += 1
                    if isinstance(body, list) and node.batch_refusal is not None:
                        status, answers = node.batch_refusal
                    elif isinstance(body, list):
                        node.calls += len(body)
                        answers = [self._one(r) for r in body]
                    else:
                        node.calls += 1
                        answers = self._one(body)
                data = json.dumps(answers).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _one(self, request: dict[str, Any]) -> dict[str, Any]:
                # web3's own request and result formatters turn eth-tester's Python values into what a
                # node would send; `_plain` then writes quantities and bytes as JSON-RPC hex.
                answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
                try:
                    method, params = request["method"], tuple(request.get("params", []))
                    if method == "eth_getLogs":  # web3's raw request path mis-formats filter topics
                        result = node.w3.eth.get_logs(params[0])
                    else:
                        result = node.w3.manager.request_blocking(method, params)
                    answer["result"] = _plain(result)
                except Exception as error:  # a revert or a bad request: a JSON-RPC error, as a node answers
                    answer["error"] = {"code": -32000, "message": str(error)[:500]}
                return answer

        return Handler
