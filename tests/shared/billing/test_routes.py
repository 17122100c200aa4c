"""Checkout, portal and the account summary: one org, its own billing only, never twice."""

from shared.billing import record_usage
from shared.billing.stripe_client import StripeGateway


async def _checkout(client, org, product="repurposer", plan="pro", **extra):
    return await client.post(
        "/billing/checkout", data=org.form(product=product, plan=plan, **extra), headers=org.headers
    )


async def test_checkout_redirects_to_stripe_with_the_orgs_customer(
    client, billing, make_org, fake_stripe, sql
):
    org = await make_org("Acme")
    resp = await _checkout(client, org, "repurposer", "business")
    assert resp.status_code == 303
    session_id = resp.headers["location"].rsplit("/", 1)[-1]
    session = fake_stripe.sessions[session_id]
    assert resp.headers["location"] == session["url"]
    assert session["mode"] == "subscription" and session["client_reference_id"] == org.org_id
    assert session["metadata"] == {"org_id": org.org_id, "product": "repurposer",
                                   "plan": "business"}  # fmt: skip
    assert session["_subscription_metadata"]["org_id"] == org.org_id
    assert session["success_url"].startswith("https://app.example/account")
    prices = await billing.gateway.prices(
        ["repurposer_business_monthly", "repurposer_business_minutes_overage"]
    )
    assert session["_line_items"] == [
        {"price": prices["repurposer_business_monthly"]["id"], "quantity": "1"},
        {"price": prices["repurposer_business_minutes_overage"]["id"]},  # metered: no quantity
    ]
    customer = fake_stripe.localstripe("GET", f"/v1/customers/{session['customer']}")
    assert customer["metadata"] == {"org_id": org.org_id} and customer["name"] == "Acme"
    (row,) = await sql("SELECT * FROM billing_customers")
    assert (row["org_id"], row["stripe_customer_id"]) == (org.org_id, customer["id"])


async def test_a_second_checkout_expires_the_first(client, make_org, fake_stripe, sql):
    org = await make_org()
    first = (await _checkout(client, org)).headers["location"].rsplit("/", 1)[-1]
    second = (await _checkout(client, org, plan="business")).headers["location"]
    second = second.rsplit("/", 1)[-1]
    assert fake_stripe.sessions[first]["status"] == "expired"
    assert fake_stripe.sessions[second]["status"] == "open"
    assert fake_stripe.sessions[first]["customer"] == fake_stripe.sessions[second]["customer"]
    rows = await sql("SELECT stripe_session_id, status FROM billing_checkouts ORDER BY created_at")
    assert [(r["stripe_session_id"], r["status"]) for r in rows] == [
        (first, "expired"), (second, "open"),
    ]  # fmt: skip


async def test_a_paid_checkout_whose_webhook_is_late_is_not_sold_twice(
    client, billing, make_org, fake_stripe, sql
):
    org = await make_org()
    first = (await _checkout(client, org)).headers["location"].rsplit("/", 1)[-1]
    fake_stripe.complete_checkout(first)  # paid in another tab; no webhook yet
    again = await _checkout(client, org, plan="business")
    assert again.status_code == 303
    assert again.headers["location"].startswith("https://billing.stripe.test/")  # the portal
    assert len([s for s in fake_stripe.sessions.values() if s["customer"] ==
                fake_stripe.sessions[first]["customer"]]) == 1  # fmt: skip
    (sub,) = await sql("SELECT plan, status FROM billing_subscriptions WHERE org_id = %s",
                       (org.org_id,))  # fmt: skip
    assert (sub["plan"], sub["status"]) == ("pro", "active")


async def test_subscribed_orgs_change_plans_in_the_portal(client, make_org, subscribe):
    org = await make_org()
    await subscribe(org, "shopbot", "pro")
    resp = await _checkout(client, org, "shopbot", "business")
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("https://billing.stripe.test/p/session/")
    # Another product is a separate subscription.
    other = await _checkout(client, org, "reviewer", "pro")
    assert other.headers["location"].startswith("https://checkout.stripe.test/")


