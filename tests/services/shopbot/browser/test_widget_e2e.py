"""End to end: a store page embeds the real widget from the real shopbot service (a uvicorn
subprocess on another origin, see conftest.py), in headless Chromium.

The widget's DOM is read through its open shadow root
(``document.querySelector('ascent-shopbot').shadowRoot``); the WebSocket frames the page
receives are recorded through Playwright to check the wire as well as the rendering.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.agents.store import TraceStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CAMERA_Q = "what is your cheapest camera?"
TENT_Q = "I need a tent for camping"
LLM_WAIT = 90.0  # seconds: the 0.5B model on a small, shared CPU

# Everything the tests need from the widget, read from its open shadow root.
SNAPSHOT_JS = """() => {
  const host = document.querySelector('ascent-shopbot');
  if (!host) return null;
  const root = host.shadowRoot;
  if (!root) return {host: true, open: false};
  const text = (el) => (el ? el.textContent : null);
  const conn = root.querySelector('.conn');
  return {
    host: true,
    open: true,
    panelHidden: root.querySelector('.panel').hidden,
    conn: conn && {state: conn.getAttribute('data-state'), text: conn.textContent},
    log: [...root.querySelectorAll('.log > *')].map((el) => ({
      cls: el.className,
      text: el.classList.contains('bot') ? text(el.querySelector('.tx')) : el.textContent,
      cards: [...el.querySelectorAll('.card')].map((c) => ({
        sku: c.getAttribute('data-sku'),
        title: text(c.querySelector('.t').firstChild), // without the sr-only link note
        price: text(c.querySelector('.price')),
        stock: text(c.querySelector('.stock')),
      })),
    })),
  };
}"""

# Records what the assistant bubbles show while they are still streaming (before `done`).
WATCH_STREAMING_JS = """() => {
  const root = document.querySelector('ascent-shopbot').shadowRoot;
  window.__streamed = [];
  new MutationObserver(() => {
    for (const b of root.querySelectorAll('.msg.bot.streaming')) {
      const t = b.querySelector('.tx').textContent;
      if (t) window.__streamed.push(t);
    }
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@dataclass
class Widget:
    """A page with the widget, and every WebSocket the page opened and the frames it received."""

    page: Any
    sockets: list[str] = field(default_factory=list)
    frames_before: list[int] = field(default_factory=list)  # len(frames) as each socket opened
    frames: list[dict[str, Any]] = field(default_factory=list)  # server → widget, all sockets
    closed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, context: Any, url: str) -> Widget:
        page = await context.new_page()
        widget = cls(page)
        page.on("websocket", widget._on_socket)
        page.on("pageerror", lambda exc: widget.errors.append(str(exc)))
        await page.goto(url)
        return widget

    def _on_socket(self, ws: Any) -> None:
        if "/v1/chat" not in ws.url:
            return
        self.sockets.append(ws.url)
        self.frames_before.append(len(self.frames))
        ws.on("framereceived", self._on_frame)
        ws.on("close", lambda _ws: self.closed.append(ws.url))

    def _on_frame(self, payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode()
        try:
            self.frames.append(json.loads(text))
        except ValueError:
            self.frames.append({"type": "<not json>", "raw": text})

    def of_type(self, kind: str, turn: int | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames
                if f.get("type") == kind and (turn is None or f.get("turn") == turn)]  # fmt: skip

    async def snapshot(self) -> dict[str, Any] | None:
        return await self.page.evaluate(SNAPSHOT_JS)

    async def until(
        self, check: Callable[[dict[str, Any]], Any], timeout: float, what: str
    ) -> dict[str, Any]:
        """Poll the shadow-root snapshot until ``check(snapshot)`` is truthy."""
        deadline = time.monotonic() + timeout
        snap: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            snap = await self.snapshot()
            if snap and snap.get("open") and check(snap):
                return snap
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; widget: {snap}")

    async def wait_online(self, timeout: float = 20.0) -> dict[str, Any]:
        return await self.until(lambda s: s["conn"]["state"] == "online", timeout, "Online")

    async def say(self, text: str) -> None:
        box = self.page.locator("ascent-shopbot input[name=message]")
        await box.fill(text)
        await box.press("Enter")

    async def session(self, store_key: str) -> str:
        return await self.page.evaluate(
            "(k) => localStorage.getItem('ascent-shopbot:' + k + ':session')", store_key
        )


def bubbles(snap: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in snap["log"] if re.search(rf"\bmsg\b.*\b{kind}\b", e["cls"])]


def answered(snap: dict[str, Any], n: int) -> bool:
    """The n-th assistant bubble exists and is finished (``done`` rendered)."""
    bots = bubbles(snap, "bot")
    return len(bots) >= n and "streaming" not in bots[n - 1]["cls"]


def all_cards(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for e in snap["log"] for c in e["cards"]]


async def ask_cheapest_camera(widget: Widget) -> dict[str, Any]:
    """Turn 1 on every page: answered exactly from SQL, no model involved."""
    await widget.say(CAMERA_Q)
    snap = await widget.until(lambda s: answered(s, 1), 20, "the cheapest-camera answer")
    answer = bubbles(snap, "bot")[0]["text"]
    assert "Instamatic Camera" in answer and "$20.00" in answer, answer
    cards = {c["title"]: c for c in all_cards(snap)}
    assert cards["Instamatic Camera"]["price"] == "$20.00", cards
    return snap


# -- 1. a shopper asks, the service answers ----------------------------------------------------
@pytest.mark.llm
async def test_shopper_gets_an_exact_answer_then_streamed_cards_and_text(
    shopbot, host_site, new_context, pool
):
    widget = await Widget.open(await new_context(), host_site.store_page(shopbot, hostile=True))
    snap = await widget.wait_online()
    assert snap["panelHidden"] is False  # data-open="true"
    assert len(widget.sockets) == 1 and widget.sockets[0].startswith(
        f"ws://127.0.0.1:{shopbot.port}/v1/chat?key={shopbot.store.widget_key}&session="
    )
    session = await widget.session(shopbot.store.widget_key)
    ready = widget.of_type("ready")
    assert ready and ready[0]["session"] == session and ready[0]["store"] == {"name": "Vendure"}

    # An exact catalogue-wide question: answered from SQL, without the model (no agent trace).
    began = time.monotonic()
    await ask_cheapest_camera(widget)
    assert time.monotonic() - began < 20
    [done1] = widget.of_type("done", turn=1)
    assert "Instamatic Camera" in done1["text"] and "$20.00" in done1["text"]
    traces = TraceStore(pool)
    assert await traces.get(shopbot.store.id, session, 1) is None

    # A free-form question: product cards first, then the model's answer, streamed.
    await widget.page.evaluate(WATCH_STREAMING_JS)
    await widget.say(TENT_Q)
    snap = await widget.until(lambda s: answered(s, 2), LLM_WAIT, "the tent answer")
    turn2 = widget.of_type("products", turn=2)
    assert turn2, "no products event for the tent question"
    skus = {p["sku"] for event in turn2 for p in event["products"]}
    tents = [c for c in all_cards(snap) if c["sku"] in skus and c["title"] == "Tent"]
    assert tents and tents[0]["price"] == "$214.93", all_cards(snap)

    deltas = widget.of_type("delta", turn=2)
    [done2] = widget.of_type("done", turn=2)
    final = bubbles(snap, "bot")[1]["text"]
    assert deltas, "the answer was not streamed"
    assert final.strip() and final == done2["text"]
    streamed = await widget.page.evaluate("window.__streamed")
    assert streamed and streamed[0].strip(), "no streamed text was shown before `done`"
    assert await traces.get(shopbot.store.id, session, 2) is not None  # the model did answer

    # The log reads: question, answer (+ cards), question, cards, answer; nothing twice.
    users = [b["text"] for b in bubbles(snap, "user")]
    assert users == [CAMERA_Q, TENT_Q]
    assert len(bubbles(snap, "bot")) == 2
    assert not widget.errors


# -- 2. the host page's CSS can't reach the widget --------------------------------------------
WIDGET_PARTS = [
    ".w", ".launcher", ".launcher svg", ".panel", "header", "h2", ".close", ".close svg",
    ".conn", ".log", ".msg.user", ".msg.bot", ".msg.bot .tx", ".cards", ".card", ".card .t",
    ".card .price", ".card .stock", "form", "input", ".send",
]  # fmt: skip
STYLE_PROPS = [
    "display", "position", "visibility", "opacity", "float", "direction", "text-align",
    "font-family", "font-size", "font-weight", "line-height", "letter-spacing", "word-spacing",
    "text-transform", "text-decoration-line", "color", "background-color", "box-sizing",
    "margin-top", "margin-left", "padding-top", "padding-left", "border-top-width",
    "border-top-style", "border-top-color", "border-top-left-radius", "filter", "zoom",
    "transition-duration", "width", "max-width",
]  # fmt: skip
GEOMETRY = [".launcher", ".panel", "header", "input", ".send"]
# Legitimately the page's: `all` never resets `direction` (the widget sets `ltr` on `.w`, which
# is compared), and `.w` is an invisible block as wide as the page's <body> (its visible
# children are position: fixed, and their boxes are compared).
PAGE_OWNED = {("<host>", "direction"), (".w", "width")}

STYLES_JS = """([parts, props, geometry]) => {
  const host = document.querySelector('ascent-shopbot');
  const root = host.shadowRoot;
  const pick = (el) => {
    const cs = getComputedStyle(el);
    return Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p)]));
  };
  const out = {'<host>': pick(host)};
  for (const sel of parts) {
    const el = root.querySelector(sel);
    out[sel] = el ? pick(el) : null;
  }
  for (const sel of geometry) {
    const r = root.querySelector(sel).getBoundingClientRect();
    out[sel + ' <box>'] = {x: r.x, y: r.y, width: r.width, height: r.height};
  }
  return out;
}"""


async def test_host_page_css_does_not_change_the_widget(shopbot, host_site, new_context):
    seen = {}
    for hostile in (False, True):
        widget = await Widget.open(
            await new_context(), host_site.store_page(shopbot, hostile=hostile)
        )
        await widget.wait_online()
        await ask_cheapest_camera(widget)  # user and assistant bubbles, product cards
        await widget.page.mouse.move(0, 0)  # no hover state anywhere
        seen[hostile] = await widget.page.evaluate(STYLES_JS, [WIDGET_PARTS, STYLE_PROPS, GEOMETRY])
        if hostile:  # the page's own elements do get the hostile CSS (so this test can fail)
            h1 = await widget.page.evaluate(
                "() => { const s = getComputedStyle(document.getElementById('store-title'));"
                " return [s.fontFamily, s.color, s.textTransform]; }"
            )
            assert h1 == ['"Comic Sans MS", cursive', "rgb(255, 0, 0)", "uppercase"], h1
        assert not widget.errors
    plain, hostile = seen[False], seen[True]
    assert all(plain[part] is not None for part in plain), plain
    diffs = {
        f"{part} {prop}": (plain[part][prop], hostile[part][prop])
        for part in plain
        for prop in plain[part]
        if plain[part][prop] != hostile[part][prop] and (part, prop) not in PAGE_OWNED
    }
    assert not diffs, f"hostile page changed the widget (plain, hostile): {diffs}"
    # And the widget is really visible at its place: bottom right, panel open.
    assert plain[".launcher <box>"]["width"] == 56 and plain[".panel <box>"]["width"] == 370


# -- 3. the service dies mid-answer and comes back ----------------------------------------------
@pytest.mark.llm
async def test_widget_reconnects_after_the_service_is_killed_mid_answer(
    shopbot, host_site, new_context, pool
):
    widget = await Widget.open(await new_context(), host_site.store_page(shopbot, hostile=False))
    await widget.wait_online()
    before = await ask_cheapest_camera(widget)
    camera_answer = bubbles(before, "bot")[0]["text"]
    session = await widget.session(shopbot.store.widget_key)

    # A free-form question; kill -9 the service as soon as its answer has begun.
    await widget.say(TENT_Q)
    deadline = time.monotonic() + LLM_WAIT
    while not (widget.of_type("products", turn=2) or widget.of_type("delta", turn=2)):
        assert time.monotonic() < deadline, f"the answer never began: {widget.frames}"
        await asyncio.sleep(0.02)
    shopbot.kill()
    killed_at = time.monotonic()
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT type FROM shop_events WHERE session_id = %s AND turn = 2 ORDER BY id",
            (session,),
        )
        stored = [row["type"] for row in await cur.fetchall()]
    assert "done" not in stored, f"too late: the answer finished before the kill ({stored})"

    # The widget notices and schedules a reconnect (never more than 10 s away).
    snap = await widget.until(
        lambda s: s["conn"]["state"] == "reconnecting", 15, "the Reconnecting state"
    )
    wait_s = int(re.fullmatch(r"Reconnecting in (\d+) s…", snap["conn"]["text"]).group(1))
    assert 1 <= wait_s <= 10, snap["conn"]
    await asyncio.sleep(max(0.0, 1.5 - (time.monotonic() - killed_at)))  # let a retry fail

    shopbot.start()  # same port, same database
    await shopbot.wait_healthy()
    up_at = time.monotonic()
    await widget.wait_online(timeout=15)
    reconnect_s = time.monotonic() - up_at
    assert reconnect_s <= 12, f"reconnected {reconnect_s:.1f}s after the service was back"
    assert len(widget.sockets) >= 2
    # It resumes from the last event it had seen.
    seen = [f["id"] for f in widget.frames[: widget.frames_before[-1]] if "id" in f]
    assert widget.sockets[-1].endswith(f"&after={max(seen)}"), (widget.sockets, seen)

    # The unfinished turn is picked up again (a `restart` notice first) and answered.
    snap = await widget.until(lambda s: answered(s, 2), LLM_WAIT, "the re-answered tent question")
    notices = widget.of_type("notice", turn=2)
    assert notices and notices[0].get("restart") is True, notices
    dones = widget.of_type("done", turn=2)
    assert len(dones) == 1, dones
    final = bubbles(snap, "bot")[1]["text"]
    assert final.strip() and final == dones[0]["text"]
    assert any(e["cls"] == "msg notice" and e["text"] == notices[0]["message"] for e in snap["log"])

    # The earlier conversation is still there, and nothing is shown twice.
    assert [b["text"] for b in bubbles(snap, "user")] == [CAMERA_Q, TENT_Q]
    bots = bubbles(snap, "bot")
    assert len(bots) == 2 and bots[0]["text"] == camera_answer
    ids = [f["id"] for f in widget.frames if "id" in f]
    assert len(ids) == len(set(ids)), f"an event was delivered twice: {ids}"
    sent = [p["sku"] for e in widget.of_type("products") for p in e["products"]]
    turn2 = [p["sku"] for e in widget.of_type("products", turn=2) for p in e["products"]]
    assert len(turn2) == len(set(turn2)), f"the tent cards were sent twice: {turn2}"
    assert [c["sku"] for c in all_cards(snap)] == sent  # each card drawn once, in order
    assert any(c["title"] == "Tent" and c["price"] == "$214.93" for c in all_cards(snap))
    assert not widget.errors


# -- 4. a site the store didn't allow ----------------------------------------------------------
async def test_disallowed_origin_shows_an_error_and_stops(shopbot, foreign_site, new_context):
    widget = await Widget.open(await new_context(), foreign_site.store_page(shopbot, hostile=False))
    snap = await widget.until(lambda s: s["conn"]["state"] == "error", 15, "the error state")
    assert snap["conn"]["text"] == "Unavailable"
    alerts = [e["text"] for e in snap["log"] if "error" in e["cls"].split()]
    assert alerts == ["The shopping assistant is not available on this site."], snap["log"]
    assert widget.frames == []  # refused before any event (close code 4403)

    # A message typed now is marked as not sent, and nothing ever reconnects (the first retry
    # would come after at most 1.2 s).
    await widget.say("hello?")
    snap = await widget.until(
        lambda s: any("failed" in e["cls"] for e in bubbles(s, "user")), 5, "a failed bubble"
    )
    assert bubbles(snap, "user")[0]["text"] == "hello?Not sent"
    await asyncio.sleep(3)
    assert len(widget.sockets) == 1, widget.sockets
    snap = await widget.snapshot()
    assert snap["conn"]["state"] == "error"
    assert not widget.errors
