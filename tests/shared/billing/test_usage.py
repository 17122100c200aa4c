"""Usage counted once, quotas and features enforced (402), rates limited (429), meter events
reported to Stripe once even when an answer is lost."""

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from shared.accounts import link_tenant
from shared.billing import (
    EntitlementDenied,
    Grant,
    billing_router,
    check_entitlement,
    entitlement,
    entitlements,
    record_usage,
    require_entitlement,
)
from shared.billing.stripe_client import StripeGateway
from shared.billing.usage import report_usage
from shared.web.errors import install_error_handlers


def _tenant() -> str:
    return "ws-1"


@pytest.fixture
def quota_app(billing, monkeypatch) -> FastAPI:
    # Fresh rate-limit windows for each test.
    monkeypatch.setattr(entitlements, "_windows", MovingWindowRateLimiter(MemoryStorage()))
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings, app.state.pool, app.state.billing = billing.settings, billing.pool, billing
    app.include_router(billing_router)
    minutes = require_entitlement("repurposer", tenant=_tenant, meter="minutes")
    vertical = require_entitlement("repurposer", tenant=_tenant, feature="9x16_clips")

    @app.post("/jobs")
    async def jobs(grant: Annotated[Grant, Depends(minutes)]) -> dict:
        return {"plan": grant.plan.id, "remaining": grant.remaining("minutes")}

    @app.post("/vertical")
    async def vertical_clip(grant: Annotated[Grant, Depends(vertical)]) -> dict:
        return {"ok": True}

    return app


