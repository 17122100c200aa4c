"""What a tenant may do now: tenant -> org -> plan -> quotas, features, rate limit.

Everything is read from local Postgres (the mirror webhooks keep); Stripe is never called on a
request. Two forms share one implementation:

- ``require_entitlement(product, tenant=dep, meter=..., feature=...)``: a FastAPI dependency
  factory; it answers 402 (problem+json, ``code`` ``quota_exceeded`` or
  ``feature_not_in_plan``) or 429 (``rate_limited``) and otherwise hands the route a ``Grant``.
- ``entitlement()`` / ``check_entitlement()``: the same for jobs and sockets.

A tenant with no organisation gets the free plan. With ``ASCENT_BILLING_ENABLED=false``
everything is allowed and nothing is limited (the single-machine default).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request
from limits import parse as parse_rate
from limits import storage, strategies

from shared.accounts import org_for_tenant
from shared.billing import clock, state, usage
from shared.billing.context import Billing, get_billing
from shared.billing.plans import FREE, Plan
from shared.web.errors import Problem


class EntitlementDenied(Problem):
    """402: a quota is used up or the plan lacks a feature. Jobs catch it; routes let it out."""

    def __init__(self, detail: str, *, code: str, **extensions: Any) -> None:
        super().__init__(402, detail, code=code, **extensions)
        self.code = code


@dataclass(frozen=True)
class Grant:
    """A tenant's plan at one moment, with its usage this period."""

    product: str
    tenant: str
    org_id: str | None
    plan: Plan
    status: str  # the subscription's status, "free", or "unlimited" (billing off)
    features: frozenset[str]
    used: dict[str, int] = field(default_factory=dict)
    period_start: datetime | None = None
    period_end: datetime | None = None
    upgrade_url: str = ""
    overage_meter: str | None = None

    @property
    def unlimited(self) -> bool:
        return self.status == "unlimited"

    def limit(self, meter: str) -> int | None:
        return None if self.unlimited else self.plan.quotas.get(meter)

    def allows(self, feature: str) -> bool:
        return self.unlimited or feature in self.features

    def remaining(self, meter: str) -> int | None:
        limit = self.limit(meter)
        return None if limit is None else max(0, limit - self.used.get(meter, 0))

    def require_feature(self, feature: str) -> None:
        if not self.allows(feature):
            raise EntitlementDenied(
                f"The {self.plan.name} plan does not include {feature!r}; upgrade to use it.",
                code="feature_not_in_plan", plan=self.plan.id, feature=feature,
                limit=None, used=None, upgrade_url=self.upgrade_url,
            )  # fmt: skip

    def require_quota(self, meter: str, quantity: int = 1) -> None:
        limit = self.limit(meter)
        if limit is None or meter == self.overage_meter:
            return  # unlimited, or usage past the quota is billed as overage
        used = self.used.get(meter, 0)
        if used + quantity > limit:
            unit = meter.replace("_", " ")
            raise EntitlementDenied(
                f"This period's {unit} quota of the {self.plan.name} plan is used up "
                f"({used} of {limit}; this needs {quantity}). Upgrade, or wait for "
                "the next period.",
                code="quota_exceeded", plan=self.plan.id, meter=meter, limit=limit, used=used,
                upgrade_url=self.upgrade_url,
                period_end=self.period_end.isoformat() if self.period_end else None,
            )  # fmt: skip


