"""``Billing``: what billing code needs (settings, pool, plans, the Stripe gateway), built once
per app or worker process."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from shared.billing.plans import Catalog, load_plans
from shared.billing.stripe_client import StripeGateway
from shared.config import Settings


class Billing:
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool,
        *,
        catalog: Catalog | None = None,
        gateway: StripeGateway | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.catalog = catalog or load_plans(settings.billing_plans_file)
        self._gateway = gateway

    @property
    def enabled(self) -> bool:
        return self.settings.billing_enabled

    @property
    def gateway(self) -> StripeGateway:
        # Built on first use: with billing off, nothing ever talks to Stripe.
        if self._gateway is None:
            self._gateway = StripeGateway.from_settings(self.settings)
        return self._gateway

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.settings.billing_grace_days)

    def upgrade_url(self, product: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/pricing/{product}"

    async def aclose(self) -> None:
        if self._gateway is not None:
            await self._gateway.aclose()


def billing_for_app(app: Any) -> Billing:
    """The app's ``Billing`` (built on first use from its settings and pool)."""
    state = app.state
    billing = getattr(state, "billing", None)
    if billing is None:
        billing = state.billing = Billing(state.settings, state.pool)
    return billing


def get_billing(request: Request) -> Billing:
    return billing_for_app(request.app)


BillingDep = Annotated[Billing, Depends(get_billing)]
