"""``POST /billing/webhooks/stripe``: verified, de-duplicated, order-independent.

1. The raw body's ``Stripe-Signature`` is checked (HMAC-SHA256, 5 minutes' tolerance) before
   anything is parsed; a bad or expired one is a 400 and changes nothing.
2. An event id already applied is acknowledged and skipped.
3. The object the event is about is re-read from Stripe (the payload may be stale: events come
   late and out of order), then its state is written in one transaction together with the
   event's row in ``billing_events``, whose primary key makes a concurrent duplicate roll back.

Any failure (503 when Stripe cannot be read back) makes Stripe deliver the event again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import stripe
from fastapi import APIRouter, Request

from shared.billing import sync
from shared.billing.context import Billing, BillingDep
from shared.billing.sync import Apply, no_change, object_id
from shared.web.errors import Problem

logger = logging.getLogger(__name__)
router = APIRouter(tags=["billing"])
SIGNATURE_TOLERANCE = 300


async def _subscription(billing: Billing, obj: dict[str, Any]) -> Apply:
    return await sync.fetch_subscription(billing, obj["id"])


async def _subscription_deleted(billing: Billing, obj: dict[str, Any]) -> Apply:
    return await sync.fetch_subscription(billing, obj["id"], deleted=True)


async def _checkout_completed(billing: Billing, obj: dict[str, Any]) -> Apply:
    session = await billing.gateway.retrieve_checkout_session(obj["id"])
    subscription_id = object_id(session.get("subscription"))
    if session.get("mode") != "subscription" or not subscription_id:
        return no_change(f"checkout {obj['id']}: no subscription")
    write = await sync.fetch_subscription(billing, subscription_id)
    reference, customer = session.get("client_reference_id"), object_id(session.get("customer"))
    customer_org = await sync.org_of_customer(billing, customer) if customer else None
    if reference and customer_org and reference != customer_org:
        # The customer decides who pays (we made it for one org); the reference is a hint.
        logger.error("checkout %s: reference %s but customer of %s", obj["id"], reference,
                     customer_org)  # fmt: skip

    async def apply(conn) -> str:
        await conn.execute(
            "UPDATE billing_checkouts SET status = 'complete' WHERE stripe_session_id = %s",
            (obj["id"],),
        )
        return await write(conn)

    return apply


async def _invoice(billing: Billing, obj: dict[str, Any]) -> Apply:
    invoice = await billing.gateway.retrieve_invoice(obj["id"])
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription_id = object_id(parent.get("subscription") or invoice.get("subscription"))
    if not subscription_id:
        return no_change(f"invoice {obj['id']}: not a subscription's")
    # The subscription's status carries the payment outcome: past_due starts the grace period,
    # active (paid) ends it. Re-reading it, not trusting the event type, makes a late
    # "payment_failed" after a later success harmless.
    return await sync.fetch_subscription(billing, subscription_id)


async def _entitlements(billing: Billing, obj: dict[str, Any]) -> Apply:
    return await sync.fetch_features(billing, object_id(obj["customer"]))


HANDLERS: dict[str, Callable[[Billing, dict[str, Any]], Awaitable[Apply]]] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription,
    "customer.subscription.updated": _subscription,
    "customer.subscription.deleted": _subscription_deleted,
    "customer.subscription.paused": _subscription,
    "customer.subscription.resumed": _subscription,
    "invoice.paid": _invoice,
    "invoice.payment_succeeded": _invoice,
    "invoice.payment_failed": _invoice,
    "entitlements.active_entitlement_summary.updated": _entitlements,
}


async def handle_event(billing: Billing, event: dict[str, Any]) -> str:
    """Apply one verified event; returns what was done (also stored as its outcome)."""
    event_id, kind = event["id"], event["type"]
    async with billing.pool.connection() as conn:
        cur = await conn.execute("SELECT outcome FROM billing_events WHERE id = %s", (event_id,))
        if await cur.fetchone() is not None:
            return "duplicate"
    handler = HANDLERS.get(kind)
    # Stripe is read before the transaction opens: no connection is held across the network.
    apply = await handler(billing, event["data"]["object"]) if handler else no_change("ignored")
    async with billing.pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "INSERT INTO billing_events (id, type) VALUES (%s, %s) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            (event_id, kind),
        )
        if await cur.fetchone() is None:
            return "duplicate"  # a concurrent delivery won
        outcome = await apply(conn)
        await conn.execute(
            "UPDATE billing_events SET processed_at = now(), outcome = %s WHERE id = %s",
            (outcome[:500], event_id),
        )
    logger.info("stripe event %s (%s): %s", event_id, kind, outcome)
    return outcome


@router.post("/billing/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request, billing: BillingDep) -> dict[str, Any]:
    secret = billing.settings.stripe_webhook_secret
    if not billing.enabled or secret is None:
        raise Problem(503, "Stripe webhooks are not configured on this server.",
                      code="billing_disabled")  # fmt: skip
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload,
            request.headers.get("stripe-signature", ""),
            secret.get_secret_value(),
            tolerance=SIGNATURE_TOLERANCE,
        )
    except stripe.SignatureVerificationError:
        raise Problem(400, "The Stripe-Signature header is missing, wrong or expired.",
                      code="bad_signature") from None  # fmt: skip
    except ValueError:
        raise Problem(400, "The body is not a Stripe event.", code="bad_payload") from None
    try:
        outcome = await handle_event(billing, event.to_dict())
    except stripe.StripeError as exc:
        # Not applied: a non-2xx answer makes Stripe deliver the event again later.
        logger.warning("stripe event %s not applied: %s", event.id, exc)
        raise Problem(503, "Stripe could not be read back; the event will be retried.",
                      code="stripe_unavailable") from exc  # fmt: skip
    return {"received": True, "outcome": outcome}
