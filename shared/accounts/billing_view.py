"""What the account and pricing pages show of billing, read through shared.billing.

This is the one module that knows billing's shapes: the plan catalogue
(``shared.billing.plans``) and the account summary that ``GET /v1/billing/account`` serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request

from shared.billing import account_summary, get_billing

CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


@dataclass(frozen=True)
class PlanCard:
    key: str
    name: str
    price: str
    quotas: list[tuple[str, str]]  # (label, value)
    features: list[str]
    lookup_key: str | None
    # Free plans need no checkout: every organisation has them.
    checkout: bool


def format_price(minor_units: int, currency: str) -> str:
    amount = minor_units / 100
    text = f"{amount:,.0f}" if minor_units % 100 == 0 else f"{amount:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    per = " / month"
    return f"{symbol}{text}{per}" if symbol else f"{text} {currency.upper()}{per}"


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}" + ("" if n == 1 else "s")


def billing_enabled(request: Request) -> bool:
    return get_billing(request).enabled


def pricing_plans(request: Request, product: str) -> list[PlanCard]:
    """The product's plans, cheapest first, from the app's plan catalogue (plans.toml)."""
    catalog = get_billing(request).catalog
    if product not in catalog.products:
        return []
    spec = catalog.products[product]
    cards = []
    for plan in sorted(spec.plans.values(), key=lambda p: p.rank):
        quotas = [
            ("a month", _count(n, spec.meters[meter].unit)) for meter, n in plan.quotas.items()
        ]
        cards.append(
            PlanCard(
                key=plan.id,
                name=plan.name,
                price=format_price(plan.monthly_price, catalog.currency),
                quotas=quotas,
                features=[spec.features[f] for f in plan.features],
                lookup_key=plan.price_lookup_key,
                checkout=plan.paid,
            )
        )
    return cards


@dataclass(frozen=True)
class UsageLine:
    label: str
    used: int
    quota: int | None
    unit: str = ""
    # Usage past the quota is billed, not refused.
    overage: bool = False

    @property
    def over(self) -> bool:
        return self.quota is not None and self.used > self.quota


@dataclass(frozen=True)
class ProductStatus:
    product: str
    plan_name: str
    status: str
    paid: bool
    period_end: datetime | None = None
    cancel_at_period_end: bool = False
    grace_until: datetime | None = None
    usage: list[UsageLine] = field(default_factory=list)
    features: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        if self.status == "unlimited":
            return "Unlimited"
        return self.status.replace("_", " ").capitalize()

    @property
    def period_label(self) -> str:
        if not self.paid:
            return "Usage resets"
        return "Ends" if self.cancel_at_period_end else "Renews"

    @property
    def tone(self) -> str:
        if self.grace_until is not None or self.status in {"past_due", "unpaid", "incomplete"}:
            return "warn"
        if self.status in {"canceled", "incomplete_expired"}:
            return "bad"
        return "ok" if self.status in {"active", "trialing", "unlimited"} else "neutral"


@dataclass(frozen=True)
class AccountBilling:
    enabled: bool
    products: list[ProductStatus]


def _plural(n: int, unit: str) -> str:
    return unit if n == 1 else unit + "s"


def from_summary(summary: dict[str, Any], catalog: Any) -> AccountBilling:
    """The page's view of billing's account summary (the ``/v1/billing/account`` body)."""
    products = []
    for product_id, p in summary["products"].items():
        feature_names = catalog.products[product_id].features
        usage = [
            UsageLine(
                label=m["description"] or m["unit"],
                used=m["used"],
                quota=m["limit"],
                unit=_plural(m["limit"] if m["limit"] is not None else m["used"], m["unit"]),
                overage=m["overage"],
            )
            for m in p["usage"].values()
        ]
        products.append(
            ProductStatus(
                product=product_id,
                plan_name=p["plan_name"],
                status=p["status"],
                paid=p["paid"],
                period_end=p["period_end"],
                cancel_at_period_end=p["cancel_at_period_end"],
                grace_until=p["grace_until"],
                usage=usage,
                features=[feature_names.get(f, f) for f in p["features"]],
            )
        )
    return AccountBilling(enabled=summary["billing_enabled"], products=products)


async def account_billing(request: Request, org_id: str) -> AccountBilling:
    """The org's plans, usage and features, as ``GET /v1/billing/account`` reports them."""
    billing = get_billing(request)
    return from_summary(await account_summary(billing, org_id), billing.catalog)