def month_of(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def current_plan(
    billing: Billing, org_id: str, product: str, now: datetime | None = None
) -> tuple[Plan, dict | None]:
    """The best plan the org's subscriptions to ``product`` unlock now, and that subscription
    (None: the free plan)."""
    now = now or clock.now()
    plans = billing.catalog.product(product).plans
    best: tuple[Plan, dict | None] = (plans[FREE], None)
    for row in await state.subscriptions_of(billing.pool, org_id, product):
        plan = plans.get(row["plan"])
        unlocked = plan and state.grants_access(row["status"], row["grace_until"], now)
        if unlocked and (best[1] is None or plan.rank > best[0].rank):
            best = (plan, row)
    return best


async def entitlement(
    billing: Billing, product: str, tenant: str, *, org_id: str | None = None
) -> Grant:
    """The tenant's grant now (never raises for quotas; see ``Grant.require_*``)."""
    catalog_product = billing.catalog.product(product)
    if not billing.enabled:
        return Grant(product, tenant, org_id, catalog_product.plans[FREE], "unlimited",
                     frozenset(catalog_product.features))  # fmt: skip
    now = clock.now()
    org_id = org_id or await org_for_tenant(billing.pool, product, tenant)
    plan, subscription = (
        await current_plan(billing, org_id, product, now)
        if org_id
        else (billing.catalog.free(product), None)
    )
    features = set(plan.features)
    start, end = month_of(now)
    if subscription is not None:
        period = subscription["current_period_start"], subscription["current_period_end"]
        if period[0] and period[1] and period[0] <= now < period[1]:
            start, end = period
        # Stripe Entitlements add features named "<product>.<feature>", while the plan is paid.
        prefix = f"{product}."
        extra = await state.features_of(billing.pool, org_id)
        features |= {f.removeprefix(prefix) for f in extra if f.startswith(prefix)}
    used = {
        meter: await usage.used(
            billing.pool, product, meter, org_id=org_id, tenant=tenant, start=start, end=end
        )
        for meter in plan.quotas
    }
    return Grant(
        product, tenant, org_id, plan, subscription["status"] if subscription else "free",
        frozenset(features), used, start, end, billing.upgrade_url(product),
        catalog_product.overage_meter(plan),
    )  # fmt: skip


async def check_entitlement(
    billing: Billing,
    product: str,
    tenant: str,
    *,
    meter: str | None = None,
    quantity: int = 1,
    feature: str | None = None,
    counted_key: str | None = None,
) -> Grant:
    """``entitlement`` plus the checks; raises ``EntitlementDenied``. Usage already recorded
    under ``counted_key`` (a conversation resumed, a PR reviewed again) is not charged again."""
    grant = await entitlement(billing, product, tenant)
    if feature:
        grant.require_feature(feature)
    if meter and not (counted_key and await usage.is_recorded(billing.pool, counted_key)):
        grant.require_quota(meter, quantity)
    return grant


# Moving windows in this process: behind several replicas each counts its own share (put a
# shared limit on the ingress, as for shopbot's limits).
_windows = strategies.MovingWindowRateLimiter(storage.MemoryStorage())


def _rate_limit(grant: Grant) -> None:
    if grant.unlimited or not grant.plan.rate_limit:
        return
    item = parse_rate(grant.plan.rate_limit)
    who = grant.org_id or f"tenant:{grant.tenant}"
    if not _windows.hit(item, grant.product, who):
        reset = _windows.get_window_stats(item, grant.product, who).reset_time
        retry = max(1, math.ceil(reset - time.time()))
        raise Problem(
            429, f"Too many requests for the {grant.plan.name} plan ({grant.plan.rate_limit}).",
            headers={"Retry-After": str(retry)}, code="rate_limited", plan=grant.plan.id,
            retry_after=retry,
        )  # fmt: skip


def require_entitlement(
    product: str,
    *,
    tenant: Callable[..., Any],
    meter: str | None = None,
    feature: str | None = None,
) -> Callable[..., Any]:
    """A dependency: the request's tenant (from the ``tenant`` dependency) must have ``feature``
    and quota left on ``meter``; the route gets the ``Grant`` to check amounts it learns later."""

    # Depends() as a default, not in Annotated: the annotation is a string (PEP 563) and
    # ``tenant`` is a closure variable it could not be resolved from.
    async def dependency(request: Request, tenant_id: str = Depends(tenant)) -> Grant:
        grant = await entitlement(get_billing(request), product, str(tenant_id))
        _rate_limit(grant)
        if feature:
            grant.require_feature(feature)
        if meter:
            grant.require_quota(meter, 1)
        return grant

    return dependency