async def test_checkout_needs_a_session_csrf_and_a_paid_plan(client, make_org, fake_stripe):
    org = await make_org()
    before = len(fake_stripe.sessions)
    anonymous = await client.post("/billing/checkout", data=org.form(product="shopbot",
                                                                     plan="pro"))  # fmt: skip
    assert anonymous.status_code == 401
    no_csrf = await client.post("/billing/checkout", data={"product": "shopbot", "plan": "pro"},
                                headers=org.headers)  # fmt: skip
    assert no_csrf.status_code == 403
    wrong_csrf = await client.post(
        "/billing/checkout", data={"product": "shopbot", "plan": "pro", "csrf_token": "x" * 43},
        headers=org.headers,
    )  # fmt: skip
    assert wrong_csrf.status_code == 403
    for product, plan in (("shopbot", "free"), ("shopbot", "gold"), ("nope", "pro")):
        resp = await _checkout(client, org, product, plan)
        assert resp.status_code == 422 and resp.json()["code"] == "unknown_plan"
    assert len(fake_stripe.sessions) == before


async def test_one_org_never_sees_or_acts_on_anothers_billing(
    client, billing, make_org, subscribe, fake_stripe, sql
):
    alice, mallory = await make_org("Alice"), await make_org("Mallory")
    await subscribe(alice, "repurposer", "pro")
    await record_usage(billing, "repurposer", "ws-a", "minutes", 42, "k-alice", org_id=alice.org_id)
    before = len(fake_stripe.sessions)

    # Checkout or portal naming Alice's org from Mallory's session is refused.
    stolen = await _checkout(client, mallory, "repurposer", "business", org_id=alice.org_id)
    assert stolen.status_code == 403 and stolen.json()["code"] == "wrong_org"
    portal = await client.post("/billing/portal", data=mallory.form(org_id=alice.org_id),
                               headers=mallory.headers)  # fmt: skip
    assert portal.status_code == 403
    assert len(fake_stripe.sessions) == before
    assert len(await sql("SELECT 1 FROM billing_customers WHERE org_id = %s",
                         (mallory.org_id,))) == 0  # fmt: skip

    # Each account summary is the caller's own.
    mine = (await client.get("/v1/billing/account", headers=mallory.headers)).json()
    theirs = (await client.get("/v1/billing/account", headers=alice.headers)).json()
    assert mine["org_id"] == mallory.org_id and theirs["org_id"] == alice.org_id
    assert mine["products"]["repurposer"]["plan"] == "free"
    assert mine["products"]["repurposer"]["usage"]["minutes"]["used"] == 0
    assert theirs["products"]["repurposer"]["plan"] == "pro"
    assert theirs["products"]["repurposer"]["usage"]["minutes"] == {
        "used": 42, "limit": 600, "unit": "minute", "overage": False,
        "description": "Minutes of recordings processed",
    }  # fmt: skip
    assert alice.org_id not in str(mine)
    assert (await client.get("/v1/billing/account")).status_code == 401


async def test_account_summary_shape(client, make_org, subscribe):
    org = await make_org()
    await subscribe(org, "reviewer", "business")
    body = (await client.get("/v1/billing/account", headers=org.headers)).json()
    reviewer = body["products"]["reviewer"]
    assert reviewer["status"] == "active" and reviewer["paid"] is True
    assert reviewer["period_end"] > reviewer["period_start"]
    assert reviewer["grace_until"] is None and reviewer["cancel_at_period_end"] is False
    assert reviewer["usage"]["prs"]["limit"] == 2000 and reviewer["usage"]["prs"]["overage"]
    assert body["portal_url"] == "/billing/portal" and body["has_customer"] is True
    assert set(body["products"]) == {"repurposer", "reviewer", "shopbot"}


async def test_portal_redirects_to_stripe(client, make_org):
    org = await make_org()
    resp = await client.post("/billing/portal", data=org.form(), headers=org.headers)
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("https://billing.stripe.test/p/session/")


async def test_routes_answer_404_while_billing_is_off(client, billing, make_org):
    billing.settings = billing.settings.model_copy(update={"billing_enabled": False})
    org = await make_org()
    assert (await _checkout(client, org)).status_code == 404
    summary = (await client.get("/v1/billing/account", headers=org.headers)).json()
    assert summary["billing_enabled"] is False
    assert summary["products"]["shopbot"]["status"] == "unlimited"


async def test_stripe_unreachable_is_a_502(client, billing, make_org):
    org = await make_org()
    working, billing._gateway = (
        billing._gateway,
        StripeGateway("sk_test_x", api_base="http://127.0.0.1:9", timeout=1, max_network_retries=0),
    )
    try:
        resp = await _checkout(client, org)
        assert resp.status_code == 502 and resp.json()["code"] == "stripe_unavailable"
    finally:
        await billing._gateway.aclose()
        billing._gateway = working
