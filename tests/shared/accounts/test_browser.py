"""The account pages in the Debian Chromium against a real server (uvicorn in a thread):
sign-up from the pricing page, keys on a phone-sized screen, and no CSP violations."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn

from shared.accounts.routes import accounts_router
from shared.billing import billing_router
from shared.web.app import create_app

pytestmark = [pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 375, "height": 740}


def serve(app: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def site(settings) -> Iterator[str]:
    settings = settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})
    app = create_app("accounts", routers=[accounts_router, billing_router], settings=settings)
    yield from serve(app)


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
async def test_pricing_sends_a_visitor_through_sign_up_to_checkout(
    settings, site: str, page: Any
) -> None:
    # Billing off: plans are shown, checkout buttons are not.
    await page.goto(f"{site}/pricing/repurposer")
    assert await page.get_by_role("heading", name="Pro").is_visible()
    assert await page.get_by_text("Billing is off").is_visible()
    await fits_the_screen(page)
