"""A fake Stripe for billing tests: localstripe plus what it lacks.

``localstripe`` (run unmodified as a subprocess) keeps customers, products, plans,
subscriptions, invoices and payment methods. In front of it, a small aiohttp server (in a
thread of the test process) answers the endpoints localstripe does not have, shaped after
Stripe's API reference, and proxies every other path to localstripe:

- ``/v1/prices`` with ``lookup_key`` (each price is mirrored as a localstripe plan of the same
  id, so subscriptions can use it);
- ``/v1/checkout/sessions`` (create, retrieve, expire) and ``/_fake/checkout/{id}/complete``,
  which does what a shopper paying on Stripe's page does: card, subscription, session
  complete (localstripe subscriptions hold one item, so only the base price is subscribed);
- ``/v1/billing_portal/sessions``, ``/v1/billing/meters``, ``/v1/billing/meter_events``
  (refusing a repeated identifier as Stripe does; ``delay_identifier`` makes one answer
  come too late, after the event was recorded);
- ``/v1/entitlements/active_entitlements`` (set with ``set_entitlements``).

``signed_event`` signs an event the way Stripe does (``t=...,v1=HMAC-SHA256``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

API_KEY = "sk_test_fake_ascent"
WEBHOOK_SECRET = "whsec_test_ascent_fake"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "[]":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})

    def lists(value: Any) -> Any:
        if isinstance(value, dict):
            value = {k: lists(v) for k, v in value.items()}
            if value and all(k.isdigit() for k in value):
                return [value[k] for k in sorted(value, key=int)]
        return value

    return lists(root)


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    body = {"error": {"type": "invalid_request_error", "message": message}}
    if code:
        body["error"]["code"] = code
    return web.json_response(body, status=status)


def _list(url: str, data: list[dict]) -> web.Response:
    return web.json_response({"object": "list", "url": url, "has_more": False, "data": data})


class FakeStripe:
    def __init__(self) -> None:
        self.ls_port = free_port()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ls_base = f"http://127.0.0.1:{self.ls_port}"
        self.prices: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.meters: dict[str, dict] = {}
        self.meter_events: dict[str, dict] = {}
        self.meter_event_posts = 0
        self.entitlements: dict[str, list[str]] = {}
        self.delays: dict[str, float] = {}
        self.dunning: set[str] = set()  # subscriptions presented as past_due
        self._proc: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(self.ls_port), "--from-scratch"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("fake Stripe did not start")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.ls_port), timeout=0.2),
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError("localstripe did not start")

    def stop(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(5)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._startup())
        ready.set()
        self._loop.run_forever()

    async def _startup(self) -> None:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        r = app.router
        r.add_post("/v1/prices", self.create_price)
        r.add_get("/v1/prices", self.list_prices)
        r.add_get("/v1/prices/{id}", self.get_price)
        r.add_post("/v1/checkout/sessions", self.create_session)
        r.add_get("/v1/checkout/sessions/{id}", self.get_session)
        r.add_post("/v1/checkout/sessions/{id}/expire", self.expire_session)
        r.add_post("/_fake/checkout/{id}/complete", self.complete_session)
        r.add_post("/v1/billing_portal/sessions", self.create_portal)
        r.add_get("/v1/billing/meters", self.list_meters)
        r.add_post("/v1/billing/meters", self.create_meter)
        r.add_post("/v1/billing/meter_events", self.create_meter_event)
        r.add_get("/v1/entitlements/active_entitlements", self.list_entitlements)
        r.add_route("*", "/{path:.*}", self.proxy)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _shutdown(self) -> None:
        if self._http:
            await self._http.close()
        if self._runner:
            await self._runner.cleanup()

    def call(self, coro_fn, *args: Any) -> Any:
        """Run a coroutine of this fake on its own loop, from test code (sync)."""
        return asyncio.run_coroutine_threadsafe(coro_fn(*args), self._loop).result(20)

    # --- talking to localstripe ---------------------------------------------------------------

    async def ls(self, method: str, path: str, data: dict | None = None) -> dict:
        """A call to localstripe; nested params are sent in Stripe's form encoding."""
        form = [(k, str(v)) for k, v in _flatten(data or {})]
        async with self._http.request(
            method, self.ls_base + path, data=form or None,
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as resp:  # fmt: skip
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                raise RuntimeError(f"localstripe {method} {path}: {resp.status} {body}")
            return body

    async def proxy(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "content-type")}  # fmt: skip
        async with self._http.request(
            request.method, self.ls_base + request.path_qs, data=await request.read(),
            headers=headers,
        ) as resp:  # fmt: skip
            body = await resp.json(content_type=None)
            return web.json_response(self._dunning_view(body), status=resp.status)

    def _dunning_view(self, body: Any) -> Any:
        """Stripe marks a subscription past_due when a renewal charge fails; localstripe models
        no renewals, so the fake overlays that status until an invoice of it is paid."""
        if isinstance(body, list):
            return [self._dunning_view(x) for x in body]
        if isinstance(body, dict):
            body = {k: self._dunning_view(v) for k, v in body.items()}
            subscription = body.get("object") == "subscription"
            if subscription and body.get("id") in self.dunning and body["status"] == "active":
                body["status"] = "past_due"
        return body

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.method == "GET":
            return unflatten(list(request.query.items()))
        return unflatten(list((await request.post()).items()))

    # --- prices -------------------------------------------------------------------------------

    async def create_price(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        key = p.get("lookup_key")
        if key and any(x["lookup_key"] == key for x in self.prices.values() if x["active"]):
            if p.get("transfer_lookup_key") != "true":
                return _error(400, f"A price with lookup key {key} already exists.")
            for other in self.prices.values():
                if other["lookup_key"] == key:
                    other["lookup_key"] = None
        recurring = p.get("recurring") or {}
        price = {
            "id": "price_" + secrets.token_hex(8), "object": "price", "active": True,
            "currency": p["currency"], "product": p["product"], "lookup_key": key,
            "nickname": p.get("nickname"), "type": "recurring" if recurring else "one_time",
            "unit_amount": int(p["unit_amount"]) if "unit_amount" in p else None,
            "billing_scheme": p.get("billing_scheme", "per_unit"),
            "tiers_mode": p.get("tiers_mode"), "livemode": False, "metadata": {},
            "recurring": {"interval": recurring.get("interval", "month"), "interval_count": 1,
                          "usage_type": recurring.get("usage_type", "licensed"),
                          "meter": recurring.get("meter")} if recurring else None,
        }  # fmt: skip
        # A localstripe plan of the same id, so subscriptions can name this price.
        await self.ls("POST", "/v1/plans", {
            "id": price["id"], "product": price["product"], "currency": price["currency"],
            "amount": price["unit_amount"] or 0, "interval": price["recurring"]["interval"],
            "usage_type": price["recurring"]["usage_type"],
        })  # fmt: skip
        self.prices[price["id"]] = price
        return web.json_response(price)

    async def list_prices(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        keys = p.get("lookup_keys")
        found = [
            x for x in self.prices.values()
            if x["active"] and (keys is None or x["lookup_key"] in keys)
        ]  # fmt: skip
        return _list("/v1/prices", found)

    async def get_price(self, request: web.Request) -> web.Response:
        price = self.prices.get(request.match_info["id"])
        return web.json_response(price) if price else _error(404, "No such price")

    # --- checkout -----------------------------------------------------------------------------

    async def create_session(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        if p.get("mode") != "subscription":
            return _error(400, "this fake supports mode=subscription only")
        await self.ls("GET", f"/v1/customers/{p['customer']}")
        items = p.get("line_items") or []
        if not items or any(i["price"] not in self.prices for i in items):
            return _error(400, "No such price")
        session_id = "cs_test_" + secrets.token_hex(12)
        session = {
            "id": session_id, "object": "checkout.session", "mode": "subscription",
            "status": "open", "payment_status": "unpaid", "customer": p["customer"],
            "client_reference_id": p.get("client_reference_id"),
            "metadata": p.get("metadata") or {}, "subscription": None,
            "success_url": p["success_url"], "cancel_url": p["cancel_url"],
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "expires_at": int(time.time()) + 86400, "livemode": False,
            "_line_items": items,
            "_subscription_metadata": (p.get("subscription_data") or {}).get("metadata") or {},
        }  # fmt: skip
        self.sessions[session_id] = session
        return web.json_response(_public(session))

    async def get_session(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        return web.json_response(_public(session)) if session else _error(404, "No such session")

    async def expire_session(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return _error(404, "No such session")
        if session["status"] != "open":
            return _error(400, f"Only open sessions can be expired (this one is "
                               f"{session['status']}).")  # fmt: skip
        session["status"] = "expired"
        return web.json_response(_public(session))

    async def complete_session(self, request: web.Request) -> web.Response:
        session = self.sessions[request.match_info["id"]]
        if session["status"] != "open":
            return _error(400, f"session is {session['status']}")
        card = request.query.get("card", "pm_card_visa")
        await self.use_card(session["customer"], card)
        base = session["_line_items"][0]["price"]
        sub = await self.ls("POST", "/v1/subscriptions", {
            "customer": session["customer"], "items": [{"plan": base}],
            "metadata": session["_subscription_metadata"],
        })  # fmt: skip
        session.update(status="complete", payment_status="paid", subscription=sub["id"])
        return web.json_response(_public(session))

    async def use_card(self, customer: str, card: str) -> str:
        """Attach a test card (``pm_card_visa``, ``pm_card_chargeCustomerFail``) as default."""
        pm = await self.ls("POST", f"/v1/payment_methods/{card}/attach", {"customer": customer})
        await self.ls("POST", f"/v1/customers/{customer}",
                      {"invoice_settings": {"default_payment_method": pm["id"]}})  # fmt: skip
        return pm["id"]

    # --- portal, meters, entitlements ---------------------------------------------------------

    async def create_portal(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        await self.ls("GET", f"/v1/customers/{p['customer']}")
        portal_id = "bps_" + secrets.token_hex(10)
        return web.json_response({
            "id": portal_id, "object": "billing_portal.session", "customer": p["customer"],
            "return_url": p.get("return_url"), "livemode": False,
            "url": f"https://billing.stripe.test/p/session/{portal_id}",
        })  # fmt: skip

    async def list_meters(self, request: web.Request) -> web.Response:
        return _list("/v1/billing/meters", list(self.meters.values()))

    async def create_meter(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        if any(m["event_name"] == p["event_name"] for m in self.meters.values()):
            return _error(400, "A meter with this event_name already exists.")
        meter = {"id": "mtr_" + secrets.token_hex(8), "object": "billing.meter",
                 "event_name": p["event_name"], "display_name": p["display_name"],
                 "status": "active"}  # fmt: skip
        self.meters[meter["id"]] = meter
        return web.json_response(meter)

    async def create_meter_event(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        self.meter_event_posts += 1
        identifier = p.get("identifier") or secrets.token_hex(8)
        if identifier in self.meter_events:
            # What Stripe answers to a repeated identifier (400, not retryable).
            return _error(400, f"An event already exists with identifier {identifier}.")
        if not any(m["event_name"] == p["event_name"] for m in self.meters.values()):
            return _error(400, f"No active meter found for event_name {p['event_name']}.")
        event = {"object": "billing.meter_event", "event_name": p["event_name"],
                 "identifier": identifier, "payload": p["payload"],
                 "timestamp": int(p.get("timestamp") or time.time()), "livemode": False,
                 "created": int(time.time())}  # fmt: skip
        self.meter_events[identifier] = event
        if delay := self.delays.pop(identifier, 0):
            await asyncio.sleep(delay)  # recorded, but the answer comes too late
        return web.json_response(event)

    async def list_entitlements(self, request: web.Request) -> web.Response:
        customer = request.query.get("customer", "")
        data = [{"id": f"ent_{i}", "object": "entitlements.active_entitlement",
                 "feature": f"feat_{key}", "lookup_key": key, "livemode": False}
                for i, key in enumerate(self.entitlements.get(customer, []))]  # fmt: skip
        return _list("/v1/entitlements/active_entitlements", data)

    # --- test helpers (sync, from test code) --------------------------------------------------

    def complete_checkout(self, session_id: str, card: str = "pm_card_visa") -> dict:
        async def run() -> dict:
            async with self._http.post(
                f"{self.base}/_fake/checkout/{session_id}/complete", params={"card": card}
            ) as resp:
                return await resp.json()

        return self.call(run)

    def localstripe(self, method: str, path: str, data: dict | None = None) -> dict:
        return self.call(self.ls, method, path, data)

    def set_entitlements(self, customer: str, features: list[str]) -> None:
        self.entitlements[customer] = list(features)

    def delay_identifier(self, identifier: str, seconds: float) -> None:
        self.delays[identifier] = seconds

    def fail_next_payment(self, subscription_id: str) -> dict:
        """A renewal invoice whose charge fails; the subscription turns past_due."""
        sub = self.localstripe("GET", f"/v1/subscriptions/{subscription_id}")
        customer = sub["customer"]
        self.call(self.use_card, customer, "pm_card_chargeCustomerFail")
        self.localstripe("POST", "/v1/invoiceitems",
                         {"customer": customer, "amount": 2900, "currency": "usd"})  # fmt: skip
        invoice = self.localstripe(
            "POST", "/v1/invoices", {"customer": customer, "subscription": subscription_id}
        )
        with contextlib.suppress(RuntimeError):
            self.localstripe("POST", f"/v1/invoices/{invoice['id']}/pay")
        self.dunning.add(subscription_id)
        return self.localstripe("GET", f"/v1/invoices/{invoice['id']}")

    def pay_with_good_card(self, subscription_id: str, invoice_id: str) -> dict:
        """The customer fixes the card and the open invoice is paid."""
        sub = self.localstripe("GET", f"/v1/subscriptions/{subscription_id}")
        self.call(self.use_card, sub["customer"], "pm_card_visa")
        self.localstripe("POST", f"/v1/invoices/{invoice_id}/pay")
        self.dunning.discard(subscription_id)
        return self.localstripe("GET", f"/v1/invoices/{invoice_id}")


def _public(session: dict) -> dict:
    return {k: v for k, v in session.items() if not k.startswith("_")}


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out = []
        for k, v in data.items():
            out += _flatten(v, f"{prefix}[{k}]" if prefix else k)
        return out
    if isinstance(data, list):
        out = []
        for i, v in enumerate(data):
            out += _flatten(v, f"{prefix}[{i}]")
        return out
    if isinstance(data, bool):
        return [(prefix, "true" if data else "false")]
    return [(prefix, data)]


def signed_event(
    kind: str, obj: dict, *, secret: str = WEBHOOK_SECRET, at: int | None = None,
    event_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    """An event body and headers signed as Stripe signs them: v1 = HMAC-SHA256 of "t.body"."""
    at = int(time.time()) if at is None else at
    event = {"id": event_id or "evt_" + secrets.token_hex(12), "object": "event", "type": kind,
             "created": at, "api_version": "2026-10-28.endive", "livemode": False,
             "data": {"object": obj}}  # fmt: skip
    body = json.dumps(event).encode()
    signature = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Stripe-Signature": f"t={at},v1={signature}", "Content-Type": "application/json"}
    return body, headers
