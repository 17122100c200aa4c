import re

HTML = {"Accept": "text/html"}


def _org_of(forms, client, email):
    (row,) = forms.sql(
        client,
        "SELECT m.org_id FROM accounts_memberships m JOIN accounts_users u ON u.id = m.user_id "
        "WHERE u.email = %s",
        (email,),
    )
    return row["org_id"]


def _subscribe(forms, client, org_id, product, plan, status, grace=False):
    forms.sql(
        client,
        "INSERT INTO billing_subscriptions (stripe_subscription_id, org_id, product, plan, "
        "status, stripe_customer_id, current_period_start, current_period_end, grace_until, "
        "updated_from_stripe_at) VALUES (%s, %s, %s, %s, %s, 'cus_1', now() - interval '1 day', "
        "now() + interval '29 days', CASE WHEN %s THEN now() + interval '5 days' END, now())",
        (f"sub_{org_id}_{product}", org_id, product, plan, status, grace),
    )


def _card(page, product):
    return page.split(f'data-product="{product}"', 1)[1].split("</article>", 1)[0]


def test_plans_usage_and_grace_of_the_own_org_only(app, forms):
    app.state.settings = app.state.settings.model_copy(update={"billing_enabled": True})
    with forms.make_client(app) as alice, forms.make_client(app) as mallory:
        forms.sign_up(alice, "alice@example.com", org="Alice Corp")
        forms.sign_up(mallory, "mallory@example.com", org="Mallory Ltd")
        org = _org_of(forms, alice, "alice@example.com")
        _subscribe(forms, alice, org, "repurposer", "pro", "active")
        _subscribe(forms, alice, org, "reviewer", "business", "past_due", grace=True)
        forms.sql(
            alice,
            "INSERT INTO billing_usage (idempotency_key, product, tenant, org_id, meter, "
            "quantity, occurred_at) VALUES ('u1', 'repurposer', 'ws', %s, 'minutes', 150, now())",
            (org,),
        )

        page = alice.get("/account", headers=HTML).text
        repurposer = _card(page, "repurposer")
        assert 'data-testid="plan-repurposer">Pro<' in repurposer
        assert re.search(r'<progress max="600" value="150"', repurposer)
        assert "150 of 600 minutes" in repurposer and "Renews" in repurposer
        assert "Vertical 9:16 clips" in repurposer  # the plan's features
        reviewer = _card(page, "reviewer")
        assert "Business" in reviewer and "Past due" in reviewer
        assert "The last payment failed" in reviewer
        assert 'data-testid="plan-shopbot">Free<' in _card(page, "shopbot")
        assert page.count('action="/billing/portal"') == 2  # Manage billing, Invoices

        other = mallory.get("/account", headers=HTML).text
        assert "Mallory Ltd" in other and "Alice Corp" not in other
        for product in ("repurposer", "reviewer", "shopbot"):
            assert f'data-testid="plan-{product}">Free<' in other
        assert "The last payment failed" not in other
        assert re.search(r'<progress max="60" value="0"', other)


def test_billing_off_shows_unlimited_usage_without_portal(client, forms):
    forms.sign_up(client, "off@example.com")
    page = client.get("/account", headers=HTML).text
    assert "Billing is off" in page and "(no limit)" in page
    assert 'action="/billing/portal"' not in page


def test_checkout_success_banner(client, forms):
    forms.sign_up(client, "paid@example.com")
    page = client.get("/account?checkout=success", headers=HTML).text
    assert "Your payment went through" in page
