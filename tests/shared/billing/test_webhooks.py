"""The Stripe webhook: signatures, duplicates, order, grace periods, entitlements."""

import time
from datetime import timedelta

from fake_stripe import signed_event

from shared.billing import clock, entitlement
from shared.billing.stripe_client import StripeGateway
from shared.billing.sync import refresh_stale


async def _local(sql, subscription_id):
    rows = await sql(
        "SELECT * FROM billing_subscriptions WHERE stripe_subscription_id = %s",
        (subscription_id,),
    )
    return rows[0] if rows else None


async def test_checkout_completed_unlocks_the_plan(billing, make_org, subscribe, sql):
    org = await make_org()
    assert (await entitlement(billing, "repurposer", "ws", org_id=org.org_id)).plan.id == "free"
    sub_id = await subscribe(org, "repurposer", "pro")
    row = await _local(sql, sub_id)
    assert (row["org_id"], row["product"], row["plan"], row["status"]) == (
        org.org_id, "repurposer", "pro", "active",
    )  # fmt: skip
    assert row["current_period_end"] > row["current_period_start"]
    grant = await entitlement(billing, "repurposer", "ws", org_id=org.org_id)
    assert grant.plan.id == "pro" and grant.allows("9x16_clips")
    (checkout,) = await sql("SELECT status FROM billing_checkouts WHERE org_id = %s",
                            (org.org_id,))  # fmt: skip
    assert checkout["status"] == "complete"


async def test_forged_expired_and_tampered_signatures_are_refused(
    client, billing, make_org, fake_stripe, sql
):
    org = await make_org()
    customer = await billing.gateway.create_customer(org.org_id)
    await fake_stripe_pay_setup(fake_stripe, customer["id"])
    price = (await billing.gateway.prices(["shopbot_pro_monthly"]))["shopbot_pro_monthly"]
    sub = fake_stripe.localstripe("POST", "/v1/subscriptions", {
        "customer": customer["id"], "items": [{"plan": price["id"]}]})  # fmt: skip
    url = "/billing/webhooks/stripe"
    cases = {
        "forged": signed_event("customer.subscription.created", sub, secret="whsec_attacker"),
        "expired": signed_event("customer.subscription.created", sub, at=int(time.time()) - 600),
    }
    body, headers = signed_event("customer.subscription.created", sub)
    tampered = body.replace(b'"customer.subscription.created"', b'"customer.subscription.deleted"')
    cases["tampered"] = (tampered, headers)
    cases["unsigned"] = (body, {"Content-Type": "application/json"})
    for name, (payload, hdrs) in cases.items():
        resp = await client.post(url, content=payload, headers=hdrs)
        assert resp.status_code == 400, name
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == "bad_signature"
    assert await sql("SELECT * FROM billing_events") == []
    assert await sql("SELECT * FROM billing_subscriptions") == []
    # The genuine delivery goes through.
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    assert (await _local(sql, sub["id"]))["status"] == "active"


async def test_a_duplicated_event_has_no_second_effect(
    billing, make_org, subscribe, fake_stripe, deliver, sql
):
    org = await make_org()
    sub_id = await subscribe(org, "reviewer", "pro")
    sub = fake_stripe.localstripe("GET", f"/v1/subscriptions/{sub_id}")
    first = await deliver("customer.subscription.updated", sub, event_id="evt_dup_1")
    assert first.json()["outcome"].endswith("reviewer pro active")
    # Stripe changes meanwhile; a redelivery of the same event must not re-read or re-apply.
    fake_stripe.localstripe("POST", f"/v1/subscriptions/{sub_id}", {"cancel_at_period_end": True})
    again = await deliver("customer.subscription.updated", sub, event_id="evt_dup_1")
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert (await _local(sql, sub_id))["cancel_at_period_end"] is False
    assert len(await sql("SELECT 1 FROM billing_events WHERE id = 'evt_dup_1'")) == 1


