"""Starting Stripe Checkout and the billing portal for an org, without ever selling twice.

An org has one Stripe customer (made on first need, the org id in its metadata). A checkout
for a product first settles the org's earlier checkouts for it: an open one is expired, so two
tabs can never complete two subscriptions, and one already paid (its webhook not here yet) is
read from Stripe and sends the org to the portal. Orgs with a subscription change plans in the
portal, never through a second checkout. Checkouts of one org and product run one at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from shared.accounts.orgs import org_name
from shared.billing import state, sync
from shared.billing.context import Billing
from shared.billing.entitlements import current_plan


class PriceMissing(LookupError):
    pass


def public_url(billing: Billing, path: str) -> str:
    return billing.settings.public_url.rstrip("/") + path


async def ensure_customer(billing: Billing, org_id: str, email: str = "") -> str:
    """The org's Stripe customer id, created on first need."""
    existing = await state.customer_for_org(billing.pool, org_id)
    if existing:
        return existing
    name = await org_name(billing.pool, org_id) or ""
    customer = await billing.gateway.create_customer(org_id, name=name, email=email)
    async with billing.pool.connection() as conn:
        await state.link_customer(conn, org_id, customer["id"])
    # Two first requests at once got the same customer (idempotency key); keep the stored one.
    return await state.customer_for_org(billing.pool, org_id) or customer["id"]


@asynccontextmanager
async def _one_at_a_time(billing: Billing, org_id: str, product: str) -> AsyncIterator[None]:
    # The lock has a connection of its own: the work inside uses the pool, and a pool full of
    # lock holders must never wait for itself. Closing the connection releases the lock.
    key = f"billing-checkout:{org_id}:{product}"
    async with await psycopg.AsyncConnection.connect(
        billing.pool.conninfo, autocommit=True, connect_timeout=10
    ) as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        yield


async def _settle_open_checkouts(billing: Billing, org_id: str, product: str) -> bool:
    """Expire the org's open checkouts for ``product``; True if one was in fact paid."""
    async with billing.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT stripe_session_id FROM billing_checkouts "
            "WHERE org_id = %s AND product = %s AND status = 'open'",
            (org_id, product),
        )
        open_ids = [row["stripe_session_id"] for row in await cur.fetchall()]
    paid = False
    for session_id in open_ids:
        session = await billing.gateway.retrieve_checkout_session(session_id)
        status = session.get("status")
        if status == "open":
            status = (await billing.gateway.expire_checkout_session(session_id)).get("status")
        if status == "complete" and session.get("subscription"):
            paid = True
            write = await sync.fetch_subscription(billing, sync.object_id(session["subscription"]))
            async with billing.pool.connection() as conn, conn.transaction():
                await write(conn)
        async with billing.pool.connection() as conn:
            await conn.execute(
                "UPDATE billing_checkouts SET status = %s WHERE stripe_session_id = %s",
                ("complete" if status == "complete" else "expired", session_id),
            )
    return paid


async def start_checkout(
    billing: Billing, org_id: str, email: str, product: str, plan_id: str
) -> str:
    """The URL to send the browser to: Stripe Checkout, or the portal for a subscribed org."""
    plan = billing.catalog.plan(product, plan_id)
    async with _one_at_a_time(billing, org_id, product):
        paid = await _settle_open_checkouts(billing, org_id, product)
        _, subscription = await current_plan(billing, org_id, product)
        customer = await ensure_customer(billing, org_id, email)
        if paid or subscription is not None:
            return await portal_url(billing, customer)
        keys = [plan.price_lookup_key] + ([plan.overage.lookup_key] if plan.overage else [])
        try:
            prices = [await billing.gateway.price_id(key) for key in keys]
        except LookupError as exc:
            raise PriceMissing(str(exc)) from None
        # Metered prices take no quantity: Stripe bills what the meter counts.
        items: list[dict[str, Any]] = [{"price": prices[0], "quantity": 1}]
        items += [{"price": price} for price in prices[1:]]
        metadata = {"org_id": org_id, "product": product, "plan": plan_id}
        session = await billing.gateway.create_checkout_session(
            {
                "mode": "subscription",
                "customer": customer,
                "client_reference_id": org_id,
                "line_items": items,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                "success_url": public_url(billing, "/account?checkout=success"),
                "cancel_url": public_url(billing, f"/pricing/{product}?checkout=cancelled"),
            },
            idempotency_key=f"ascent-checkout-{uuid.uuid4().hex}",
        )
        async with billing.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO billing_checkouts (stripe_session_id, org_id, product, plan) "
                "VALUES (%s, %s, %s, %s)",
                (session["id"], org_id, product, plan_id),
            )
    return session["url"]


async def portal_url(billing: Billing, customer_id: str) -> str:
    portal = await billing.gateway.create_portal_session(
        customer_id, public_url(billing, "/account")
    )
    return portal["url"]
