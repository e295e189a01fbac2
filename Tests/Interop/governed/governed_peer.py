"""A paid upstream for the governed-call suite: the official x402 SDK (2.25.0) offline, with hostile modes.

Honest routes (`/paid/cheap`, `/paid/expensive`) are the SDK's own Flask payment middleware (and `/v1/cheap`
is x402 v1, by hand on the same facilitator, since the SDK's HTTP server is v2 only) with its real
facilitator on the fake chain of `Tests/Interop/x402/x402_peer.py`. Hostile routes (`/h/<name>`) are written
by hand on the same facilitator and SDK models, and each one's behaviour is switched by the test through
`Peer.routes[name]`:

| mode | what the upstream does |
|---|---|
| `honest` | 402 with the route's amount and payee; a paid retry is verified, settled and answered 200 |
| `second_402` | settles the payment, then answers 402 again with a fresh offer and no settlement header |
| `settle_fail` | verifies, then settlement fails on chain: 402 with `PAYMENT-RESPONSE` `success: false` |
| `redirect_first` | answers the unpaid request with a 302 to 127.0.0.2 (another host) |
| `redirect_paid` | answers the paid retry with a 302 to 127.0.0.2, without settling |
| `hang_paid` | settles, then sleeps `hang_seconds` before answering 200 (past the tool's timeout) |
| `delay_paid` | the same with a delay within the timeout, so that concurrent calls overlap |

`Peer.requests` records every request (route, whether it carried a payment, the payment's nonce), and
`Peer.elsewhere` every request that reached the second host on 127.0.0.2.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "x402"))
from x402_peer import NETWORK, PAY_TO, USDC, FakeChain, _Handler, v1_exchange  # noqa: E402

from x402 import x402FacilitatorSync, x402ResourceServerSync  # noqa: E402
from x402.http import PaymentOption  # noqa: E402
from x402.http.middleware.flask import payment_middleware  # noqa: E402
from x402.http.types import RouteConfig  # noqa: E402
from x402.http.utils import (  # noqa: E402
    decode_payment_signature_header,
    encode_payment_required_header,
    encode_payment_response_header,
)
from x402.mechanisms.evm.exact import ExactEvmServerScheme  # noqa: E402
from x402.mechanisms.evm.exact.register import register_exact_evm_facilitator  # noqa: E402
from x402.schemas import PaymentRequired, PaymentRequirements, ResourceInfo  # noqa: E402

# A payee that is on no allowlist (a fixed, throwaway address).
OTHER_PAYEE = "0x1111111111111111111111111111111111111111"
REPORT = {"report": {"weather": "sunny", "temperature": 70}}


@dataclass
class RouteState:
    """What one hostile route currently does; tests change it between calls."""

    amount: str = "10000"
    pay_to: str = PAY_TO
    mode: str = "honest"
    hang_seconds: float = 4.0
    network: str = NETWORK
    asset: str = USDC


@dataclass
class Seen:
    route: str
    paid: bool
    nonce: str | None = None


@dataclass
class Peer:
    """The peer on 127.0.0.1 (and a bystander on 127.0.0.2) on background threads."""

    chain: FakeChain = field(default_factory=FakeChain)
    routes: dict[str, RouteState] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    elsewhere: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.app = self._make_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Handler)
        self.server.socket.listen(64)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        # The other host listens on the same port number, so a followed redirect would land here.
        self.bystander = make_server("127.0.0.2", self.port, self._make_bystander(), threaded=True, request_handler=_Handler)
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.server, self.bystander)]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        for server in (self.server, self.bystander):
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)

    # -- what the tests read ---------------------------------------------------------------------------
    def transfers_from(self, payer: str) -> list[dict[str, Any]]:
        with self.chain.lock:
            return [t for t in self.chain.transfers if t["from"].lower() == payer.lower()]

    def seen(self, route: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.requests if s.route == route]

    # -- the apps --------------------------------------------------------------------------------------
    def _make_bystander(self) -> Flask:
        app = Flask("bystander")

        @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
        @app.route("/<path:path>", methods=["GET", "POST"])
        def anything(path: str) -> Any:
            self.elsewhere.append({"path": "/" + path, "headers": dict(request.headers)})
            return REPORT

        return app

    def _make_app(self) -> Flask:
        facilitator = x402FacilitatorSync()
        register_exact_evm_facilitator(facilitator, self.chain, networks=NETWORK)
        server = x402ResourceServerSync(facilitator)
        server.register(NETWORK, ExactEvmServerScheme())
        app = Flask("governed-peer")

        def honest(price: str) -> RouteConfig:
            return RouteConfig(
                accepts=[PaymentOption(scheme="exact", pay_to=PAY_TO, price=price, network=NETWORK)],
                mime_type="application/json",
                description="Weather report",
            )

        payment_middleware(
            app,
            routes={"GET /paid/cheap": honest("$0.01"), "GET /paid/expensive": honest("$0.20")},
            server=server,
        )

        # Wraps the middleware's WSGI app, so requests it answers itself (402s) are recorded too.
        inner = app.wsgi_app

        def recording(environ: dict[str, Any], start_response: Any) -> Any:
            header = environ.get("HTTP_PAYMENT_SIGNATURE") or environ.get("HTTP_X_PAYMENT")
            nonce = None
            if header:
                try:
                    nonce = decode_payment_signature_header(header).payload["authorization"]["nonce"]
                except Exception:
                    nonce = "undecodable"
            with self.lock:
                self.requests.append(Seen(route=environ.get("PATH_INFO", ""), paid=header is not None, nonce=nonce))
            return inner(environ, start_response)

        app.wsgi_app = recording  # type: ignore[method-assign]

        @app.get("/paid/cheap")
        @app.get("/paid/expensive")
        def paid() -> Any:
            return REPORT

        @app.get("/free")
        def free() -> Any:
            return {"free": True}

        @app.get("/v1/cheap")
        def cheap_v1() -> Response:
            return v1_exchange(facilitator, self.url + "/v1/cheap", REPORT)

        @app.get("/h/<name>")
        def hostile(name: str) -> Response:
            state = self.routes.get(name)
            if state is None:
                return Response("{}", status=404, mimetype="application/json")
            requirements = PaymentRequirements(
                scheme="exact",
                network=state.network,
                asset=state.asset,
                amount=state.amount,
                pay_to=state.pay_to,
                max_timeout_seconds=300,
                extra={"name": "USDC", "version": "2"},
            )

            def required(error: str) -> Response:
                offer = PaymentRequired(
                    error=error,
                    resource=ResourceInfo(url=self.url + "/h/" + name, description="Weather report", mime_type="application/json"),
                    accepts=[requirements],
                )
                response = Response("{}", status=402, mimetype="application/json")
                response.headers["PAYMENT-REQUIRED"] = encode_payment_required_header(offer)
                return response

            def redirect() -> Response:
                response = Response("", status=302)
                response.headers["Location"] = f"http://127.0.0.2:{self.port}/stolen"
                return response

            header = request.headers.get("PAYMENT-SIGNATURE")
            if not header:
                return redirect() if state.mode == "redirect_first" else required("Payment required")
            if state.mode == "redirect_paid":
                return redirect()
            try:
                payload = decode_payment_signature_header(header)
            except Exception:
                return required("invalid_payload")
            verified = facilitator.verify(payload, requirements)
            if not verified.is_valid:
                return required(verified.invalid_reason or "invalid_payload")
            if state.mode == "settle_fail":
                with self.chain.lock:
                    self.chain.fail_next_write = "ERC20: transfer amount exceeds balance"
            settled = facilitator.settle(payload, requirements)
            if not settled.success:
                response = Response("{}", status=402, mimetype="application/json")
                response.headers["PAYMENT-RESPONSE"] = encode_payment_response_header(settled)
                return response
            if state.mode == "second_402":
                return required("Payment required")
            if state.mode in ("hang_paid", "delay_paid"):
                time.sleep(state.hang_seconds)
            response = Response(json.dumps(REPORT), mimetype="application/json")
            response.headers["PAYMENT-RESPONSE"] = encode_payment_response_header(settled)
            return response

        return app
