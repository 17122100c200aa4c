"""The account pages in the Debian Chromium against a real server (uvicorn in a thread):
pricing -> sign-up -> checkout on billing's fake Stripe -> the account page's new plan, keys
on a phone-sized screen, and no CSP violations anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from pydantic import SecretStr

from shared.billing import Billing
from shared.billing.setup import ensure_stripe_catalog
from shared.web.app import create_app

pytestmark = [pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 375, "height": 740}
FAKE_STRIPE = Path(__file__).parents[1] / "billing" / "fake_stripe.py"


def _fake_stripe_module() -> Any:
    # Billing's tests import it by this name too; one module object serves both.
    if "fake_stripe" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fake_stripe", FAKE_STRIPE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_stripe"] = module
        spec.loader.exec_module(module)
    return sys.modules["fake_stripe"]


def bound_socket() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def serve(app: Any, sock: socket.socket, origin: str) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    yield origin
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def site(settings) -> Iterator[str]:
    """Billing off, the single-machine default."""
    settings = settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})
    app = create_app("accounts", settings=settings)
    yield from serve(app, *bound_socket())


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[Any]:
    fake = _fake_stripe_module().FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def paid_site(settings, fake_stripe) -> Iterator[str]:
    """Billing on, against the fake Stripe, with the plans' prices created there."""
    fake = _fake_stripe_module()
    sock, origin = bound_socket()
    settings = settings.model_copy(update={
        "llm_base_url": "http://127.0.0.1:9/v1", "billing_enabled": True,
        "stripe_api_key": SecretStr(fake.API_KEY), "stripe_api_base": fake_stripe.base,
        "stripe_webhook_secret": SecretStr(fake.WEBHOOK_SECRET), "public_url": origin,
    })  # fmt: skip

    async def stripe_catalog(app: Any) -> None:
        app.state.billing = Billing(settings, app.state.pool)
        await ensure_stripe_catalog(app.state.billing)

    app = create_app(
        "accounts", settings=settings,
        on_startup=[stripe_catalog],
    )  # fmt: skip
    yield from serve(app, sock, origin)


@pytest_asyncio.fixture(loop_scope="session")
async def page() -> AsyncIterator[Any]:
    """A fresh browser page; uncaught errors and CSP violations fail the test."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(locale="en-US", viewport=PHONE)
            ctx.set_default_timeout(10_000)
            page = await ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: "Content Security Policy" in msg.text and errors.append(msg.text),
            )
            yield page
            assert not errors, f"errors in the page: {errors}"
        finally:
            with contextlib.suppress(Exception):
                await browser.close()


async def fits_the_screen(page: Any) -> None:
    overflow = await page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"


@pytest.mark.asyncio(loop_scope="session")
async def test_keys_on_a_phone(site: str, page: Any) -> None:
    await page.goto(f"{site}/account")
    assert "/account/sign-in?next=/account" in page.url
    await fits_the_screen(page)
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Email").fill("phone@example.com")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_label("Organization").fill("Pocket Co")
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(f"{site}/account")
    assert await page.get_by_test_id("org-name").inner_text() == "Pocket Co"
    # The stylesheet applied (served under the strict CSP).
    assert await page.evaluate("getComputedStyle(document.body).marginTop") == "0px"
    await fits_the_screen(page)

    await page.get_by_label("Name", exact=True).fill("laptop")
    await page.get_by_role("checkbox", name="Shopping assistant").uncheck()
    await page.get_by_role("button", name="Create key").click()
    key = await page.get_by_test_id("new-key").input_value()
    assert key.startswith("asc_")
    await fits_the_screen(page)
    await page.get_by_role("link", name="Back to your account").click()
    row = page.locator("tr", has_text="laptop")
    assert key not in await page.content()
    assert "repurposer, reviewer" in await row.inner_text()

    await row.get_by_role("button", name="Revoke key laptop").click()
    await page.wait_for_url(f"{site}/account#api-keys")
    assert await page.locator("tr", has_text="laptop").count() == 0
    assert await page.get_by_text("No API keys yet.").is_visible()

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{site}/account/sign-in")
    await page.goto(f"{site}/account")
    assert "/account/sign-in" in page.url


@pytest.mark.asyncio(loop_scope="session")
async def test_pricing_shows_plans_without_checkout_while_billing_is_off(
    site: str, page: Any
) -> None:
    await page.goto(f"{site}/pricing/repurposer")
    assert await page.get_by_role("heading", name="Pro").is_visible()
    assert await page.get_by_text("Billing is off").is_visible()
    assert await page.get_by_role("button", name="Choose plan").count() == 0
    await fits_the_screen(page)


async def pay_on_fake_stripe(route: Any, fake_stripe: Any, site: str) -> None:
    """What a shopper paying on Stripe's page amounts to: the session completes, Stripe sends
    checkout.session.completed to the webhook, and the browser goes to the success URL."""
    session_id = route.request.url.rsplit("/", 1)[-1]
    session = await asyncio.to_thread(fake_stripe.complete_checkout, session_id)
    body, headers = _fake_stripe_module().signed_event("checkout.session.completed", session)
    async with httpx.AsyncClient() as client:
        delivered = await client.post(f"{site}/billing/webhooks/stripe", content=body,
                                      headers=headers)  # fmt: skip
    assert delivered.status_code == 200, delivered.text
    await route.fulfill(status=303, headers={"Location": session["success_url"]})


@pytest.mark.asyncio(loop_scope="session")
async def test_pricing_to_checkout_to_the_new_plan(
    paid_site: str, fake_stripe: Any, page: Any
) -> None:
    site = paid_site
    await page.route(
        "https://checkout.stripe.test/**",
        lambda route: pay_on_fake_stripe(route, fake_stripe, site),
    )
    await page.goto(f"{site}/pricing/repurposer")
    await fits_the_screen(page)
    pro = page.locator("article", has=page.get_by_role("heading", name="Pro"))
    # Signed out: choosing a plan goes through sign-up and back to the same plan.
    await pro.get_by_role("link", name="Choose plan").click()
    await page.wait_for_url("**/account/sign-up?next=*")
    await page.get_by_label("Email").fill("buyer@example.com")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_label("Organization").fill("Buyer Inc")
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(f"{site}/pricing/repurposer?plan=pro")
    assert await page.get_by_text("Confirm your plan").is_visible()

    await pro.get_by_role("button", name="Choose plan").click()
    await page.wait_for_url(f"{site}/account?checkout=success")
    assert await page.get_by_text("Your payment went through").is_visible()
    assert await page.get_by_test_id("plan-repurposer").inner_text() == "Pro"
    card = page.locator("article[data-product=repurposer]")
    assert "Active" in await card.inner_text()
    assert await card.locator("progress").get_attribute("max") == "600"
    assert await page.get_by_test_id("plan-reviewer").inner_text() == "Free"
    await fits_the_screen(page)
