"""The local mirror of Stripe: customers, subscriptions and entitlements, as SQL.

Writes carry the time their data was read from Stripe, and a write older than the stored row
is dropped: webhooks arrive in any order, and two handlers may race, but the newest read wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# Stripe statuses in which a failed payment is being retried: the plan lasts the grace period.
DUNNING = ("past_due", "unpaid")
PAYING = ("active", "trialing")


@dataclass(frozen=True)
class SubscriptionState:
    """What billing keeps of one Stripe subscription."""

    subscription_id: str
    customer_id: str
    product: str
    plan: str
    status: str
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool


def grants_access(status: str, grace_until: datetime | None, now: datetime) -> bool:
    """Whether a subscription in this state unlocks its plan at ``now``."""
    if status in PAYING:
        return True
    if status in DUNNING:
        return grace_until is not None and now < grace_until
    return False  # canceled, incomplete, incomplete_expired, paused


async def org_for_customer(pool: AsyncConnectionPool, customer_id: str) -> str | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT org_id FROM billing_customers WHERE stripe_customer_id = %s", (customer_id,)
        )
        row = await cur.fetchone()
    return row["org_id"] if row else None


async def customer_for_org(pool: AsyncConnectionPool, org_id: str) -> str | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT stripe_customer_id FROM billing_customers WHERE org_id = %s", (org_id,)
        )
        row = await cur.fetchone()
    return row["stripe_customer_id"] if row else None


async def link_customer(conn: AsyncConnection, org_id: str, customer_id: str) -> None:
    """Remember the org's customer; an org keeps its first one (a second, made by hand in the
    Stripe dashboard, still bills: its subscriptions carry the org id themselves)."""
    await conn.execute(
        "INSERT INTO billing_customers (org_id, stripe_customer_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING",
        (org_id, customer_id),
    )


async def save_subscription(
    conn: AsyncConnection,
    state: SubscriptionState,
    org_id: str,
    *,
    read_at: datetime,
    grace: timedelta,
) -> bool:
    """Store the state read from Stripe at ``read_at``; False when a newer read is stored.

    Grace starts the first time the subscription is seen in dunning and ends with it, so a
    retried payment that succeeds clears it and a late duplicate failure cannot extend it."""
    cur = await conn.execute(
        """
        INSERT INTO billing_subscriptions AS s (
            stripe_subscription_id, org_id, product, plan, status, stripe_customer_id,
            current_period_start, current_period_end, cancel_at_period_end, grace_until,
            updated_from_stripe_at)
        VALUES (%(id)s, %(org)s, %(product)s, %(plan)s, %(status)s, %(customer)s,
            %(start)s, %(end)s, %(cancel)s,
            CASE WHEN %(status)s = ANY(%(dunning)s) THEN %(grace_until)s::timestamptz END,
            %(read_at)s)
        ON CONFLICT (stripe_subscription_id) DO UPDATE SET
            org_id = EXCLUDED.org_id, product = EXCLUDED.product, plan = EXCLUDED.plan,
            status = EXCLUDED.status, stripe_customer_id = EXCLUDED.stripe_customer_id,
            current_period_start = EXCLUDED.current_period_start,
            current_period_end = EXCLUDED.current_period_end,
            cancel_at_period_end = EXCLUDED.cancel_at_period_end,
            grace_until = CASE WHEN EXCLUDED.status = ANY(%(dunning)s)
                               THEN coalesce(s.grace_until, EXCLUDED.grace_until) END,
            updated_from_stripe_at = EXCLUDED.updated_from_stripe_at
        WHERE s.updated_from_stripe_at <= EXCLUDED.updated_from_stripe_at
        RETURNING 1
        """,
        {
            "id": state.subscription_id,
            "org": org_id,
            "product": state.product,
            "plan": state.plan,
            "status": state.status,
            "customer": state.customer_id,
            "start": state.period_start,
            "end": state.period_end,
            "cancel": state.cancel_at_period_end,
            "dunning": list(DUNNING),
            "grace_until": read_at + grace,
            "read_at": read_at,
        },
    )
    return await cur.fetchone() is not None


async def save_features(
    conn: AsyncConnection, customer_id: str, features: list[str], *, read_at: datetime
) -> bool:
    cur = await conn.execute(
        "UPDATE billing_customers SET features = %s, features_refreshed_at = %s "
        "WHERE stripe_customer_id = %s "
        "AND (features_refreshed_at IS NULL OR features_refreshed_at <= %s) RETURNING 1",
        (features, read_at, customer_id, read_at),
    )
    return await cur.fetchone() is not None


async def subscriptions_of(
    pool: AsyncConnectionPool, org_id: str, product: str | None = None
) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM billing_subscriptions WHERE org_id = %s "
            "AND (%s::text IS NULL OR product = %s) ORDER BY updated_from_stripe_at DESC",
            (org_id, product, product),
        )
        return await cur.fetchall()


async def features_of(pool: AsyncConnectionPool, org_id: str) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT features FROM billing_customers WHERE org_id = %s", (org_id,)
        )
        row = await cur.fetchone()
    return list(row["features"]) if row else []


async def stale_subscriptions(pool: AsyncConnectionPool, now: datetime) -> list[str]:
    """Subscriptions whose stored period ended (a renewal or cancellation webhook is overdue)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT stripe_subscription_id FROM billing_subscriptions "
            "WHERE status NOT IN ('canceled', 'incomplete_expired') AND current_period_end < %s",
            (now,),
        )
        return [row["stripe_subscription_id"] for row in await cur.fetchall()]
