"""Fixtures for the end-to-end widget tests: the real shopbot service, real pages, real Chromium.

- ``shopbot``: the service as a **uvicorn subprocess** on origin B (``http://127.0.0.1:<B>``),
  configured only through environment variables, on a fresh database (``database_url``) holding
  one store, 'vendure' (the packaged Vendure catalogue), whose widget key allows origin A. It can
  be SIGKILLed and started again on the same port (``kill()`` / ``start()``).
- ``host_site`` (origin A, allowed) and ``foreign_site`` (origin C, not allowed): ``http.server``
  threads serving host pages with the real embed tag, ``<script src=B/widget.js ...>``.
- ``browser``: headless Debian Chromium (Playwright, async API, session event loop); ``context``
  is a fresh profile (own localStorage) per use.

Tests marked ``llm`` give the service the session's llama.cpp server (``llm_base_url``); the
others give it an address where nothing listens, so they never need the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.shopbot.catalog import parse_catalog
from services.shopbot.demo import demo_shopify_products
from services.shopbot.importer import import_products
from services.shopbot.stores import Store, create_store

REPO = Path(__file__).resolve().parents[4]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TEST_LLM = "qwen2.5-coder-0.5b"
DEAD_LLM = "http://127.0.0.1:9/v1"  # discard port: nothing answers

# Deliberately hostile global CSS: none of it may change the widget.
HOSTILE_CSS = """
  html { font-size: 30px !important; line-height: 3 !important; }
  * {
    font-family: "Comic Sans MS", cursive !important; font-size: 22px !important;
    font-weight: 900 !important; color: red !important; line-height: 3 !important;
    letter-spacing: 3px !important; word-spacing: 9px !important;
    box-sizing: content-box !important; text-transform: uppercase !important;
    text-align: right !important; direction: rtl !important;
    visibility: visible !important; opacity: .9 !important;
  }
  *, *::before, *::after { transition: all 5s !important; }
  body { background: #ffe !important; margin: 2rem; }
  button, input { background: lime !important; border-radius: 0 !important;
                   padding: 20px !important; border: 7px solid orange !important;
                   height: 90px !important; width: 300px !important; }
  div, section, header, form, ul, li, p, span, h2, a, img, svg {
    border: 3px dashed blue !important; margin: 40px !important; padding: 30px !important;
    background: yellow !important; display: block !important; position: static !important;
    float: left !important; width: 50% !important; max-width: none !important;
  }
  svg { display: none !important; }
  [hidden] { display: block !important; }
  ascent-shopbot { display: none !important; position: absolute !important;
                   left: -9999px !important; filter: blur(4px) !important; zoom: 0.5; }
  /* The widget's own class names: must not reach into its shadow root. */
  .w, .panel, .launcher, .msg, .bot, .user, .card, .cards, .log, .conn, .price, .send {
    display: none !important; color: hotpink !important; font-size: 40px !important;
  }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- host pages (origins A and C) ------------------------------------------------------------
class PageServer(ThreadingHTTPServer):
    daemon_threads = True
    pages: dict[str, bytes]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def page(self, body: str) -> str:
        """Serve ``body`` (HTML) under a fresh path; returns its URL."""
        path = f"/{uuid.uuid4().hex[:10]}.html"
        self.pages[path] = body.encode()
        return self.origin + path

    def store_page(self, shopbot: Shopbot, *, hostile: bool, open_: bool = True) -> str:
        """A store page with the real embed tag (and, if ``hostile``, HOSTILE_CSS)."""
        style = f"<style>{HOSTILE_CSS}</style>" if hostile else ""
        tag = (
            f'<script src="{shopbot.origin}/widget.js" '
            f'data-store-key="{html.escape(shopbot.store.widget_key)}"'
            + (' data-open="true"' if open_ else "")
            + " async></script>"
        )
        return self.page(
            '<!doctype html><html lang="en-US"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Store</title>{style}</head><body>"
            '<header><h1 id="store-title">Trailhead Outfitters</h1>'
            "<p>Tents, packs and boots.</p></header>"
            '<main><div class="promo">Free shipping over $75.</div>'
            '<button type="button">Add to basket</button></main>'
            f"{tag}</body></html>"
        )


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        body = self.server.pages.get(urlsplit(self.path).path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _page_server() -> Iterator[PageServer]:
    server = PageServer(("127.0.0.1", 0), PageHandler)
    server.pages = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def host_site() -> Iterator[PageServer]:
    """Origin A: the store's allowed origin."""
    with _page_server() as server:
        yield server


@pytest.fixture(scope="session")
def foreign_site() -> Iterator[PageServer]:
    """Origin C: a site the store's widget key does not allow."""
    with _page_server() as server:
        yield server


# -- the service (origin B) -------------------------------------------------------------------
@dataclass
class Shopbot:
    """The shopbot service as a uvicorn subprocess that can be killed and restarted."""

    port: int
    env: dict[str, str]
    log_path: Path
    store: Store
    proc: subprocess.Popen | None = None
    starts: int = 0
    _logs: list[Any] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        log.flush()
        self._logs.append(log)
        app = "services.shopbot.app:create_shopbot_app"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals to it never reach pytest
        )  # fmt: skip
        self.starts += 1

    async def wait_healthy(self, timeout: float = 90.0) -> float:
        """Poll /healthz (answered only after the app's start-up); returns the seconds waited."""
        began = time.monotonic()
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"shopbot exited ({self.proc.returncode}):\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.origin}/healthz", timeout=2) as response,
            ):
                if response.status == 200:
                    return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise AssertionError(f"shopbot not healthy after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, sockets dropped without a closing handshake."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for log in self._logs:
            log.close()
        self._logs.clear()

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


@pytest.fixture
async def shop_store(pool, chunks, host_site: PageServer) -> Store:
    """'vendure' (the packaged Vendure catalogue), usable from origin A only."""
    store, _admin = await create_store(pool, "vendure", "Vendure", origins=[host_site.origin])
    report = parse_catalog(json.dumps(demo_shopify_products()).encode(), "products.json")
    await import_products(pool, chunks, store, report.records, full_sync=True)
    return store


@pytest.fixture
async def shopbot(
    request, shop_store: Store, database_url: str, data_home: Path, tmp_path: Path
) -> AsyncIterator[Shopbot]:
    uses_llm = request.node.get_closest_marker("llm") is not None
    llm_url = request.getfixturevalue("llm_base_url") if uses_llm else DEAD_LLM
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ASCENT_LLM_BASE_URL": llm_url,
        "ASCENT_LLM_MODEL": TEST_LLM,
        "ASCENT_DATA_HOME": str(data_home),
        "ASCENT_SHOPBOT_DEMO": "false",
        "ASCENT_MIGRATE_ON_START": "false",
        "ASCENT_ENV": "test",
        "PYTHONUNBUFFERED": "1",
    }
    if not uses_llm:  # fail fast instead of retrying a dead endpoint
        env.update({"ASCENT_LLM_MAX_RETRIES": "0", "ASCENT_LLM_TIMEOUT": "3"})
    service = Shopbot(free_port(), env, tmp_path / "shopbot.log", shop_store)
    service.start()
    try:
        await service.wait_healthy()
        yield service
    finally:
        service.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(f"--- shopbot log ({service.log_path}) ---\n{service.log_tail()}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)  # lets fixtures see whether the test failed
    return report


# -- the browser ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def new_context(browser: Any) -> AsyncIterator[Any]:
    """A factory of fresh browser profiles (own localStorage), all closed after the test."""
    contexts: list[Any] = []

    async def make() -> Any:
        ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        with contextlib.suppress(Exception):
            await ctx.close()
