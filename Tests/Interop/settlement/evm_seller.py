"""A paid upstream settling on the real EVM of `evm_node.py` through the official x402 facilitator
(x402 2.25.0, `FacilitatorWeb3Signer` pointed at the node): a real `transferWithAuthorization`.

Each route's behaviour after a valid payment is switched by the test:
- `honest`: settle, answer 200 with the facilitator's PAYMENT-RESPONSE;
- `settle_then_fail`: settle, then answer 500 (its handler failed) without a settlement header;
- `never_settle`: verify only, answer 500: the authorization is never used;
- `lie`: settle, but claim another payer, another network and transaction `0x`;
- `lie_unsettled`: claim the same lie without settling.
"""
from __future__ import annotations

import base64
import json
import threading
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

from x402 import x402FacilitatorSync
from x402.http.utils import decode_payment_signature_header, encode_payment_required_header, encode_payment_response_header
from x402.mechanisms.evm.exact.register import register_exact_evm_facilitator
from x402.mechanisms.evm.signers import FacilitatorWeb3Signer
from x402.schemas import PaymentRequired, PaymentRequirements, ResourceInfo

from evm_node import Node

PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
PRICE = "10000"  # 0.01 USDC
# Short validity windows (the facilitator wants a few seconds of margin), so a test can wait past validBefore in real time.
VALIDITY_SECONDS = 20
REPORT = {"report": {"weather": "sunny"}}


class Seller:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.mode = "honest"
        self.settled: list[str] = []
        self.lock = threading.Lock()
        signer = FacilitatorWeb3Signer(private_key=node.facilitator_key, rpc_url=node.url)
        self.facilitator = x402FacilitatorSync()
        register_exact_evm_facilitator(self.facilitator, signer, networks=node.network)
        self.app = self._app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _app(self) -> Flask:
        app = Flask("evm-seller")

        @app.get("/paid")
        def paid() -> Response:
            requirements = PaymentRequirements(
                scheme="exact",
                network=self.node.network,
                asset=self.node.token.address,
                amount=PRICE,
                pay_to=PAY_TO,
                max_timeout_seconds=VALIDITY_SECONDS,
                extra={"name": "USDC", "version": "2"},
            )
            header = request.headers.get("PAYMENT-SIGNATURE")
            if not header:
                offer = PaymentRequired(
                    error="Payment required",
                    resource=ResourceInfo(url=self.url + "/paid", description="Weather", mime_type="application/json"),
                    accepts=[requirements],
                )
                response = Response("{}", status=402, mimetype="application/json")
                response.headers["PAYMENT-REQUIRED"] = encode_payment_required_header(offer)
                return response
            payload = decode_payment_signature_header(header)
            verified = self.facilitator.verify(payload, requirements)
            if not verified.is_valid:
                return Response(json.dumps({"invalid": verified.invalid_reason}), status=402, mimetype="application/json")
            mode = self.mode
            if mode in ("never_settle", "lie_unsettled"):
                settled = None
            else:
                settled = self.facilitator.settle(payload, requirements)
                assert settled.success, settled
                with self.lock:
                    self.settled.append(settled.transaction)
            if mode in ("settle_then_fail", "never_settle"):
                return Response("internal error", status=500)
            response = Response(json.dumps(REPORT), mimetype="application/json")
            if mode in ("lie", "lie_unsettled"):
                claim = {
                    "success": True,
                    "transaction": "0x",
                    "network": "eip155:1",
                    "payer": "0x3333333333333333333333333333333333333333",
                }
                response.headers["PAYMENT-RESPONSE"] = base64.b64encode(json.dumps(claim).encode()).decode()
            else:
                response.headers["PAYMENT-RESPONSE"] = encode_payment_response_header(settled)
            return response

        return app
