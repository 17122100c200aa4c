"""Fixtures for the chat-widget browser tests.

The shopbot service is not needed: ``FakeShopbot`` is a test-only server speaking
services/shopbot/PROTOCOL.md. It runs on origin A with the ``websockets`` library (the
WebSocket at ``/v1/chat`` and, through ``process_request``, ``GET /widget.js`` from
``build()``), records what the widget sends and lets each test script the server's events.
Host pages are served by ``http.server`` on origin B, so the widget always runs cross-origin,
as it does when embedded in a store. Everything runs in the session event loop, next to
Playwright's async API; the browser is the Debian Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib.util
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

WIDGET_DIR = Path(__file__).resolve().parents[3] / "apps" / "chat-widget"
STORE_KEY = "pk_test_trailhead"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def load_build_module() -> Any:
    """apps/chat-widget/build.py, loaded by path exactly as the service does."""
    spec = importlib.util.spec_from_file_location("chat_widget_build", WIDGET_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


@dataclass
class Conn:
    """One WebSocket connection the widget opened, and every frame it sent on it."""

    index: int
    path: str
    params: dict[str, str]
    origin: str | None
    frames: list[dict[str, Any]] = field(default_factory=list)
    ws: ServerConnection | None = None
    session: str = ""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]


class FakeShopbot:
    """A scriptable stand-in for the shopbot service (PROTOCOL.md), origin A."""

    def __init__(self, widget_js: bytes) -> None:
        self.widget_js = widget_js
        self.origin = ""  # set once the port is known
        self.keys: dict[str, set[str]] = {}
        self.reset()

    def reset(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.live: dict[str, set[ServerConnection]] = {}
        self.conns: list[Conn] = []
        self.seen_client_ids: set[tuple[str, str]] = set()
        self.refuse_handshake = False  # answer /v1/chat with HTTP 503 (socket stays down)
        self.hold_echo = False  # record `message` frames but neither store nor echo them
        self.replay_everything = False  # ignore `after` and replay the whole history
        self.turns: dict[str, int] = {}

    # -- scripting ---------------------------------------------------------------------------
    async def emit(self, session: str, event: dict[str, Any]) -> dict[str, Any]:
        """Store an event (it gets the next id) and send it to the session's live sockets."""
        stored = self.events.setdefault(session, [])
        event = {**event, "id": len(stored) + 1}
        stored.append(event)
        for ws in list(self.live.get(session, ())):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(event))
        return event

    async def send_raw(self, session: str, frame: dict[str, Any]) -> None:
        """Send an unstored frame (e.g. `error`, which has no id) to the live sockets."""
        for ws in list(self.live.get(session, ())):
            await ws.send(json.dumps(frame))

    def drop(self, session: str) -> int:
        """Kill the session's sockets without a closing handshake (the widget sees 1006)."""
        sockets = list(self.live.get(session, ()))
        for ws in sockets:
            ws.transport.abort()
        return len(sockets)

    async def wait_conn(self, count: int, timeout: float = 5.0) -> Conn:
        await wait_until(lambda: len(self.conns) >= count, timeout, f"connection #{count}")
        return self.conns[count - 1]

    async def wait_ready_conn(self, count: int = 1, timeout: float = 5.0) -> Conn:
        conn = await self.wait_conn(count, timeout)
        await wait_until(lambda: conn.ws is not None and conn.session, timeout, "ready sent")
        return conn

    async def wait_frame(self, conn: Conn, kind: str, n: int = 1, timeout: float = 5.0) -> dict:
        frames = await wait_until(
            lambda: len(conn.of_type(kind)) >= n and conn.of_type(kind), timeout, f"{kind} #{n}"
        )
        return frames[n - 1]

    # -- server ------------------------------------------------------------------------------
    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/widget.js":
            headers = Headers(
                [
                    ("Content-Type", "text/javascript; charset=utf-8"),
                    ("Content-Length", str(len(self.widget_js))),
                    ("Cache-Control", "no-store"),
                    ("Connection", "close"),
                ]
            )
            return Response(200, "OK", headers, self.widget_js)
        if path != "/v1/chat":
            return connection.respond(404, "not found\n")
        if self.refuse_handshake:
            self.conns.append(Conn(len(self.conns), request.path, {}, None))
            return connection.respond(503, "unavailable\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        params = {k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()}
        origin = request.headers.get("Origin")
        conn = Conn(len(self.conns), request.path, params, origin)
        self.conns.append(conn)
        if origin not in self.keys.get(params.get("key", ""), set()):
            await ws.close(4403, "origin or key refused")
            return
        try:
            after = int(params.get("after") or 0)
        except ValueError:
            await ws.close(4400, "bad parameters")
            return
        session = params.get("session") or str(uuid.uuid4())
        stored = self.events.setdefault(session, [])
        for event in stored:
            if self.replay_everything or event["id"] > after:
                await ws.send(json.dumps(event))
        last = stored[-1]["id"] if stored else 0
        await ws.send(
            json.dumps(
                {
                    "type": "ready",
                    "session": session,
                    "store": {"name": "Trailhead"},
                    "last_event_id": last,
                }
            )
        )
        self.live.setdefault(session, set()).add(ws)
        conn.ws, conn.session = ws, session
        try:
            async for raw in ws:
                frame = json.loads(raw)
                conn.frames.append(frame)
                if frame.get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif frame.get("type") == "message" and not self.hold_echo:
                    dedupe = (session, frame.get("client_id"))
                    if dedupe in self.seen_client_ids:
                        continue
                    self.seen_client_ids.add(dedupe)
                    turn = self.turns[session] = self.turns.get(session, 0) + 1
                    await self.emit(
                        session,
                        {
                            "type": "user",
                            "turn": turn,
                            "text": frame["text"],
                            "client_id": frame["client_id"],
                        },
                    )
        except ConnectionClosed:
            pass
        finally:
            self.live.get(session, set()).discard(ws)


class HostPages(ThreadingHTTPServer):
    """Origin B: serves host pages registered by the tests."""

    daemon_threads = True
    pages: dict[str, tuple[str, bytes]]  # path -> (content type, body)


class HostHandler(BaseHTTPRequestHandler):
    server: HostPages

    def do_GET(self) -> None:
        found = self.server.pages.get(urlsplit(self.path).path)
        if found is None:
            self.send_error(404)
            return
        content_type, data = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Env:
    """What a test gets: the fake service, the page server and helpers to build host pages."""

    server: FakeShopbot
    pages: HostPages
    page_origin: str
    counter: int = 0
    key: str = STORE_KEY
    wait_until = staticmethod(wait_until)

    @property
    def widget_url(self) -> str:
        return f"{self.server.origin}/widget.js"

    def add_page(self, body: str) -> str:
        return self.add_asset(".html", body.encode(), "text/html; charset=utf-8")

    def add_asset(self, suffix: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` on origin B under a fresh path; returns its URL."""
        self.counter += 1
        path = f"/p{self.counter}-{uuid.uuid4().hex[:6]}{suffix}"
        self.pages.pages[path] = (content_type, data)
        return self.page_origin + path

    def plain_page(self, key: str = STORE_KEY, extra: str = "", **attrs: str) -> str:
        """A host page without any CSS; ``attrs`` become ``data-*`` attributes of the tag."""
        data = "".join(
            f' data-{name.replace("_", "-")}="{html.escape(value)}"'
            for name, value in attrs.items()
        )
        return self.add_page(
            '<!doctype html><html lang="en-US"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>plain</title></head><body><h1>Plain store</h1>{extra}"
            f'<script src="{self.widget_url}" data-store-key="{html.escape(key)}"{data} async>'
            "</script></body></html>"
        )

    def demo_page(self, key: str = STORE_KEY) -> str:
        """apps/chat-widget/demo/host.html with its placeholders filled in, as the service will."""
        text = (WIDGET_DIR / "demo" / "host.html").read_text(encoding="utf-8")
        assert "{{WIDGET_URL}}" in text and "{{STORE_KEY}}" in text
        return self.add_page(
            text.replace("{{WIDGET_URL}}", self.widget_url).replace("{{STORE_KEY}}", key)
        )


@pytest.fixture(scope="session")
def build_module() -> Any:
    return load_build_module()


@pytest.fixture(scope="session")
def widget_js(build_module: Any) -> bytes:
    return build_module.build()


@pytest.fixture(scope="session")
def host_pages() -> Iterator[HostPages]:
    server = HostPages(("127.0.0.1", 0), HostHandler)
    server.pages = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fake_shopbot(widget_js: bytes) -> AsyncIterator[FakeShopbot]:
    fake = FakeShopbot(widget_js)
    async with serve(
        fake.handler, "127.0.0.1", 0, process_request=fake.process_request, ping_interval=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.origin = f"http://127.0.0.1:{port}"
        yield fake


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
def env(fake_shopbot: FakeShopbot, host_pages: HostPages) -> Env:
    fake_shopbot.reset()
    page_origin = f"http://127.0.0.1:{host_pages.server_address[1]}"
    fake_shopbot.keys = {STORE_KEY: {page_origin}}
    return Env(fake_shopbot, host_pages, page_origin)


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context (own localStorage) per test."""
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(5000)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: Any) -> AsyncIterator[Any]:
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    yield pg
    assert not errors, f"uncaught errors in the page: {errors}"
