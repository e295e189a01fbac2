"""A paid upstream that signs its receipts (x402 `offer-receipt` extension) with independent peers
(`receipt_signing.py`: eth-account for EIP-712, `cryptography` for ES256K JWS). Modelled on Purser's
`FakeSeller`: it answers 402 to unpaid requests and, to a paid one, 200 with a PAYMENT-RESPONSE claiming a
settlement (no chain: the claim is the seller's word) that carries the signed receipt at
`extensions["offer-receipt"].info.receipt`.

`mode` switches the receipt: `eip712`, `jws`, `tampered` (EIP-712, payer altered after signing), `none`.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eth_account import Account

from receipt_signing import SELLER_KEY, eip712_receipt, jws_es256k

PAY_TO = Account.from_key(SELLER_KEY).address
ASSET = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
NETWORK = "eip155:84532"
PRICE = "10000"
TRANSACTION = "0x" + "ab" * 32


def b64(value: dict) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


class ReceiptSeller:
    def __init__(self) -> None:
        self.mode = "eip712"
        seller = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                header = self.headers.get("PAYMENT-SIGNATURE")
                if not header:
                    self.answer(402, {"PAYMENT-REQUIRED": b64(seller.challenge())}, b"{}")
                    return
                payment = json.loads(base64.b64decode(header))
                payer = payment["payload"]["authorization"]["from"]
                if payment["payload"]["authorization"]["value"] != PRICE:
                    self.answer(402, {"PAYMENT-REQUIRED": b64(seller.challenge())}, b"{}")
                    return
                settlement = {"success": True, "transaction": TRANSACTION, "network": NETWORK, "payer": payer}
                receipt = seller.receipt(payer)
                if receipt is not None:
                    settlement["extensions"] = {"offer-receipt": {"info": {"receipt": receipt}}}
                self.answer(200, {"PAYMENT-RESPONSE": b64(settlement)}, b'{"weather": "sunny"}')

            def answer(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def challenge(self) -> dict:
        return {
            "x402Version": 2,
            "error": "Payment required",
            "resource": {"url": self.url + "/paid", "description": "Weather", "mimeType": "application/json"},
            "accepts": [{
                "scheme": "exact", "network": NETWORK, "amount": PRICE, "asset": ASSET, "payTo": PAY_TO,
                "maxTimeoutSeconds": 60, "extra": {"name": "USDC", "version": "2"},
            }],
        }

    def receipt(self, payer: str) -> dict | None:
        payload = {
            "version": 1, "network": NETWORK, "resourceUrl": self.url + "/paid", "payer": payer,
            "issuedAt": int(time.time()), "transaction": TRANSACTION,
        }
        if self.mode == "eip712":
            return eip712_receipt(SELLER_KEY, payload)
        if self.mode == "jws":
            return jws_es256k(SELLER_KEY, payload, f"did:pkh:{NETWORK}:{PAY_TO}")
        if self.mode == "tampered":
            signed = eip712_receipt(SELLER_KEY, payload)
            signed["payload"] = {**payload, "payer": "0x0000000000000000000000000000000000000001"}
            return signed
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
