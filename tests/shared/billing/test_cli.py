"""``ascent billing setup | sync | usage | report`` against the fake Stripe."""

import psycopg
import pytest
from fake_stripe import API_KEY, WEBHOOK_SECRET
from typer.testing import CliRunner

from shared.billing.cli import app
from shared.config import get_settings


@pytest.fixture
def cli(monkeypatch, database_url, data_home, fake_stripe):
    env = {
        "DATABASE_URL": database_url, "ASCENT_DATA_HOME": str(data_home),
        "ASCENT_BILLING_ENABLED": "true", "ASCENT_STRIPE_API_KEY": API_KEY,
        "ASCENT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ASCENT_STRIPE_API_BASE": fake_stripe.base, "ASCENT_MIGRATE_ON_START": "false",
        "COLUMNS": "200",  # Rich tables fit the terminal; keep every column whole
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


def test_setup_sync_usage_and_report(cli, database_url, fake_stripe):
    first = cli("setup")
    assert first.exit_code == 0, first.output
    again = cli("setup")
    assert again.output.strip() == "Stripe has every product, meter and price."

    # A subscription made in the Stripe dashboard for a customer naming its org.
    customer = fake_stripe.localstripe("POST", "/v1/customers",
                                       {"metadata": {"org_id": "org_cli"}})  # fmt: skip
    fake_stripe.call(fake_stripe.use_card, customer["id"], "pm_card_visa")
    price = next(p for p in fake_stripe.prices.values()
                 if p["lookup_key"] == "shopbot_business_monthly")  # fmt: skip
    items = [{"plan": price["id"]}]
    fake_stripe.localstripe(
        "POST", "/v1/subscriptions", {"customer": customer["id"], "items": items}
    )
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    with psycopg.connect(database_url) as conn:
        plan, status = conn.execute(
            "SELECT plan, status FROM billing_subscriptions WHERE org_id = 'org_cli'"
        ).fetchone()
        assert (plan, status) == ("business", "active")
        conn.execute(
            "INSERT INTO billing_usage (idempotency_key, product, tenant, org_id, meter, quantity, "
            "occurred_at, stripe_customer_id, event_name) VALUES ('cli-1', 'shopbot', 's1', "
            "'org_cli', 'conversations', 3, now(), %s, 'ascent_shopbot_conversations')",
            (customer["id"],),
        )
    table = cli("usage", "--product", "shopbot")
    assert table.exit_code == 0 and "org_cli" in table.output and "conversations" in table.output
    reported = cli("report")
    assert reported.exit_code == 0 and "1 sent" in reported.output
    assert fake_stripe.meter_events["cli-1"]["payload"]["value"] == "3"
    assert "1 reported" not in cli("usage", "--month", "1999-01").output
    assert cli("usage", "--month", "soon").exit_code == 1


def test_commands_needing_stripe_say_so(monkeypatch, cli):
    monkeypatch.setenv("ASCENT_BILLING_ENABLED", "false")
    get_settings.cache_clear()
    result = cli("sync")
    assert result.exit_code == 1 and "ASCENT_BILLING_ENABLED" in result.output


def test_link_puts_a_tenant_on_an_organisations_plan(cli, database_url):
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO accounts_orgs (id, name) VALUES ('org_a', 'A'), ('org_b', 'B')")
    linked = cli("link", "org_a", "shopbot", "store-1")
    assert linked.exit_code == 0, linked.output
    again = cli("link", "org_a", "shopbot", "store-1")
    assert again.exit_code == 0  # idempotent
    stolen = cli("link", "org_b", "shopbot", "store-1")
    assert stolen.exit_code == 1 and "another organization" in stolen.output
    assert cli("link", "org_missing", "shopbot", "store-2").exit_code == 1
    assert cli("link", "org_a", "mailer", "x").exit_code == 1
    with psycopg.connect(database_url) as conn:
        owners = conn.execute("SELECT product, tenant, org_id FROM accounts_tenants").fetchall()
    assert owners == [("shopbot", "store-1", "org_a")]
