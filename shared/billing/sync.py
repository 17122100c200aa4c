"""Reading Stripe's current state into the local mirror: one subscription (webhooks), the
stale ones (a periodic job), or everything (``ascent billing sync``).

State is always re-fetched from Stripe, never taken from an event payload: events arrive late,
twice and out of order, but a fresh read is the truth at the moment it was made.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import stripe
from psycopg import AsyncConnection

from shared.billing import clock, state
from shared.billing.context import Billing
from shared.billing.state import SubscriptionState

logger = logging.getLogger(__name__)
Apply = Callable[[AsyncConnection], Awaitable[str]]


def object_id(value: Any) -> str | None:
    """An id from a field that may hold the id or the expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def is_missing(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.InvalidRequestError) and exc.http_status == 404


async def read_subscription(billing: Billing, sub: dict[str, Any]) -> SubscriptionState | None:
    """The local state of a Stripe subscription, or None when no item is one of our plans."""
    for item in (sub.get("items") or {}).get("data", []):
        # Current API: items[].price; older shapes (and localstripe): items[].plan.
        price = item.get("price") or item.get("plan") or {}
        key = price.get("lookup_key")
        if key is None and price.get("id"):
            key = await billing.gateway.lookup_key_of(price["id"], billing.catalog.lookup_keys())
        found = billing.catalog.by_lookup_key(key) if key else None
        if found is None:
            continue  # a metered overage item, or a price that is not ours
        product, plan = found
        # Since API 2025-03-31 periods live on the item; before, on the subscription.
        start = item.get("current_period_start") or sub.get("current_period_start")
        end = item.get("current_period_end") or sub.get("current_period_end")
        return SubscriptionState(
            subscription_id=sub["id"],
            customer_id=object_id(sub["customer"]),
            product=product.id,
            plan=plan.id,
            status=sub["status"],
            period_start=clock.from_unix(start),
            period_end=clock.from_unix(end),
            cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        )
    return None


async def org_of_customer(billing: Billing, customer_id: str) -> str | None:
    """The org paying through this customer: our link, else the org id we put in its metadata."""
    org_id = await state.org_for_customer(billing.pool, customer_id)
    if org_id is not None:
        return org_id
    try:
        customer = await billing.gateway.retrieve_customer(customer_id)
    except stripe.StripeError as exc:
        if is_missing(exc):
            return None
        raise
    return (customer.get("metadata") or {}).get("org_id") or None


async def fetch_subscription(
    billing: Billing, subscription_id: str, *, deleted: bool = False
) -> Apply:
    """Read a subscription from Stripe now; returns the write that stores what was read.
    ``deleted``: the event said it ended, so one Stripe no longer has is ended here too."""
    read_at = clock.now()
    try:
        sub = await billing.gateway.retrieve_subscription(subscription_id)
    except stripe.StripeError as exc:
        if not is_missing(exc):
            raise
        if deleted:
            return _ended(subscription_id, read_at)
        return no_change(f"subscription {subscription_id} not found at Stripe")
    return await subscription_write(billing, sub, read_at)


def _ended(subscription_id: str, read_at) -> Apply:
    async def write(conn: AsyncConnection) -> str:
        await conn.execute(
            "UPDATE billing_subscriptions SET status = 'canceled', grace_until = NULL, "
            "updated_from_stripe_at = %s "
            "WHERE stripe_subscription_id = %s AND updated_from_stripe_at <= %s",
            (read_at, subscription_id, read_at),
        )
        return f"subscription {subscription_id}: gone at Stripe, ended"

    return write


async def subscription_write(billing: Billing, sub: dict[str, Any], read_at) -> Apply:
    sub_state = await read_subscription(billing, sub)
    if sub_state is None:
        return no_change(f"subscription {sub['id']}: no price of ours")
    org_id = await org_of_customer(billing, sub_state.customer_id)
    if org_id is None:
        logger.warning("subscription %s: customer %s belongs to no org", sub["id"],
                       sub_state.customer_id)  # fmt: skip
        return no_change(f"subscription {sub['id']}: customer without org")

    async def write(conn: AsyncConnection) -> str:
        await state.link_customer(conn, org_id, sub_state.customer_id)
        stored = await state.save_subscription(
            conn, sub_state, org_id, read_at=read_at, grace=billing.grace
        )
        label = f"{sub_state.product} {sub_state.plan} {sub_state.status}"
        return f"subscription {sub_state.subscription_id}: {label}" + (
            "" if stored else " (a newer read is stored)"
        )

    return write


def no_change(outcome: str) -> Apply:
    async def write(conn: AsyncConnection) -> str:
        return outcome

    return write


async def fetch_features(billing: Billing, customer_id: str) -> Apply:
    read_at = clock.now()
    features = await billing.gateway.active_features(customer_id)
    org_id = await org_of_customer(billing, customer_id)

    async def write(conn: AsyncConnection) -> str:
        if org_id:
            await state.link_customer(conn, org_id, customer_id)
        stored = await state.save_features(conn, customer_id, features, read_at=read_at)
        return f"features of {customer_id}: {', '.join(features) or 'none'}" + (
            "" if stored else " (not stored: unknown customer or newer read)"
        )

    return write


@dataclass
class SyncReport:
    customers: int = 0
    subscriptions: int = 0
    skipped: int = 0


async def sync_all(billing: Billing, on_item: Callable[[str], None] | None = None) -> SyncReport:
    """Reconcile every customer that names an org, and all their subscriptions, from Stripe."""
    report = SyncReport()
    async for customer in billing.gateway.list_customers():
        org_id = await state.org_for_customer(billing.pool, customer["id"]) or (
            (customer.get("metadata") or {}).get("org_id")
        )
        if not org_id:
            report.skipped += 1
            continue
        report.customers += 1
        async with billing.pool.connection() as conn:
            await state.link_customer(conn, org_id, customer["id"])
        async for sub in billing.gateway.list_subscriptions(customer["id"]):
            write = await subscription_write(billing, sub, clock.now())
            async with billing.pool.connection() as conn, conn.transaction():
                outcome = await write(conn)
            report.subscriptions += 1
            if on_item:
                on_item(outcome)
        features = await fetch_features(billing, customer["id"])
        async with billing.pool.connection() as conn, conn.transaction():
            await features(conn)
    return report


async def refresh_stale(billing: Billing) -> int:
    """Re-read subscriptions whose period ended without news: a lost renewal or cancellation
    webhook neither locks out a paying customer nor leaves a cancelled one unlocked for long."""
    count = 0
    for subscription_id in await state.stale_subscriptions(billing.pool, clock.now()):
        write = await fetch_subscription(billing, subscription_id)
        async with billing.pool.connection() as conn, conn.transaction():
            await write(conn)
        count += 1
    return count
