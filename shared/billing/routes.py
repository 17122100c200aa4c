"""Browser-facing billing: checkout and portal redirects, and the account summary JSON.

Every route acts for the signed-in session's organisation only; an org id is never taken from
the request (a form naming another org is refused). Unsafe methods need the CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse

from shared.accounts import SessionDep, require_csrf
from shared.billing.account import account_summary
from shared.billing.checkout import PriceMissing, ensure_customer, portal_url, start_checkout
from shared.billing.context import Billing, BillingDep
from shared.web.errors import Problem

router = APIRouter(tags=["billing"])


def _require_enabled(billing: Billing) -> None:
    if not billing.enabled:
        raise Problem(404, "Billing is not enabled on this server.", code="billing_disabled")


def _own_org(session_org: str, form_org: str | None) -> str:
    if form_org and form_org != session_org:
        raise Problem(403, "You can only manage the billing of the organization you are "
                      "signed in to.", code="wrong_org")  # fmt: skip
    return session_org


@contextmanager
def _stripe_errors() -> Iterator[None]:
    try:
        yield
    except PriceMissing as exc:
        raise Problem(503, f"{exc}; run `ascent billing setup`.", code="price_missing") from None
    except stripe.StripeError as exc:
        raise Problem(502, "Stripe could not be reached; try again in a moment.",
                      code="stripe_unavailable") from exc  # fmt: skip


@router.post("/billing/checkout", dependencies=[Depends(require_csrf)])
async def checkout(
    session: SessionDep,
    billing: BillingDep,
    product: Annotated[str, Form(max_length=40)],
    plan: Annotated[str, Form(max_length=40)],
    org_id: Annotated[str | None, Form(max_length=80)] = None,
) -> RedirectResponse:
    """303 to Stripe Checkout for a paid plan; an org already subscribed to the product goes
    to the billing portal, where plans change without a second subscription."""
    _require_enabled(billing)
    org = _own_org(session.org_id, org_id)
    try:
        chosen = billing.catalog.plan(product, plan)
    except KeyError as exc:
        raise Problem(422, str(exc.args[0]), code="unknown_plan") from None
    if not chosen.paid:
        raise Problem(422, "The free plan needs no checkout.", code="unknown_plan")
    with _stripe_errors():
        url = await start_checkout(billing, org, session.email, product, plan)
    return RedirectResponse(url, status_code=303)


@router.post("/billing/portal", dependencies=[Depends(require_csrf)])
async def portal(
    session: SessionDep,
    billing: BillingDep,
    org_id: Annotated[str | None, Form(max_length=80)] = None,
) -> RedirectResponse:
    """303 to Stripe's billing portal: payment methods, invoices, plan changes, cancellation."""
    _require_enabled(billing)
    org = _own_org(session.org_id, org_id)
    with _stripe_errors():
        url = await portal_url(billing, await ensure_customer(billing, org, session.email))
    return RedirectResponse(url, status_code=303)


@router.get("/v1/billing/account", summary="The signed-in org's plans, usage and features")
async def account(session: SessionDep, billing: BillingDep) -> dict[str, Any]:
    return await account_summary(billing, session.org_id)
