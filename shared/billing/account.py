"""The account summary: per product, the org's plan, status, period, grace, usage and features
(``GET /v1/billing/account``, and the account page)."""

from __future__ import annotations

from typing import Any

from shared.billing import clock, state, usage
from shared.billing.context import Billing
from shared.billing.entitlements import current_plan, entitlement, month_of


async def account_summary(billing: Billing, org_id: str) -> dict[str, Any]:
    """Per product: plan, status, period, grace, usage against quota and features."""
    products: dict[str, Any] = {}
    for product in billing.catalog.products.values():
        grant = await entitlement(billing, product.id, "", org_id=org_id)
        _, subscription = await current_plan(billing, org_id, product.id)
        # Billing off: no plan periods, but this month's usage is still worth showing.
        start, end = (
            (grant.period_start, grant.period_end) if grant.period_start else month_of(clock.now())
        )
        meters = {}
        for meter, spec in product.meters.items():
            used = grant.used.get(meter)
            if used is None:
                used = await usage.used(billing.pool, product.id, meter, org_id=org_id,
                                        tenant="", start=start, end=end)  # fmt: skip
            meters[meter] = {
                "used": used,
                "limit": grant.limit(meter),
                "unit": spec.unit,
                "description": spec.description,
                "overage": meter == grant.overage_meter,
            }
        products[product.id] = {
            "name": product.name,
            "plan": grant.plan.id,
            "plan_name": grant.plan.name,
            "paid": grant.plan.paid,
            "status": grant.status,
            "period_start": start,
            "period_end": end,
            "cancel_at_period_end": bool(subscription and subscription["cancel_at_period_end"]),
            "grace_until": subscription["grace_until"] if subscription else None,
            "usage": meters,
            "features": sorted(grant.features),
        }
    return {
        "org_id": org_id,
        "billing_enabled": billing.enabled,
        "has_customer": await state.customer_for_org(billing.pool, org_id) is not None,
        "products": products,
        # Invoices and payment methods live in Stripe's portal: POST here (with the CSRF token).
        "portal_url": "/billing/portal",
        "checkout_url": "/billing/checkout",
    }
