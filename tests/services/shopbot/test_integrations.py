"""Order status and currency conversion against local fakes of the providers' HTTP APIs.

The fakes are real HTTP servers on loopback sockets, answering in the documented shapes of
Shopify's Admin REST API (``GET /admin/api/2024-10/orders.json``, the Order resource, the
``X-Shopify-Access-Token`` header) and of the Frankfurter API (``GET /latest?from=&to=``).
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.shopbot import integrations
from services.shopbot.assistant import TurnContext
from services.shopbot.guardrails import Verifier
from services.shopbot.integrations import IntegrationError, convert_price, order_status
from services.shopbot.products import Catalog
from services.shopbot.query import load_vocabulary
from services.shopbot.stores import update_store
from shared.agents import ToolError

TOKEN = "shpat_0123456789abcdef"
EMAIL = "bob.norman@mail.example.com"
ORDER_UNAVAILABLE = "The order system is not answering right now."

# Trimmed from the Order resource of Shopify's Admin REST API reference (2024-10).
ORDERS = [
    {
        "id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469",
        "name": "#1001", "order_number": 1001, "email": EMAIL,
        "contact_email": EMAIL, "created_at": "2024-11-20T11:00:00-05:00",
        "financial_status": "paid", "fulfillment_status": "partial", "cancelled_at": None,
        "cancel_reason": None, "closed_at": None, "total_price": "214.93", "currency": "USD",
        "fulfillments": [{
            "id": 255858046, "order_id": 450789469, "name": "#1001.1", "status": "success",
            "service": "manual", "shipment_status": "in_transit", "tracking_company": "USPS",
            "tracking_number": "9400111899223197428490",
            "tracking_numbers": ["9400111899223197428490"],
            "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490",
            "created_at": "2024-11-21T09:12:00-05:00",
        }],
    },
    {
        "id": 450789470, "name": "#1002", "order_number": 1002, "email": "ann@example.com",
        "created_at": "2024-11-22T08:30:00-05:00", "financial_status": "pending",
        "fulfillment_status": None, "cancelled_at": None, "closed_at": None,
        "total_price": "18.99", "currency": "USD", "fulfillments": [],
    },
    {
        "id": 450789471, "name": "#1003", "order_number": 1003, "email": EMAIL,
        "created_at": "2024-11-23T10:00:00-05:00", "financial_status": "refunded",
        "fulfillment_status": None, "cancelled_at": "2024-11-24T10:00:00-05:00",
        "cancel_reason": "customer", "closed_at": "2024-11-24T10:00:00-05:00",
        "total_price": "1299.00", "currency": "USD",
        "fulfillments": [{
            "id": 255858047, "order_id": 450789471, "status": "cancelled",
            "shipment_status": None, "tracking_company": None, "tracking_number": None,
        }],
    },
]  # fmt: skip
RATES = {"USD": {"EUR": 0.9467, "GBP": 0.7865, "JPY": 150.2}}


class FakeAPI:
    """A loopback HTTP server; ``mode`` switches it between healthy and broken."""

    def __init__(self, route):
        self.mode = "ok"
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                api.requests.append({"path": parts.path, "raw_query": parts.query,
                                     "query": parse_qs(parts.query),
                                     "headers": dict(self.headers)})  # fmt: skip
                if api.mode == "slow":
                    time.sleep(1.5)
                if api.mode == "error":
                    return self._send(500, {"errors": "Internal Server Error"})
                if api.mode == "html":
                    return self._send(200, "<html>maintenance</html>", raw=True)
                status, body = route(self, parts.path, parse_qs(parts.query))
                self._send(status, body)

            def _send(self, status, body, raw=False):
                data = (body if raw else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if raw else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def shopify_route(handler, path, query):
    if path != "/admin/api/2024-10/orders.json":
        return 404, {"errors": "Not Found"}
    if handler.headers.get("X-Shopify-Access-Token") != TOKEN:
        return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or "
                               "wrong password)"}  # fmt: skip
    orders = copy.deepcopy(ORDERS)
    if query.get("status", ["open"])[0] != "any":  # Shopify's default is open orders only
        orders = [o for o in orders if not o["cancelled_at"] and not o["closed_at"]]
    if "name" in query:
        orders = [o for o in orders if o["name"] == query["name"][0]]
    return 200, {"orders": orders}


def frankfurter_route(handler, path, query):
    if path != "/latest":
        return 404, {"message": "not found"}
    base = query.get("from", ["EUR"])[0]
    targets = query.get("to", [""])[0].split(",")
    table = RATES.get(base)
    if table is None or not all(t in table for t in targets):
        return 404, {"message": "not found"}
    return 200, {"amount": 1.0, "base": base, "date": "2024-11-29",
                 "rates": {t: table[t] for t in targets}}  # fmt: skip


@pytest.fixture
def shopify():
    with FakeAPI(shopify_route) as api:
        yield api


@pytest.fixture
def frankfurter():
    with FakeAPI(frankfurter_route) as api:
        yield api


@pytest.fixture
def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def short_timeout(monkeypatch):
    # The module's 5 s timeout, shortened so that the slow fake trips it quickly.
    monkeypatch.setattr(integrations, "TIMEOUT", httpx.Timeout(0.5, connect=0.5))


# -- order status ----------------------------------------------------------------------------------
async def test_order_status_reports_payment_fulfilment_and_tracking(shopify):
    config = {"url": shopify.url, "token": TOKEN}
    status = await order_status(config, "#1001", EMAIL)
    assert status == {
        "order": "#1001", "placed": "2024-11-20T11:00:00-05:00", "payment": "paid",
        "fulfillment": "partial", "cancelled": False, "total": "214.93", "currency": "USD",
        "tracking": [{"company": "USPS", "number": "9400111899223197428490",
                      "status": "in_transit"}],
    }  # fmt: skip
    request = shopify.requests[-1]
    assert request["path"] == "/admin/api/2024-10/orders.json"
    assert "name=%231001" in request["raw_query"]
    assert request["query"] == {"name": ["#1001"], "status": ["any"]}
    assert request["headers"]["X-Shopify-Access-Token"] == TOKEN


async def test_order_number_and_email_are_normalised(shopify):
    config = {"url": shopify.url + "/", "token": TOKEN, "version": "2024-10"}
    status = await order_status(config, " 1001 ", "  Bob.Norman@MAIL.example.com ")
    assert status["order"] == "#1001"
    assert shopify.requests[-1]["query"]["name"] == ["#1001"]


async def test_cancelled_and_unfulfilled_orders(shopify):
    config = {"url": shopify.url, "token": TOKEN}
    cancelled = await order_status(config, "#1003", EMAIL)
    assert cancelled["cancelled"] is True and cancelled["payment"] == "refunded"
    assert cancelled["fulfillment"] == "unfulfilled"
    assert cancelled["tracking"] == [{"company": None, "number": None, "status": "cancelled"}]
    pending = await order_status(config, "1002", "ann@example.com")
    assert pending["fulfillment"] == "unfulfilled" and pending["tracking"] == []


async def test_a_wrong_email_reads_like_a_missing_order(shopify):
    """No enumeration: a real order with someone else's email and an order that does not
    exist get the same answer, and nothing of the order leaks."""
    config = {"url": shopify.url, "token": TOKEN}
    with pytest.raises(IntegrationError) as wrong_email:
        await order_status(config, "#1001", "mallory@example.com")
    with pytest.raises(IntegrationError) as no_order:
        await order_status(config, "#9999", "mallory@example.com")
    assert str(wrong_email.value) == "No order #1001 with that email address."
    assert str(no_order.value) == "No order #9999 with that email address."
    assert "USPS" not in str(wrong_email.value) and "214.93" not in str(wrong_email.value)
    # Another customer's order with this customer's email: also no.
    with pytest.raises(IntegrationError, match="No order #1002"):
        await order_status(config, "#1002", EMAIL)


@pytest.mark.parametrize("number", ["abc", "#10a1", "1001; DROP TABLE", "", "#", "1" * 13,
                                    "#1001&status=open", "../1001"])  # fmt: skip
async def test_bad_order_numbers_never_reach_the_api(shopify, number):
    with pytest.raises(IntegrationError, match="Order numbers look like #1001"):
        await order_status({"url": shopify.url, "token": TOKEN}, number, EMAIL)
    assert shopify.requests == []


@pytest.mark.parametrize("config", [None, {}, {"token": TOKEN}, {"url": ""}])
async def test_order_lookup_not_configured(config):
    with pytest.raises(IntegrationError, match="Order lookup is not available"):
        await order_status(config, "#1001", EMAIL)


async def test_order_api_failures_are_friendly(shopify, closed_port_url, short_timeout):
    good = {"url": shopify.url, "token": TOKEN}
    cases = [
        ({"url": shopify.url, "token": "shpat_wrong"}, "ok"),  # 401
        ({"url": shopify.url}, "ok"),  # no token: 401
        ({**good, "version": "1999-01"}, "ok"),  # 404
        (good, "error"),  # 500
        (good, "html"),  # 200, not JSON
        (good, "slow"),  # timeout
        ({"url": closed_port_url, "token": TOKEN}, "ok"),  # connection refused
    ]
    for config, mode in cases:
        shopify.mode = mode
        started = time.monotonic()
        with pytest.raises(IntegrationError) as failure:
            await order_status(config, "#1001", EMAIL)
        assert str(failure.value) == ORDER_UNAVAILABLE, (config, mode)
        assert time.monotonic() - started < 1.4, (config, mode)  # bounded by the timeout
    shopify.mode = "ok"
    assert (await order_status(good, "#1001", EMAIL))["order"] == "#1001"


# -- currency --------------------------------------------------------------------------------------
async def test_convert_price(frankfurter):
    result = await convert_price({"url": frankfurter.url}, 214.93, "USD", "EUR")
    # 214.93 × 0.9467 = 203.474231
    assert result == {"amount": 203.47, "currency": "EUR", "rate": 0.9467, "date": "2024-11-29",
                      "from": {"amount": 214.93, "currency": "USD"}}  # fmt: skip
    assert frankfurter.requests[-1]["path"] == "/latest"
    assert frankfurter.requests[-1]["query"] == {"from": ["USD"], "to": ["EUR"]}


@pytest.mark.parametrize(("amount", "target", "expected"), [
    (150, "EUR", 142.01),  # 142.005: half up (binary floats and half-even give 142.00)
    (0.01, "EUR", 0.01),  # 0.009467
    (10, "EUR", 9.47),  # 9.467
    (99.99, "GBP", 78.64),  # 78.642135
    (19.99, "JPY", 3002.5),  # 3002.498
    (0, "EUR", 0.0),
])  # fmt: skip
async def test_conversion_rounds_to_cents_half_up(frankfurter, amount, target, expected):
    result = await convert_price({"url": frankfurter.url}, amount, "usd", target.lower())
    assert result["amount"] == expected and result["currency"] == target


async def test_same_currency_needs_no_api(frankfurter):
    result = await convert_price({"url": frankfurter.url}, 19.99, "USD", "usd")
    assert result["amount"] == 19.99 and result["rate"] == 1.0
    assert frankfurter.requests == []


@pytest.mark.parametrize(("source", "target"), [("USD", "EURO"), ("US", "EUR"), ("USD", "€"),
                                                ("USD", "E1R"), ("USD", "EUR&to=GBP"),
                                                ("", "EUR")])  # fmt: skip
async def test_bad_currency_codes_never_reach_the_api(frankfurter, source, target):
    with pytest.raises(IntegrationError, match="three-letter codes"):
        await convert_price({"url": frankfurter.url}, 10, source, target)
    assert frankfurter.requests == []


async def test_currency_failures_are_friendly(frankfurter, closed_port_url, short_timeout):
    message = "No exchange rate for USD to EUR right now."
    for url, mode in [(frankfurter.url, "error"), (frankfurter.url, "html"),
                      (frankfurter.url, "slow"), (closed_port_url, "ok")]:  # fmt: skip
        frankfurter.mode = mode
        with pytest.raises(IntegrationError) as failure:
            await convert_price({"url": url}, 10, "USD", "EUR")
        assert str(failure.value) == message, (url, mode)
    frankfurter.mode = "ok"
    # A well-formed code the provider does not know: its 404.
    with pytest.raises(IntegrationError, match="No exchange rate for USD to XYZ"):
        await convert_price({"url": frankfurter.url}, 10, "USD", "XYZ")


@pytest.mark.parametrize("config", [None, {}, {"url": None}])
async def test_conversion_not_configured(config):
    with pytest.raises(IntegrationError, match="Currency conversion is not available"):
        await convert_price(config, 10, "USD", "EUR")


# -- through the agent's tools ---------------------------------------------------------------------
async def _context(pool, chunks, store):
    return TurnContext(Catalog(pool, chunks, store.id), store,
                       await load_vocabulary(pool, store.id))  # fmt: skip


def _tool(context, name):
    return next(t for t in context.tools() if t.name == name)


async def _call(context, name, **args):
    tool = _tool(context, name)
    return await tool.fn(tool.args(**args))


async def test_order_and_conversion_tools_use_the_stores_integrations(
    pool, chunks, stores, shopify, frankfurter
):
    store = await update_store(pool, "vendure", integrations={
        "orders": {"url": shopify.url, "token": TOKEN},
        "currency": {"url": frankfurter.url},
    })  # fmt: skip
    context = await _context(pool, chunks, store)
    order = await _call(context, "order_status", order_number="#1001", email=EMAIL)
    assert order["order"] == "#1001" and order["tracking"][0]["status"] == "in_transit"
    converted = await _call(context, "convert_price", amount=214.93, to_currency="eur")
    assert converted["amount"] == 203.47 and converted["from"]["currency"] == "USD"
    # The amounts the tools returned are true statements the answer may repeat.
    assert {Decimal("214.93"), Decimal("203.47")} <= context.amounts
    verifier = Verifier(pool, store.id, allowed=context.amounts)
    text = "Order #1001 totals $214.93 and is in transit. The Tent is about €203.47."
    checked = await verifier.verify(text)
    assert checked.text == text and checked.corrections == []
    # A figure no tool returned is still caught.
    checked = await Verifier(pool, store.id, allowed=context.amounts).verify(
        "The Tent is about €180.00."
    )
    assert "180.00" not in checked.text and checked.corrections


async def test_tool_failures_are_tool_errors(pool, chunks, stores, shopify, frankfurter,
                                             closed_port_url):  # fmt: skip
    vendure, _ = stores["vendure"]
    context = await _context(pool, chunks, vendure)  # no integrations configured
    with pytest.raises(ToolError, match="Order lookup is not available"):
        await _call(context, "order_status", order_number="#1001", email=EMAIL)
    with pytest.raises(ToolError, match="Currency conversion is not available"):
        await _call(context, "convert_price", amount=10, to_currency="EUR")

    store = await update_store(pool, "vendure", integrations={
        "orders": {"url": shopify.url, "token": "shpat_wrong"},
        "currency": {"url": closed_port_url},
    })  # fmt: skip
    context = await _context(pool, chunks, store)
    with pytest.raises(ToolError, match=ORDER_UNAVAILABLE):
        await _call(context, "order_status", order_number="#1001", email=EMAIL)
    with pytest.raises(ToolError, match="No exchange rate for USD to EUR"):
        await _call(context, "convert_price", amount=10, to_currency="EUR")

    store = await update_store(pool, "vendure", integrations={
        "orders": {"url": shopify.url, "token": TOKEN}, "currency": {"url": frankfurter.url},
    })  # fmt: skip
    context = await _context(pool, chunks, store)
    with pytest.raises(ToolError, match="No order #1001 with that email"):
        await _call(context, "order_status", order_number="1001", email="eve@example.com")
    with pytest.raises(ToolError, match="Order numbers look like"):
        await _call(context, "order_status", order_number="10O1", email=EMAIL)
    with pytest.raises(ToolError, match="three-letter codes"):
        await _call(context, "convert_price", amount=10, to_currency="E2R")
    assert context.amounts == set()  # failures teach the verifier nothing
    # The tools' schemas refuse what the model must not send.
    with pytest.raises(ValueError):
        _tool(context, "convert_price").args(amount=-5, to_currency="EUR")
    with pytest.raises(ValueError):
        _tool(context, "order_status").args(order_number="#1" * 20, email=EMAIL)


async def test_each_store_uses_its_own_integrations(pool, chunks, stores, shopify, frankfurter):
    await update_store(pool, "vendure", integrations={
        "orders": {"url": shopify.url, "token": TOKEN}, "currency": {"url": frankfurter.url},
    })  # fmt: skip
    outdoor, _ = stores["outdoor"]  # the outdoor store has none configured
    context = await _context(pool, chunks, outdoor)
    with pytest.raises(ToolError, match="not available"):
        await _call(context, "order_status", order_number="#1001", email=EMAIL)
    with pytest.raises(ToolError, match="not available"):
        await _call(context, "convert_price", amount=10, to_currency="EUR")
    assert shopify.requests == [] and frankfurter.requests == []
