"""plans.toml validation, and the settings production refuses."""

import pytest
from pydantic import ValidationError

from shared.billing.plans import PlansError, load_plans, parse_plans
from shared.config import Settings

GOOD = """
[products.p]
name = "P"
tenant = "t"
[products.p.meters.calls]
unit = "call"
event_name = "p_calls"
[products.p.features]
fast = "Fast"
[products.p.plans.free]
name = "Free"
rank = 0
quotas = { calls = 10 }
[products.p.plans.pro]
name = "Pro"
rank = 1
monthly_price = 900
price_lookup_key = "p_pro"
quotas = { calls = 100 }
features = ["fast"]
rate_limit = "10/second"
overage = { lookup_key = "p_pro_overage", unit_amount = 1 }
"""


def test_the_packaged_plans_load():
    catalog = load_plans()
    assert set(catalog.products) == {"repurposer", "reviewer", "shopbot"}
    for product in catalog.products.values():
        assert product.plans["free"].monthly_price == 0
        assert [p.id for p in sorted(product.plans.values(), key=lambda p: p.rank)] == [
            "free", "pro", "business",
        ]  # fmt: skip
    assert catalog.by_lookup_key("repurposer_pro_monthly")[1].quotas == {"minutes": 600}
    assert catalog.by_lookup_key("repurposer_business_minutes_overage") is None  # metered


def test_a_good_file_parses():
    catalog = parse_plans(GOOD)
    pro = catalog.plan("p", "pro")
    assert pro.paid and pro.features == ("fast",)
    assert catalog.product("p").overage_meter(pro) == "calls"
    assert catalog.lookup_keys() == ["p_pro", "p_pro_overage"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('features = ["fast"]', 'features = ["fats"]'), "undeclared feature(s) ['fats']"),
        (("quotas = { calls = 100 }", "quotas = { cals = 100 }"), "unknown meter(s) ['cals']"),
        (('price_lookup_key = "p_pro"\n', ""), "a price needs a price_lookup_key"),
        (('"p_pro_overage"', '"p_pro"'), "lookup key 'p_pro' used by p/pro and pro"),
        (('"10/second"', '"ten a second"'), "not a rate like"),
        (("rank = 1", "rank = 0"), "two plans share a rank"),
        (("[products.p.plans.free]", "[products.p.plans.starter]"), "needs a `free` plan"),
        (("unit_amount = 1 }", "unit_amount = -1 }"), "greater than or equal to 0"),
        (("monthly_price = 900", "monthly_price = 900\nprice = 1"), "Extra inputs"),
    ],
)
def test_mistakes_are_named(change, message):
    with pytest.raises(PlansError) as err:
        parse_plans(GOOD.replace(*change), source="my-plans.toml")
    assert str(err.value).startswith("my-plans.toml: invalid plans:")
    assert message in str(err.value)


def test_a_broken_file_is_named():
    with pytest.raises(PlansError, match=r"plans\.toml: not valid TOML"):
        parse_plans("[products")


PROD = {"ASCENT_ENV": "production", "ASCENT_SECRET_KEY": "a-real-secret-of-some-length",
        "DATABASE_URL": "postgresql://u:pw@db:5432/app"}  # fmt: skip


def test_billing_is_off_by_default(tmp_path):
    assert Settings(data_home=tmp_path).billing_enabled is False


def test_production_billing_refuses_missing_or_test_stripe_secrets(monkeypatch, tmp_path):
    for name, value in PROD.items():
        monkeypatch.setenv(name, value)
    assert Settings(data_home=tmp_path).env == "production"  # billing off: no Stripe needed
    monkeypatch.setenv("ASCENT_BILLING_ENABLED", "true")
    with pytest.raises(ValidationError) as err:
        Settings(data_home=tmp_path)
    assert "ASCENT_STRIPE_API_KEY" in str(err.value)
    assert "ASCENT_STRIPE_WEBHOOK_SECRET" in str(err.value)
    monkeypatch.setenv("ASCENT_STRIPE_WEBHOOK_SECRET", "whsec_live")
    monkeypatch.setenv("ASCENT_STRIPE_API_KEY", "sk_test_123")
    with pytest.raises(ValidationError, match="live Stripe key"):
        Settings(data_home=tmp_path)
    monkeypatch.setenv("ASCENT_STRIPE_API_KEY", "sk_live_123")
    monkeypatch.setenv("ASCENT_STRIPE_API_BASE", "http://127.0.0.1:8420")
    with pytest.raises(ValidationError, match="no ASCENT_STRIPE_API_BASE"):
        Settings(data_home=tmp_path)
    monkeypatch.delenv("ASCENT_STRIPE_API_BASE")
    settings = Settings(data_home=tmp_path)
    assert settings.billing_enabled and "sk_live_123" not in repr(settings)