async def test_reordered_events_end_in_stripes_current_state(
    billing, make_org, fake_stripe, deliver, sql
):
    org = await make_org()
    customer = await billing.gateway.create_customer(org.org_id)
    await fake_stripe_pay_setup(fake_stripe, customer["id"])
    price = (await billing.gateway.prices(["shopbot_business_monthly"]))["shopbot_business_monthly"]
    created = fake_stripe.localstripe("POST", "/v1/subscriptions", {
        "customer": customer["id"], "items": [{"plan": price["id"]}]})  # fmt: skip
    updated = fake_stripe.localstripe(
        "POST", f"/v1/subscriptions/{created['id']}", {"cancel_at_period_end": True}
    )
    # "updated" arrives before "created", whose payload is older.
    await deliver("customer.subscription.updated", updated)
    await deliver("customer.subscription.created", created)
    row = await _local(sql, created["id"])
    assert (row["plan"], row["status"], row["cancel_at_period_end"]) == ("business", "active", True)

    # "deleted" before a late "updated": still cancelled, and the plan is gone.
    deleted = fake_stripe.localstripe("DELETE", f"/v1/subscriptions/{created['id']}")
    await deliver("customer.subscription.deleted", deleted)
    await deliver("customer.subscription.updated", updated)
    assert (await _local(sql, created["id"]))["status"] == "canceled"
    assert (await entitlement(billing, "shopbot", "s", org_id=org.org_id)).plan.id == "free"


async def fake_stripe_pay_setup(fake_stripe, customer_id: str) -> None:
    fake_stripe.call(fake_stripe.use_card, customer_id, "pm_card_visa")


async def test_failed_payment_keeps_access_through_the_grace_period_only(
    billing, make_org, subscribe, fake_stripe, deliver, sql, at
):
    org = await make_org()
    sub_id = await subscribe(org, "repurposer", "pro")
    failed_at = clock.now()
    at(failed_at)
    invoice = fake_stripe.fail_next_payment(sub_id)
    assert invoice["status"] == "open"
    await deliver("invoice.payment_failed", invoice)
    row = await _local(sql, sub_id)
    assert row["status"] == "past_due"
    assert row["grace_until"] == failed_at + timedelta(days=7)

    at(failed_at + timedelta(days=6, hours=23))
    assert (await entitlement(billing, "repurposer", "w", org_id=org.org_id)).plan.id == "pro"
    # A late duplicate failure (new event id) a day later does not extend the grace period.
    await deliver("invoice.payment_failed", invoice)
    assert (await _local(sql, sub_id))["grace_until"] == failed_at + timedelta(days=7)
    at(failed_at + timedelta(days=7, seconds=1))
    grant = await entitlement(billing, "repurposer", "w", org_id=org.org_id)
    assert grant.plan.id == "free" and not grant.allows("9x16_clips")

    # Paying restores the plan at once and ends the grace period.
    paid = fake_stripe.pay_with_good_card(sub_id, invoice["id"])
    assert paid["status"] == "paid"
    await deliver("invoice.paid", paid)
    row = await _local(sql, sub_id)
    assert row["status"] == "active" and row["grace_until"] is None
    assert (await entitlement(billing, "repurposer", "w", org_id=org.org_id)).plan.id == "pro"
    # The old failure, delivered late after the recovery, cannot take the plan away.
    await deliver("invoice.payment_failed", invoice)
    assert (await _local(sql, sub_id))["grace_until"] is None


async def test_entitlement_summary_refreshes_features(
    billing, make_org, subscribe, fake_stripe, deliver
):
    org = await make_org()
    sub_id = await subscribe(org, "shopbot", "pro")
    customer = fake_stripe.localstripe("GET", f"/v1/subscriptions/{sub_id}")["customer"]
    summary = {"object": "entitlements.active_entitlement_summary", "customer": customer,
               "entitlements": {"data": [], "object": "list"}}  # fmt: skip
    fake_stripe.set_entitlements(customer, ["shopbot.priority_support", "reviewer.other"])
    await deliver("entitlements.active_entitlement_summary.updated", summary)
    grant = await entitlement(billing, "shopbot", "s", org_id=org.org_id)
    assert grant.allows("priority_support") and not grant.allows("other")
    fake_stripe.set_entitlements(customer, [])
    await deliver("entitlements.active_entitlement_summary.updated", summary)
    assert not (await entitlement(billing, "shopbot", "s", org_id=org.org_id)).allows(
        "priority_support"
    )


