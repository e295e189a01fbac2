"""The official x402 Python SDK (2.25.0) as an offline upstream peer on 127.0.0.1.

v2 route `/weather`: the SDK's Flask payment middleware with its real facilitator (`x402FacilitatorSync`,
`ExactEvmScheme`) on a fake chain. v1 route `/v1/weather`: written by hand on the same facilitator (the
SDK's HTTP server is v2 only). The fake chain re-checks every transfer the way USDC would (EIP-712
signature against the token's true domain, time window, nonce reuse, balance) and can be told to fail
the next settlement.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_abi import decode, encode
from eth_utils import keccak
from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

from x402 import x402FacilitatorSync, x402ResourceServerSync
from x402.http import PaymentOption
from x402.http.middleware.flask import payment_middleware
from x402.http.types import RouteConfig

from x402.mechanisms.evm.exact import ExactEvmServerScheme
from x402.mechanisms.evm.exact.register import register_exact_evm_facilitator
from x402.mechanisms.evm.types import TransactionReceipt
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

CHAIN_ID = 84532
NETWORK = "eip155:84532"
USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
ERC20_TRANSFER_EVENT_TOPIC = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
FACILITATOR = Account.from_key(b"\x42" * 32).address

DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
TRANSFER_TYPES = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]


def _bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


class Revert(Exception):
    """An eth_call / transaction revert, worded like USDC's (the SDK maps these texts to reason codes)."""

    def __init__(self, reason: str):
        super().__init__(f"execution reverted: {reason}")


