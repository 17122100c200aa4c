"""The Stripe calls billing makes, on the official SDK's ``StripeClient``, returning plain dicts.

Plain dicts keep the rest of billing independent of SDK object types and let it read both the
current API shape and older ones (``items[].price`` or ``items[].plan``; periods on the item or
on the subscription). Prices are found by lookup key and cached for a few minutes: operators
may swap the price behind a key without a deploy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import stripe

from shared.config import Settings

logger = logging.getLogger(__name__)
PRICE_CACHE_SECONDS = 300
_LOOKUP_KEYS_PER_CALL = 10  # Stripe's limit on lookup_keys[] in one list call


class StripeUnavailable(RuntimeError):
    """Stripe is not configured (billing off, or no API key)."""


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def is_duplicate_meter_event(exc: stripe.StripeError) -> bool:
    """Stripe refuses a meter event whose identifier it has already taken: proof of delivery."""
    code = getattr(exc, "code", None) or ""
    message = str(getattr(exc, "user_message", None) or exc)
    return code == "duplicate_meter_event" or "already exists with identifier" in message


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        timeout: float = 20.0,
        max_network_retries: int = 2,
    ) -> None:
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=stripe.HTTPXClient(timeout=timeout),
            max_network_retries=max_network_retries,
        )
        self._prices: dict[str, dict[str, Any]] = {}
        self._prices_at = 0.0
        self._prices_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> StripeGateway:
        if not settings.billing_enabled or settings.stripe_api_key is None:
            raise StripeUnavailable("billing is off or ASCENT_STRIPE_API_KEY is unset")
        return cls(
            settings.stripe_api_key.get_secret_value(), api_base=settings.stripe_api_base, **kwargs
        )

    # --- prices by lookup key ------------------------------------------------------------------

    async def prices(self, lookup_keys: list[str], *, refresh: bool = False) -> dict[str, dict]:
        """Active prices by lookup key (only the keys Stripe knows)."""
        async with self._prices_lock:
            stale = time.monotonic() - self._prices_at > PRICE_CACHE_SECONDS
            missing = [k for k in lookup_keys if k not in self._prices]
            if refresh or stale or missing:
                wanted = sorted(set(lookup_keys) | set(self._prices))
                fresh: dict[str, dict] = {}
                for i in range(0, len(wanted), _LOOKUP_KEYS_PER_CALL):
                    page = await self.client.v1.prices.list_async(
                        {
                            "lookup_keys": wanted[i : i + _LOOKUP_KEYS_PER_CALL],
                            "active": True,
                            "limit": 100,
                        }
                    )
                    for price in page.data:
                        fresh[price["lookup_key"]] = _plain(price)
                self._prices, self._prices_at = fresh, time.monotonic()
            return {k: self._prices[k] for k in lookup_keys if k in self._prices}

    async def price_id(self, lookup_key: str) -> str:
        found = await self.prices([lookup_key])
        if lookup_key not in found:
            raise LookupError(f"Stripe has no active price with lookup key {lookup_key!r}")
        return found[lookup_key]["id"]

    async def lookup_key_of(self, price_id: str, known_keys: list[str]) -> str | None:
        """The lookup key of a price id (subscriptions name prices by id)."""
        for refresh in (False, True):
            for key, price in (await self.prices(known_keys, refresh=refresh)).items():
                if price["id"] == price_id:
                    return key
        return None

    # --- customers, checkout, portal -----------------------------------------------------------

    async def create_customer(self, org_id: str, *, name: str = "", email: str = "") -> dict:
        params: dict[str, Any] = {"metadata": {"org_id": org_id}}
        if name:
            params["name"] = name
        if email:
            params["email"] = email
        # The key makes a retried or concurrent create return the same customer.
        customer = await self.client.v1.customers.create_async(
            params, {"idempotency_key": f"ascent-customer-{org_id}"}
        )
        return _plain(customer)

    async def retrieve_customer(self, customer_id: str) -> dict:
        return _plain(await self.client.v1.customers.retrieve_async(customer_id))

    async def list_customers(self) -> AsyncIterator[dict]:
        page = await self.client.v1.customers.list_async({"limit": 100})
        async for customer in page.auto_paging_iter():
            yield _plain(customer)

    async def create_checkout_session(self, params: dict[str, Any], idempotency_key: str) -> dict:
        session = await self.client.v1.checkout.sessions.create_async(
            params, {"idempotency_key": idempotency_key}
        )
        return _plain(session)

    async def retrieve_checkout_session(self, session_id: str) -> dict:
        return _plain(await self.client.v1.checkout.sessions.retrieve_async(session_id))

    async def expire_checkout_session(self, session_id: str) -> dict:
        return _plain(await self.client.v1.checkout.sessions.expire_async(session_id))

    async def create_portal_session(self, customer_id: str, return_url: str) -> dict:
        session = await self.client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": return_url}
        )
        return _plain(session)

    # --- subscriptions, invoices, entitlements -------------------------------------------------

    async def retrieve_subscription(self, subscription_id: str) -> dict:
        return _plain(await self.client.v1.subscriptions.retrieve_async(subscription_id))

    async def list_subscriptions(self, customer_id: str) -> AsyncIterator[dict]:
        page = await self.client.v1.subscriptions.list_async(
            {"customer": customer_id, "status": "all", "limit": 100}
        )
        async for subscription in page.auto_paging_iter():
            yield _plain(subscription)

    async def retrieve_invoice(self, invoice_id: str) -> dict:
        return _plain(await self.client.v1.invoices.retrieve_async(invoice_id))

    async def active_features(self, customer_id: str) -> list[str]:
        """Lookup keys of the customer's active Stripe Entitlements features."""
        page = await self.client.v1.entitlements.active_entitlements.list_async(
            {"customer": customer_id, "limit": 100}
        )
        return sorted({_plain(e)["lookup_key"] async for e in page.auto_paging_iter()})

    # --- catalogue set-up (``ascent billing setup``) ---------------------------------------------

    async def ensure_product(self, product_id: str, name: str) -> str:
        """A Stripe product with a stable id (``ascent_<product>``), created when missing."""
        stripe_id = f"ascent_{product_id}"
        try:
            await self.client.v1.products.retrieve_async(stripe_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise
            await self.client.v1.products.create_async(
                {"id": stripe_id, "name": name, "metadata": {"ascent_product": product_id}}
            )
        return stripe_id

    async def meters(self) -> dict[str, dict]:
        """Billing meters by event name."""
        page = await self.client.v1.billing.meters.list_async({"limit": 100})
        return {m["event_name"]: _plain(m) async for m in page.auto_paging_iter()}

    async def create_meter(self, event_name: str, display_name: str) -> dict:
        meter = await self.client.v1.billing.meters.create_async(
            {
                "display_name": display_name,
                "event_name": event_name,
                "default_aggregation": {"formula": "sum"},
            }
        )
        return _plain(meter)

    async def create_price(self, params: dict[str, Any]) -> dict:
        return _plain(await self.client.v1.prices.create_async(params))

    # --- usage ---------------------------------------------------------------------------------

    async def send_meter_event(
        self, event_name: str, customer_id: str, value: int, identifier: str, timestamp: int
    ) -> str:
        """Report usage; ``"sent"``, or ``"duplicate"`` when Stripe already has ``identifier``
        (a retry after a lost response). Other errors propagate."""
        params = {
            "event_name": event_name,
            "identifier": identifier,
            "timestamp": timestamp,
            "payload": {"stripe_customer_id": customer_id, "value": str(value)},
        }
        try:
            await self.client.v1.billing.meter_events.create_async(params)
        except stripe.InvalidRequestError as exc:
            if is_duplicate_meter_event(exc):
                return "duplicate"
            raise
        return "sent"

    async def aclose(self) -> None:
        http = self.client._requestor._client
        close = getattr(http, "close_async", None)
        if close is not None:
            await close()
