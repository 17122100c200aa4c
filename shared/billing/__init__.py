"""Stripe billing for every product: plans, checkout, webhooks, entitlements and metering.

Mount ``billing_router`` in a service (``shared.web.create_app`` does it for all of them).
Services check quotas and features with ``require_entitlement`` (routes) or
``check_entitlement`` (jobs, sockets) and count usage with ``record_usage``.
"""

from fastapi import APIRouter

from shared.billing import routes, webhooks
from shared.billing.account import account_summary
from shared.billing.context import Billing, BillingDep, billing_for_app, get_billing
from shared.billing.entitlements import (
    EntitlementDenied,
    Grant,
    check_entitlement,
    entitlement,
    require_entitlement,
)
from shared.billing.plans import Catalog, PlansError, load_plans
from shared.billing.usage import record_usage, whole_units

billing_router = APIRouter()
billing_router.include_router(webhooks.router)
billing_router.include_router(routes.router)

__all__ = [
    "Billing",
    "BillingDep",
    "Catalog",
    "EntitlementDenied",
    "Grant",
    "PlansError",
    "account_summary",
    "billing_for_app",
    "billing_router",
    "check_entitlement",
    "entitlement",
    "get_billing",
    "load_plans",
    "record_usage",
    "require_entitlement",
    "whole_units",
]