class FakeChain:
    """Just enough of an EVM chain with one EIP-3009 token for the SDK facilitator."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.used: set[tuple[str, bytes]] = set()
        self.balances: dict[str, int] = defaultdict(lambda: 10**12)
        self.receipts: dict[str, TransactionReceipt] = {}
        self.fail_next_write: str | None = None
        self.transfers: list[dict[str, Any]] = []

    # -- FacilitatorEvmSigner --------------------------------------------------------------------------
    def get_addresses(self) -> list[str]:
        return [FACILITATOR]

    def get_chain_id(self) -> int:
        return CHAIN_ID

    def get_code(self, address: str) -> bytes:
        return b"\x60\x80\x60\x40" if address.lower() == USDC.lower() else b""

    def get_balance(self, address: str, token_address: str) -> int:
        return self.balances[address.lower()]

    def read_contract(self, address: str, abi: Any, function_name: str, *args: Any) -> Any:
        if function_name == "tryAggregate":
            return [self._subcall(target, data) for target, data in args[1]]
        if address.lower() != USDC.lower():
            raise Revert("no contract")
        if function_name == "transferWithAuthorization":
            with self.lock:
                self._check(*args)
            return None
        if function_name == "balanceOf":
            return self.balances[str(args[0]).lower()]
        if function_name == "name":
            return "USDC"
        if function_name == "version":
            return "2"
        if function_name == "authorizationState":
            return (str(args[0]).lower(), _bytes(args[1])) in self.used
        raise Revert(f"unsupported call {function_name}")

    def _subcall(self, target: str, data: bytes) -> tuple[bool, bytes]:
        """One Multicall3 sub-call, ABI-encoded as a node would return it (the SDK's diagnosis path)."""
        selectors = {
            keccak(text="balanceOf(address)")[:4]: ("balanceOf", ["address"], "uint256"),
            keccak(text="name()")[:4]: ("name", [], "string"),
            keccak(text="version()")[:4]: ("version", [], "string"),
            keccak(text="authorizationState(address,bytes32)")[:4]: ("authorizationState", ["address", "bytes32"], "bool"),
        }
        entry = selectors.get(bytes(data[:4]))
        if target.lower() != USDC.lower() or entry is None:
            return (False, b"")
        name, inputs, output = entry
        args = decode(inputs, bytes(data[4:])) if inputs else ()
        return (True, encode([output], [self.read_contract(USDC, None, name, *args)]))

    def write_contract(self, address: str, abi: Any, function_name: str, *args: Any, data_suffix: Any = None) -> str:
        if address.lower() != USDC.lower() or function_name != "transferWithAuthorization":
            raise Revert("unsupported transaction")
        with self.lock:
            if self.fail_next_write is not None:
                reason, self.fail_next_write = self.fail_next_write, None
                raise Revert(reason)
            sender, to, value, nonce = self._check(*args)
            self.used.add((sender.lower(), nonce))
            self.balances[sender.lower()] -= value
            self.balances[to.lower()] += value
            tx_hash = "0x" + keccak(b"tx" + sender.lower().encode() + nonce).hex()
            self.receipts[tx_hash] = TransactionReceipt(
                status=1,
                block_number=len(self.receipts) + 1,
                tx_hash=tx_hash,
                logs=[
                    {
                        "address": USDC,
                        "topics": [
                            ERC20_TRANSFER_EVENT_TOPIC,
                            "0x" + "00" * 12 + sender.lower()[2:],
                            "0x" + "00" * 12 + to.lower()[2:],
                        ],
                        "data": "0x" + value.to_bytes(32, "big").hex(),
                    }
                ],
            )
            self.transfers.append({"from": sender, "to": to, "value": value, "nonce": "0x" + nonce.hex()})
            return tx_hash

    def wait_for_transaction_receipt(self, tx_hash: str) -> TransactionReceipt:
        return self.receipts[tx_hash]

    def verify_typed_data(self, address, domain, types, primary_type, message, signature) -> bool:
        full = {
            "types": {"EIP712Domain": DOMAIN_TYPES, **{k: v for k, v in types.items() if k != "EIP712Domain"}},
            "primaryType": primary_type,
            "domain": domain if isinstance(domain, dict) else domain.__dict__,
            "message": message,
        }
        recovered = Account.recover_message(encode_typed_data(full_message=full), signature=_bytes(signature))
        return recovered.lower() == address.lower()

    def send_transaction(self, to: str, data: bytes) -> str:
        raise Revert("raw transactions are not supported")

    # -- the token's own checks --------------------------------------------------------------------
    def _check(self, sender, to, value, valid_after, valid_before, nonce, *signature) -> tuple[str, str, int, bytes]:
        sender, to, value = str(sender), str(to), int(value)
        valid_after, valid_before, nonce = int(valid_after), int(valid_before), _bytes(nonce)
        if len(signature) == 3:
            v, r, s = signature
            sig = _bytes(r).rjust(32, b"\0") + _bytes(s).rjust(32, b"\0") + bytes([int(v)])
        else:
            sig = _bytes(signature[0])
        message = {
            "types": {"EIP712Domain": DOMAIN_TYPES, "TransferWithAuthorization": TRANSFER_TYPES},
            "primaryType": "TransferWithAuthorization",
            # The token's true domain, whatever the payment claimed.
            "domain": {"name": "USDC", "version": "2", "chainId": CHAIN_ID, "verifyingContract": USDC},
            "message": {
                "from": sender,
                "to": to,
                "value": value,
                "validAfter": valid_after,
                "validBefore": valid_before,
                "nonce": nonce,
            },
        }
        try:
            recovered = Account.recover_message(encode_typed_data(full_message=message), signature=sig)
        except Exception:
            raise Revert("FiatTokenV2: invalid signature")
        if recovered.lower() != sender.lower():
            raise Revert("FiatTokenV2: invalid signature")
        now = int(time.time())
        if now <= valid_after:
            raise Revert("FiatTokenV2: authorization is not yet valid")
        if now >= valid_before:
            raise Revert("FiatTokenV2: authorization is expired")
        if (sender.lower(), nonce) in self.used:
            raise Revert("FiatTokenV2: authorization is used or canceled")
        if self.balances[sender.lower()] < value:
            raise Revert("ERC20: transfer amount exceeds balance")
        return sender, to, value, nonce


def _b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


def v1_exchange(facilitator: Any, resource: str, report: Any) -> Response:
    """One x402 v1 exchange (0.01 USDC on base-sepolia) on `facilitator`, written by hand: the SDK's HTTP
    server is v2 only. 402 with the JSON body, then verify and settle `X-PAYMENT`, answering with
    `X-PAYMENT-RESPONSE`."""
    requirements = PaymentRequirementsV1(
        scheme="exact",
        network="base-sepolia",
        max_amount_required="10000",
        resource=resource,
        description="Weather report",
        mime_type="application/json",
        pay_to=PAY_TO,
        max_timeout_seconds=60,
        asset=USDC,
        extra={"name": "USDC", "version": "2"},
    )

    def required(error: str) -> Response:
        body = {
            "x402Version": 1,
            "error": error,
            "accepts": [requirements.model_dump(by_alias=True, exclude_none=True)],
        }
        return Response(json.dumps(body), status=402, mimetype="application/json")

    header = request.headers.get("X-PAYMENT")
    if not header:
        return required("X-PAYMENT header is required")
    try:
        payload = PaymentPayloadV1.model_validate_json(base64.b64decode(header, validate=True))
    except Exception:
        return required("invalid_payload")
    verified = facilitator.verify(payload, requirements)
    if not verified.is_valid:
        return required(verified.invalid_reason or "invalid_payload")
    settled = facilitator.settle(payload, requirements)
    if settled.success:
        response = Response(json.dumps(report), mimetype="application/json")
    else:
        response = Response("{}", status=402, mimetype="application/json")
    response.headers["X-PAYMENT-RESPONSE"] = _b64(settled.model_dump(by_alias=True, exclude_none=True))
    return response


def make_app(chain: FakeChain, base_url_holder: dict[str, str]) -> Flask:
    facilitator = x402FacilitatorSync()
    register_exact_evm_facilitator(facilitator, chain, networks=NETWORK)
    server = x402ResourceServerSync(facilitator)
    server.register(NETWORK, ExactEvmServerScheme())

    app = Flask("x402-peer")
    routes = {
        "GET /weather": RouteConfig(
            accepts=[PaymentOption(scheme="exact", pay_to=PAY_TO, price="$0.01", network=NETWORK)],
            mime_type="application/json",
            description="Weather report",
        )
    }
    payment_middleware(app, routes=routes, server=server)

    @app.get("/weather")
    def weather() -> Any:
        return {"report": {"weather": "sunny", "temperature": 70}}

    @app.get("/free")
    def free() -> Any:
        return {"free": True}

    @app.get("/v1/weather")
    def weather_v1() -> Response:
        return v1_exchange(facilitator, base_url_holder["url"] + "/v1/weather", {"report": {"weather": "sunny", "temperature": 70}})

    return app


class _Handler(WSGIRequestHandler):
    # Headers and body go out in separate writes; without TCP_NODELAY, keep-alive clients wait ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


import logging

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class Peer:
    """The peer running on a background thread; `url` is its base URL."""

    def __init__(self) -> None:
        self.chain = FakeChain()
        holder: dict[str, str] = {}
        self.app = make_app(self.chain, holder)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Handler)
        self.server.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        holder["url"] = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
