"""A paid API with x402 bazaar discovery metadata, served by the official x402 SDK (2.25.0) offline.

`purser tool add` must turn its 402 into a manifest: the price, network, asset and payee of the offer, and
the input schema the seller declares with `declare_discovery_extension`. The facilitator runs on the fake
chain of `Tests/Interop/x402/x402_peer.py`; nothing is paid in this suite.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "x402"))
from x402_peer import NETWORK, PAY_TO, USDC, FakeChain, _Handler  # noqa: E402

from x402 import x402FacilitatorSync, x402ResourceServerSync  # noqa: E402
from x402.extensions.bazaar import declare_discovery_extension  # noqa: E402
from x402.http import PaymentOption  # noqa: E402
from x402.http.middleware.flask import payment_middleware  # noqa: E402
from x402.http.types import RouteConfig  # noqa: E402
from x402.mechanisms.evm.exact import ExactEvmServerScheme  # noqa: E402
from x402.mechanisms.evm.exact.register import register_exact_evm_facilitator  # noqa: E402

# What the seller declares; the test compares the written manifest with these.
QUERY_SCHEMA = {
    "properties": {
        "city": {"type": "string", "minLength": 1, "description": "City name"},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
    },
    "required": ["city"],
}
BODY_SCHEMA = {
    "properties": {"company": {"type": "string", "minLength": 1}, "pages": {"type": "integer", "minimum": 1}},
    "required": ["company"],
}
FORECAST_PRICE, REPORT_PRICE, PLAIN_PRICE = "$0.02", "$0.30", "$0.05"

__all__ = ["BazaarPeer", "NETWORK", "PAY_TO", "USDC", "QUERY_SCHEMA", "BODY_SCHEMA"]


class BazaarPeer:
    """`GET /forecast` (bazaar query schema), `POST /report` (bazaar body schema), `GET /plain` (no
    discovery metadata) and `GET /free` (no payment at all), on 127.0.0.1 on a background thread."""

    def __init__(self, pay_to: str = PAY_TO) -> None:
        chain = FakeChain()
        facilitator = x402FacilitatorSync()
        register_exact_evm_facilitator(facilitator, chain, networks=NETWORK)
        server = x402ResourceServerSync(facilitator)
        server.register(NETWORK, ExactEvmServerScheme())
        app = Flask("bazaar-peer")

        def option(price: str) -> PaymentOption:
            return PaymentOption(scheme="exact", pay_to=pay_to, price=price, network=NETWORK)

        routes = {
            "GET /forecast": RouteConfig(
                accepts=[option(FORECAST_PRICE)],
                mime_type="application/json",
                description="Seven-day forecast for a city",
                extensions=declare_discovery_extension(input={"city": "Lisbon"}, input_schema=QUERY_SCHEMA),
            ),
            "POST /report": RouteConfig(
                accepts=[option(REPORT_PRICE)],
                mime_type="application/json",
                description="Company report",
                extensions=declare_discovery_extension(
                    input={"company": "ACME"}, input_schema=BODY_SCHEMA, body_type="json"
                ),
            ),
            "GET /plain": RouteConfig(accepts=[option(PLAIN_PRICE)], mime_type="application/json"),
        }
        payment_middleware(app, routes=routes, server=server)

        @app.get("/forecast")
        def forecast() -> Any:
            return {"forecast": []}

        @app.post("/report")
        def report() -> Any:
            return {"summary": "demo"}

        @app.get("/plain")
        def plain() -> Any:
            return {"ok": True}

        @app.get("/free")
        def free() -> Any:
            return {"free": True}

        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