async def test_unknown_events_are_acknowledged_once(deliver, sql):
    resp = await deliver("charge.refunded", {"id": "ch_1", "object": "charge"}, event_id="evt_u")
    assert resp.status_code == 200 and resp.json()["outcome"] == "ignored"
    assert (await sql("SELECT outcome FROM billing_events"))[0]["outcome"] == "ignored"


async def test_a_lost_cancellation_webhook_is_caught_by_the_stale_refresh(
    billing, make_org, subscribe, fake_stripe, sql, at
):
    org = await make_org()
    sub_id = await subscribe(org, "reviewer", "business")
    fake_stripe.localstripe("DELETE", f"/v1/subscriptions/{sub_id}")  # no webhook delivered
    assert (await entitlement(billing, "reviewer", "1", org_id=org.org_id)).plan.id == "business"
    row = await _local(sql, sub_id)
    at(row["current_period_end"] + timedelta(minutes=1))
    assert await refresh_stale(billing) == 1
    assert (await _local(sql, sub_id))["status"] == "canceled"
    assert (await entitlement(billing, "reviewer", "1", org_id=org.org_id)).plan.id == "free"


async def test_webhooks_are_refused_while_billing_is_off(client, billing):
    billing.settings = billing.settings.model_copy(update={"billing_enabled": False})
    body, headers = signed_event("customer.subscription.created", {"id": "sub_x"})
    resp = await client.post("/billing/webhooks/stripe", content=body, headers=headers)
    assert resp.status_code == 503


async def test_stripe_unreachable_answers_503_and_applies_nothing(
    billing, make_org, subscribe, fake_stripe, deliver, sql
):
    org = await make_org()
    sub_id = await subscribe(org, "shopbot", "pro")
    sub = fake_stripe.localstripe("GET", f"/v1/subscriptions/{sub_id}")
    working, billing._gateway = (
        billing._gateway,
        StripeGateway("sk_test_x", api_base="http://127.0.0.1:9", timeout=1, max_network_retries=0),
    )
    down = await deliver("customer.subscription.updated", sub, event_id="evt_outage")
    assert down.status_code == 503 and down.json()["code"] == "stripe_unavailable"
    assert await sql("SELECT 1 FROM billing_events WHERE id = 'evt_outage'") == []
    await billing._gateway.aclose()
    billing._gateway = working
    again = await deliver("customer.subscription.updated", sub, event_id="evt_outage")
    assert again.status_code == 200 and again.json()["outcome"] != "duplicate"


async def test_a_deletion_stripe_cannot_show_still_ends_the_plan(billing, make_org, deliver, sql):
    org = await make_org()
    await sql(
        "INSERT INTO billing_subscriptions (stripe_subscription_id, org_id, product, plan, "
        "status, stripe_customer_id, updated_from_stripe_at) "
        "VALUES ('sub_vanished', %s, 'shopbot', 'pro', 'active', 'cus_x', now() - interval '1h')",
        (org.org_id,),
    )
    assert (await entitlement(billing, "shopbot", "s", org_id=org.org_id)).plan.id == "pro"
    # An update for a subscription Stripe does not know changes nothing...
    await deliver("customer.subscription.updated", {"id": "sub_vanished", "status": "canceled"})
    assert (await _local(sql, "sub_vanished"))["status"] == "active"
    # ...but its deletion ends it.
    await deliver("customer.subscription.deleted", {"id": "sub_vanished", "status": "canceled"})
    assert (await _local(sql, "sub_vanished"))["status"] == "canceled"
    assert (await entitlement(billing, "shopbot", "s", org_id=org.org_id)).plan.id == "free"
