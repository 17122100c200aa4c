"""External APIs a store can connect, configured per store in ``shop_stores.integrations``:

- ``orders``: the store's order API in Shopify's Admin REST shape
  (``GET {url}/admin/api/{version}/orders.json?name=%231001&status=any`` with the
  ``X-Shopify-Access-Token`` header), config ``{"url", "token", "version"?}``;
- ``currency``: exchange rates in the Frankfurter API's shape
  (``GET {url}/latest?from=USD&to=EUR`` → ``{"amount", "base", "date", "rates": {...}}``),
  config ``{"url"}``.

Failures (not configured, timeouts, HTTP errors) come back as plain messages for the
assistant to relay; nothing here raises into the chat.
"""

from __future__ import annotations

import logging
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

logger = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
_ORDER_NUMBER = re.compile(r"^#?\d{1,12}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class IntegrationError(RuntimeError):
    """A message fit to show the shopper."""


async def order_status(config: dict[str, Any] | None, order_number: str, email: str) -> dict:
    """The status of one order, only if ``email`` matches the order's (no order enumeration)."""
    if not config or not config.get("url"):
        raise IntegrationError("Order lookup is not available for this store.")
    number = order_number.strip()
    if not _ORDER_NUMBER.match(number):
        raise IntegrationError("Order numbers look like #1001.")
    name = number if number.startswith("#") else f"#{number}"
    version = config.get("version", "2024-10")
    url = f"{config['url'].rstrip('/')}/admin/api/{version}/orders.json"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(
                url, params={"name": name, "status": "any"},
                headers={"X-Shopify-Access-Token": config.get("token", "")},
            )  # fmt: skip
        response.raise_for_status()
        orders = response.json().get("orders", [])
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("order API failed: %s", type(exc).__name__)
        raise IntegrationError("The order system is not answering right now.") from None
    match = [o for o in orders if str(o.get("email", "")).lower() == email.strip().lower()]
    if not match:
        raise IntegrationError(f"No order {name} with that email address.")
    order = match[0]
    fulfillments = order.get("fulfillments") or []
    tracking = [
        {"company": f.get("tracking_company"), "number": f.get("tracking_number"),
         "status": f.get("shipment_status") or f.get("status")}
        for f in fulfillments
    ]  # fmt: skip
    return {
        "order": order.get("name"),
        "placed": order.get("created_at"),
        "payment": order.get("financial_status"),
        "fulfillment": order.get("fulfillment_status") or "unfulfilled",
        "cancelled": bool(order.get("cancelled_at")),
        "total": order.get("total_price"),
        "currency": order.get("currency"),
        "tracking": tracking,
    }


async def convert_price(
    config: dict[str, Any] | None, amount: float, from_currency: str, to_currency: str
) -> dict:
    """``amount`` converted at today's rate (rounded to cents), with the rate and its date."""
    if not config or not config.get("url"):
        raise IntegrationError("Currency conversion is not available for this store.")
    source, target = from_currency.upper(), to_currency.upper()
    if not (_CURRENCY.match(source) and _CURRENCY.match(target)):
        raise IntegrationError("Currencies are three-letter codes such as EUR.")
    if source == target:
        return {"amount": amount, "currency": target, "rate": 1.0, "date": None}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(f"{config['url'].rstrip('/')}/latest",
                                        params={"from": source, "to": target})  # fmt: skip
        response.raise_for_status()
        body = response.json()
        rate = Decimal(str(body["rates"][target]))
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        logger.warning("currency API failed: %s", type(exc).__name__)
        raise IntegrationError(f"No exchange rate for {source} to {target} right now.") from None
    converted = (Decimal(str(amount)) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {"amount": float(converted), "currency": target, "rate": float(rate),
            "date": body.get("date"), "from": {"amount": amount, "currency": source}}  # fmt: skip
