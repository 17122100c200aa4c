"""Browser-facing billing: checkout and portal redirects, and the account summary JSON.

Every route acts for the signed-in session's organisation only; an org id is never taken from
the request (a form naming another org is refused). Unsafe methods need the CSRF token.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse

from shared.accounts import SessionDep, require_csrf
from shared.accounts.orgs import org_name
from shared.billing import clock, state, sync, usage
from shared.billing.context import Billing, BillingDep
from shared.billing.entitlements import current_plan, entitlement, month_of
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


def _url(billing: Billing, path: str) -> str:
    return billing.settings.public_url.rstrip("/") + path


async def ensure_customer(billing: Billing, org_id: str, email: str = "") -> str:
    """The org's Stripe customer, created (with the org id in its metadata) on first need."""
    existing = await state.customer_for_org(billing.pool, org_id)
    if existing:
        return existing
    name = await org_name(billing.pool, org_id) or ""
    customer = await billing.gateway.create_customer(org_id, name=name, email=email)
    async with billing.pool.connection() as conn:
        await state.link_customer(conn, org_id, customer["id"])
    # Two first requests at once: both got the same customer (idempotency key); keep the stored.
    return await state.customer_for_org(billing.pool, org_id) or customer["id"]


async def _settle_open_checkouts(billing: Billing, org_id: str, product: str) -> bool:
    """Expire the org's open checkouts for ``product``; True if one was in fact completed
    (its webhook not yet here), so the org is subscribed already."""
    async with billing.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT stripe_session_id FROM billing_checkouts "
            "WHERE org_id = %s AND product = %s AND status = 'open'",
            (org_id, product),
        )
        open_ids = [row["stripe_session_id"] for row in await cur.fetchall()]
    completed = False
    for session_id in open_ids:
        session = await billing.gateway.retrieve_checkout_session(session_id)
        status = session.get("status")
        if status == "open":
            status = (await billing.gateway.expire_checkout_session(session_id)).get("status")
        if status == "complete" and session.get("subscription"):
            completed = True
            write = await sync.fetch_subscription(billing, sync.object_id(session["subscription"]))
            async with billing.pool.connection() as conn, conn.transaction():
                await write(conn)
        async with billing.pool.connection() as conn:
            await conn.execute(
                "UPDATE billing_checkouts SET status = %s WHERE stripe_session_id = %s",
                ("complete" if status == "complete" else "expired", session_id),
            )
    return completed


@router.post("/billing/checkout", dependencies=[Depends(require_csrf)])
async def checkout(
    session: SessionDep,
    billing: BillingDep,
    product: Annotated[str, Form(max_length=40)],
    plan: Annotated[str, Form(max_length=40)],
    org_id: Annotated[str | None, Form(max_length=80)] = None,
) -> RedirectResponse:
    """Start Stripe Checkout for a paid plan (303 to Stripe); an org already subscribed to the
    product goes to the billing portal instead, where plans are changed without a second
    subscription."""
    _require_enabled(billing)
    org = _own_org(session.org_id, org_id)
    try:
        chosen = billing.catalog.plan(product, plan)
    except KeyError as exc:
        raise Problem(422, str(exc.args[0]), code="unknown_plan") from None
    if not chosen.paid:
        raise Problem(422, "The free plan needs no checkout.", code="unknown_plan")
    async with billing.pool.connection() as lock, lock.transaction():
        # One checkout per org and product at a time: double clicks and two tabs queue here.
        await lock.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"billing-checkout:{org}:{product}",)
        )
        subscribed = await _settle_open_checkouts(billing, org, product)
        _, subscription = await current_plan(billing, org, product)
        customer = await ensure_customer(billing, org, session.email)
        if subscribed or subscription is not None:
            portal = await billing.gateway.create_portal_session(
                customer, _url(billing, "/account")
            )
            return RedirectResponse(portal["url"], status_code=303)
        keys = [chosen.price_lookup_key] + ([chosen.overage.lookup_key] if chosen.overage else [])
        try:
            prices = [await billing.gateway.price_id(key) for key in keys]
        except LookupError as exc:
            raise Problem(
                503, f"{exc}; run `ascent billing setup`.", code="price_missing"
            ) from None
        # Metered prices take no quantity: Stripe bills what the meter counts.
        items: list[dict[str, Any]] = [{"price": prices[0], "quantity": 1}]
        items += [{"price": price} for price in prices[1:]]
        metadata = {"org_id": org, "product": product, "plan": plan}
        stripe_session = await billing.gateway.create_checkout_session(
            {
                "mode": "subscription",
                "customer": customer,
                "client_reference_id": org,
                "line_items": items,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                "success_url": _url(billing, "/account?checkout=success"),
                "cancel_url": _url(billing, f"/pricing/{product}?checkout=cancelled"),
            },
            idempotency_key=f"ascent-checkout-{uuid.uuid4().hex}",
        )
        await lock.execute(
            "INSERT INTO billing_checkouts (stripe_session_id, org_id, product, plan) "
            "VALUES (%s, %s, %s, %s)",
            (stripe_session["id"], org, product, plan),
        )
    return RedirectResponse(stripe_session["url"], status_code=303)


@router.post("/billing/portal", dependencies=[Depends(require_csrf)])
async def portal(
    session: SessionDep,
    billing: BillingDep,
    org_id: Annotated[str | None, Form(max_length=80)] = None,
) -> RedirectResponse:
    """Stripe's billing portal (303): payment methods, invoices, plan changes, cancellation."""
    _require_enabled(billing)
    org = _own_org(session.org_id, org_id)
    customer = await ensure_customer(billing, org, session.email)
    portal_session = await billing.gateway.create_portal_session(
        customer, _url(billing, "/account")
    )
    return RedirectResponse(portal_session["url"], status_code=303)


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


@router.get("/v1/billing/account", summary="The signed-in org's plans, usage and features")
async def account(session: SessionDep, billing: BillingDep) -> dict[str, Any]:
    return await account_summary(billing, session.org_id)
