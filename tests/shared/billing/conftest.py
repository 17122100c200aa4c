"""Billing fixtures: the fake Stripe (localstripe + the endpoints it lacks), a ``Billing`` on a
fresh database with the Stripe catalogue set up, an app serving ``billing_router``, and
signed-in organisations."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from shared.accounts import create_user
from shared.accounts.sessions import cookie_name, create_session, load_session
from shared.billing import Billing, billing_router, clock
from shared.billing.setup import ensure_stripe_catalog
from shared.billing.stripe_client import StripeGateway
from shared.web.errors import install_error_handlers

sys.path.insert(0, str(Path(__file__).parent))
from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, signed_event

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def billing_settings(settings, fake_stripe):
    return settings.model_copy(update={
        "billing_enabled": True, "stripe_api_key": SecretStr(API_KEY),
        "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET), "stripe_api_base": fake_stripe.base,
        "public_url": "https://app.example", "billing_grace_days": 7,
    })  # fmt: skip


@pytest.fixture
async def billing(billing_settings, pool, fake_stripe) -> AsyncIterator[Billing]:
    # No SDK retries: the tests decide when a call is repeated.
    gateway = StripeGateway(API_KEY, api_base=fake_stripe.base, timeout=5, max_network_retries=0)
    billing = Billing(billing_settings, pool, gateway=gateway)
    await ensure_stripe_catalog(billing)  # creates the catalogue once per fake, then no-ops
    yield billing
    await billing.aclose()


@pytest.fixture
def app(billing) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings, app.state.pool, app.state.billing = billing.settings, billing.pool, billing
    app.include_router(billing_router)
    return app


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Org:
    org_id: str
    email: str
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie}

    def form(self, **fields: str) -> dict[str, str]:
        return {"csrf_token": self.csrf, **fields}


@pytest.fixture
def make_org(pool, settings):
    counter = iter(range(1000))

    async def make(name: str = "") -> Org:
        n = next(counter)
        email = f"owner{n}-{id(pool)}@example.com"
        user_id, org_id = await create_user(pool, email, PASSWORD, name or f"Org {n}")
        session_id = await create_session(pool, user_id, org_id)
        session = await load_session(pool, session_id)
        return Org(org_id, email, f"{cookie_name(settings)}={session_id}", session.csrf_token)

    return make


@pytest.fixture
def deliver(client):
    """POST a correctly signed event to the webhook endpoint."""

    async def send(kind: str, obj: dict, **kwargs) -> httpx.Response:
        body, headers = signed_event(kind, obj, **kwargs)
        return await client.post("/billing/webhooks/stripe", content=body, headers=headers)

    return send


@pytest.fixture
def subscribe(client, billing, fake_stripe, deliver):
    """Check out ``plan`` as ``org`` and pay; returns the Stripe subscription id."""

    async def run(org: Org, product: str, plan: str, *, card: str = "pm_card_visa") -> str:
        resp = await client.post("/billing/checkout", data=org.form(product=product, plan=plan),
                                 headers=org.headers)  # fmt: skip
        assert resp.status_code == 303, resp.text
        session_id = resp.headers["location"].rsplit("/", 1)[-1]
        session = fake_stripe.complete_checkout(session_id, card)
        done = await deliver("checkout.session.completed", session)
        assert done.status_code == 200, done.text
        return session["subscription"]

    return run


@pytest.fixture
def at(monkeypatch):
    """Move billing's clock: ``at(datetime)``."""

    def move(when: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: when)

    return move


@pytest.fixture
def sql(pool):
    """Run SQL on the test database: ``await sql("SELECT ...", params)``."""

    async def run(query: str, params: tuple = ()) -> list[dict]:
        async with pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall() if cur.description else []

    return run
