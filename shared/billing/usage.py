"""Metered usage: recorded once per idempotency key, counted for quotas, reported to Stripe.

``record_usage`` inserts a row whose idempotency key is unique, so a retried job or a resent
message never counts twice. Usage of an org whose plan sells overage is *billable*: the row
names the Stripe customer and meter event, and ``report_usage`` (the ``billing:report_usage``
job, every 5 minutes, or ``ascent billing report``) sends it as a meter event whose
``identifier`` is the same key. When a report's answer is lost (a timeout after Stripe took
it), the row stays unreported and the next run sends it again; Stripe refuses the repeated
identifier, which proves delivery, and the row is marked reported: counted once.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime

import stripe
from psycopg_pool import AsyncConnectionPool

from shared.accounts import org_for_tenant
from shared.billing import clock
from shared.billing.context import Billing

logger = logging.getLogger(__name__)
MAX_REPORT_ATTEMPTS = 12
MAX_KEY = 100


def stored_key(idempotency_key: str) -> str:
    """Keys fit Stripe's 100-character identifier; longer ones keep a prefix and a digest."""
    if len(idempotency_key) <= MAX_KEY:
        return idempotency_key
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{idempotency_key[: MAX_KEY - 65]}:{digest}"


def whole_units(amount: float) -> int:
    """Usage is billed in whole units, rounded up (a 61 s recording is 2 minutes)."""
    return max(1, math.ceil(round(amount, 6)))


async def record_usage(
    billing: Billing,
    product: str,
    tenant: str,
    meter: str,
    quantity: int,
    idempotency_key: str,
    *,
    org_id: str | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Count ``quantity`` of ``meter`` for a tenant; False if this key was already counted."""
    from shared.billing.entitlements import current_plan  # entitlements reads usage too

    catalog_product = billing.catalog.product(product)
    if meter not in catalog_product.meters:
        raise ValueError(f"{product} has no meter {meter!r}")
    if quantity <= 0:
        raise ValueError("usage quantity must be positive")
    org_id = org_id or await org_for_tenant(billing.pool, product, tenant)
    customer_id = event_name = None
    if billing.enabled and org_id:
        plan, subscription = await current_plan(billing, org_id, product)
        if subscription and catalog_product.overage_meter(plan) == meter:
            customer_id = subscription["stripe_customer_id"]
            event_name = catalog_product.meters[meter].event_name
    async with billing.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO billing_usage (idempotency_key, product, tenant, org_id, meter, "
            "quantity, occurred_at, stripe_customer_id, event_name) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (stored_key(idempotency_key), product, tenant, org_id, meter, quantity,
             occurred_at or clock.now(), customer_id, event_name),
        )  # fmt: skip
        return await cur.fetchone() is not None


async def is_recorded(pool: AsyncConnectionPool, idempotency_key: str) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM billing_usage WHERE idempotency_key = %s", (stored_key(idempotency_key),)
        )
        return await cur.fetchone() is not None


async def used(
    pool: AsyncConnectionPool,
    product: str,
    meter: str,
    *,
    org_id: str | None,
    tenant: str,
    start: datetime,
    end: datetime,
) -> int:
    """Usage in ``[start, end)``: the whole org's when it has one, else the lone tenant's."""
    if org_id:
        query = (
            "SELECT coalesce(sum(quantity), 0) AS n FROM billing_usage WHERE org_id = %s "
            "AND product = %s AND meter = %s AND occurred_at >= %s AND occurred_at < %s"
        )
        params: tuple = (org_id, product, meter, start, end)
    else:
        query = (
            "SELECT coalesce(sum(quantity), 0) AS n FROM billing_usage WHERE org_id IS NULL "
            "AND tenant = %s AND product = %s AND meter = %s "
            "AND occurred_at >= %s AND occurred_at < %s"
        )
        params = (tenant, product, meter, start, end)
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        return int((await cur.fetchone())["n"])


@dataclass
class ReportResult:
    sent: int = 0
    duplicates: int = 0
    failed: int = 0


async def report_usage(billing: Billing, *, limit: int = 500) -> ReportResult:
    """Send billable, unreported usage to Stripe as meter events (oldest first)."""
    result = ReportResult()
    async with billing.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, idempotency_key, event_name, stripe_customer_id, quantity, occurred_at "
            "FROM billing_usage WHERE reported_at IS NULL AND event_name IS NOT NULL "
            "AND report_attempts < %s ORDER BY id LIMIT %s",
            (MAX_REPORT_ATTEMPTS, limit),
        )
        rows = await cur.fetchall()
    for row in rows:
        error = None
        try:
            outcome = await billing.gateway.send_meter_event(
                row["event_name"], row["stripe_customer_id"], row["quantity"],
                row["idempotency_key"], int(row["occurred_at"].timestamp()),
            )  # fmt: skip
        except stripe.StripeError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            outcome = "failed"
        async with billing.pool.connection() as conn:
            await conn.execute(
                "UPDATE billing_usage SET report_attempts = report_attempts + 1, "
                "report_error = %s, reported_at = CASE WHEN %s::text IS NULL THEN %s END "
                "WHERE id = %s",
                (error, error, clock.now(), row["id"]),
            )
        if outcome == "sent":
            result.sent += 1
        elif outcome == "duplicate":
            result.duplicates += 1
        else:
            result.failed += 1
            logger.warning("usage %s not reported: %s", row["idempotency_key"], error)
            if error and error.startswith(("APIConnectionError", "APIError", "RateLimitError")):
                break  # Stripe is unreachable or busy: the next run resumes here
    return result


async def usage_rows(
    pool: AsyncConnectionPool,
    *,
    start: datetime,
    end: datetime,
    org_id: str | None = None,
    product: str | None = None,
) -> list[dict]:
    """Usage per org (or lone tenant), product and meter in ``[start, end)``, with how much of
    the billable part Stripe has, for ``ascent billing usage``."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(org_id, 'tenant ' || tenant) AS who, org_id, product, meter, "
            "sum(quantity) AS used, "
            "coalesce(sum(quantity) FILTER (WHERE event_name IS NOT NULL), 0) AS billable, "
            "coalesce(sum(quantity) FILTER (WHERE reported_at IS NOT NULL), 0) AS reported, "
            "count(*) FILTER (WHERE event_name IS NOT NULL AND reported_at IS NULL "
            "AND report_error IS NOT NULL) AS failing "
            "FROM billing_usage WHERE occurred_at >= %s AND occurred_at < %s "
            "AND (%s::text IS NULL OR org_id = %s) AND (%s::text IS NULL OR product = %s) "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4",
            (start, end, org_id, org_id, product, product),
        )
        return await cur.fetchall()