@pytest.fixture
async def quota_client(quota_app):
    transport = httpx.ASGITransport(quota_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_usage_counts_once_per_idempotency_key(billing, sql):
    assert await record_usage(billing, "shopbot", "store-1", "conversations", 1, "conv:s1:a")
    assert not await record_usage(billing, "shopbot", "store-1", "conversations", 1, "conv:s1:a")
    assert await record_usage(billing, "shopbot", "store-1", "conversations", 1, "conv:s1:b")
    grant = await entitlement(billing, "shopbot", "store-1")
    assert grant.org_id is None and grant.plan.id == "free"  # no org: the free plan
    assert grant.used == {"conversations": 2}
    with pytest.raises(ValueError):
        await record_usage(billing, "shopbot", "store-1", "minutes", 1, "k")


async def test_quota_exceeded_is_a_402_problem(quota_client, billing):
    assert (await quota_client.post("/jobs")).json() == {"plan": "free", "remaining": 60}
    await record_usage(billing, "repurposer", "ws-1", "minutes", 60, "job-1")
    resp = await quota_client.post("/jobs")
    assert resp.status_code == 402
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["title"] == "Payment Required" and body["code"] == "quota_exceeded"
    assert (body["plan"], body["limit"], body["used"]) == ("free", 60, 60)
    assert body["upgrade_url"] == "https://app.example/pricing/repurposer"
    assert "60 of 60" in body["detail"]


async def test_missing_feature_is_a_402_problem(quota_client):
    resp = await quota_client.post("/vertical")
    assert resp.status_code == 402
    body = resp.json()
    assert body["code"] == "feature_not_in_plan" and body["plan"] == "free"
    assert body["feature"] == "9x16_clips" and "upgrade_url" in body


async def test_paid_plans_apply_to_every_tenant_of_the_org(
    quota_client, billing, make_org, subscribe
):
    org = await make_org()
    await link_tenant(billing.pool, org.org_id, "repurposer", "ws-1")
    await record_usage(billing, "repurposer", "ws-1", "minutes", 60, "job-free")
    assert (await quota_client.post("/jobs")).status_code == 402  # the free hour is used
    await subscribe(org, "repurposer", "pro")
    assert (await quota_client.post("/vertical")).status_code == 200
    # Usage of all the org's workspaces shares one quota.
    await record_usage(billing, "repurposer", "ws-2", "minutes", 500, "job-2", org_id=org.org_id)
    assert (await quota_client.post("/jobs")).json() == {"plan": "pro", "remaining": 40}
    with pytest.raises(EntitlementDenied) as denied:
        await check_entitlement(billing, "repurposer", "ws-1", meter="minutes", quantity=41)
    assert denied.value.code == "quota_exceeded"
    # Work already counted under its key is not charged again (a retried job).
    await record_usage(billing, "repurposer", "ws-1", "minutes", 100, "job-3")
    await check_entitlement(billing, "repurposer", "ws-1", meter="minutes", counted_key="job-3")


async def test_rate_limit_is_a_429(quota_client, billing, monkeypatch):
    plans = billing.catalog.product("repurposer").plans
    monkeypatch.setitem(plans, "free", plans["free"].model_copy(update={"rate_limit": "2/minute"}))
    statuses = [(await quota_client.post("/vertical")).status_code for _ in range(3)]
    resp = await quota_client.post("/jobs")
    assert statuses == [402, 402, 429] and resp.status_code == 429
    assert resp.json()["code"] == "rate_limited" and int(resp.headers["retry-after"]) >= 1


async def test_with_billing_off_nothing_is_limited(quota_client, billing):
    billing.settings = billing.settings.model_copy(update={"billing_enabled": False})
    await record_usage(billing, "repurposer", "ws-1", "minutes", 10_000, "huge")
    assert (await quota_client.post("/jobs")).status_code == 200
    assert (await quota_client.post("/vertical")).status_code == 200
    grant = await check_entitlement(billing, "repurposer", "ws-1", meter="minutes", quantity=10**6)
    assert grant.unlimited


async def test_billable_usage_is_reported_once_even_after_a_timeout(
    billing, make_org, subscribe, fake_stripe, sql
):
    org = await make_org()
    await subscribe(org, "shopbot", "business")  # business sells overage: usage is billable
    await link_tenant(billing.pool, org.org_id, "shopbot", "store-b")
    await record_usage(billing, "shopbot", "store-b", "conversations", 1, "conv:b:1")
    await record_usage(billing, "shopbot", "store-b", "conversations", 1, "conv:b:2")
    before = fake_stripe.meter_event_posts

    # Stripe records conv:b:1, but its answer comes after the client gave up.
    fake_stripe.delay_identifier("conv:b:1", 1.5)
    key = billing.settings.stripe_api_key.get_secret_value()
    impatient = StripeGateway(key, api_base=fake_stripe.base, timeout=0.5, max_network_retries=0)
    billing._gateway, patient = impatient, billing._gateway
    first = await report_usage(billing)
    assert (first.sent, first.failed) == (0, 1)  # stopped at the outage, conv:b:2 waits
    await impatient.aclose()
    billing._gateway = patient
    second = await report_usage(billing)
    assert (second.sent, second.duplicates, second.failed) == (1, 1, 0)
    assert await report_usage(billing) == type(second)()  # nothing left

    assert fake_stripe.meter_event_posts - before == 3
    event = fake_stripe.meter_events["conv:b:1"]
    assert (
        event["payload"]["value"] == "1" and event["event_name"] == "ascent_shopbot_conversations"
    )
    rows = await sql("SELECT idempotency_key, reported_at, report_attempts FROM billing_usage "
                     "ORDER BY idempotency_key")  # fmt: skip
    assert [(r["idempotency_key"], r["report_attempts"]) for r in rows] == [
        ("conv:b:1", 2), ("conv:b:2", 1),
    ]  # fmt: skip
    assert all(r["reported_at"] for r in rows)
    assert "conv:b:2" in fake_stripe.meter_events


async def test_usage_without_overage_stays_local(billing, make_org, subscribe, fake_stripe, sql):
    org = await make_org()
    await subscribe(org, "shopbot", "pro")
    await record_usage(billing, "shopbot", "s", "conversations", 1, "local-1", org_id=org.org_id)
    await record_usage(billing, "shopbot", "free-store", "conversations", 1, "local-2")
    assert (await report_usage(billing)).sent == 0
    rows = await sql("SELECT event_name, reported_at FROM billing_usage")
    assert all(r["event_name"] is None and r["reported_at"] is None for r in rows)
    assert "local-1" not in fake_stripe.meter_events
