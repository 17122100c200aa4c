"""The chat widget in real headless Chromium against a fake shopbot (see conftest.py).

The widget (from build(), i.e. minified) is loaded from origin A and embedded in host pages
on origin B. Playwright's CSS locators pierce the widget's open shadow root.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

W = "ascent-shopbot"  # the widget's host element
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def sel(css: str) -> str:
    return f"{W} {css}"


async def open_chat(env: Any, page: Any, url: str | None = None, count: int = 1) -> Any:
    """Load a host page, open the panel and wait until the server has sent `ready`."""
    await page.goto(url or env.plain_page())
    await page.locator(sel(".launcher")).click()
    conn = await env.server.wait_ready_conn(count)
    await expect(page.locator(sel(".conn"))).to_have_attribute("data-state", "online")
    return conn


async def say(page: Any, text: str) -> None:
    await page.locator(sel("input")).fill(text)
    await page.locator(sel("input")).press("Enter")


async def texts(page: Any, css: str) -> list[str]:
    return await page.locator(sel(css)).all_text_contents()


async def stored_session(page: Any, env: Any) -> str | None:
    return await page.evaluate(f"localStorage.getItem('ascent-shopbot:{env.key}:session')")


async def test_send_message_produces_message_frame(env: Any, page: Any) -> None:
    conn = await open_chat(env, page)
    session = await stored_session(page, env)
    assert session and UUID.match(session)
    assert conn.params == {"key": env.key, "session": session, "after": "0"}
    assert conn.origin == env.page_origin

    await say(page, "  Do you have a 2-person tent?  ")
    frame = await env.server.wait_frame(conn, "message")
    assert frame["text"] == "Do you have a 2-person tent?"
    assert UUID.match(frame["client_id"])
    assert set(frame) == {"type", "text", "client_id"}
    assert await page.locator(sel("input")).input_value() == ""

    # The optimistic bubble is confirmed by the server's `user` echo, not duplicated.
    user = page.locator(sel(".msg.user"))
    await expect(user).not_to_have_class(re.compile(r"\bpending\b"))
    assert await texts(page, ".msg.user") == ["Do you have a 2-person tent?"]
    assert env.server.events[session][0]["client_id"] == frame["client_id"]


async def test_restart_notice_clears_the_interrupted_text(env: Any, page: Any) -> None:
    conn = await open_chat(env, page)
    await env.server.emit(conn.session, {"type": "delta", "turn": 1, "text": "The Ridge"})
    bot = page.locator(sel(".msg.bot"))
    await expect(bot.locator(".tx")).to_have_text("The Ridge")
    await env.server.emit(conn.session, {"type": "notice", "turn": 1, "restart": True,
                                         "message": "Picking up where we left off…"})  # fmt: skip
    await expect(bot.locator(".tx")).to_have_text("")
    await env.server.emit(conn.session, {"type": "delta", "turn": 1, "text": "The Ridgeline"})
    await expect(bot.locator(".tx")).to_have_text("The Ridgeline")
    # A plain notice leaves the text alone.
    await env.server.emit(conn.session, {"type": "notice", "turn": 1, "message": "Still here"})
    await expect(page.locator(sel(".msg.notice")).last).to_have_text("Still here")
    await expect(bot.locator(".tx")).to_have_text("The Ridgeline")


async def test_deltas_stream_and_done_replaces_text(env: Any, page: Any) -> None:
    conn = await open_chat(env, page)
    await env.server.emit(conn.session, {"type": "delta", "turn": 1, "text": "The Ridge"})
    await env.server.emit(conn.session, {"type": "delta", "turn": 1, "text": "line costs"})
    bot = page.locator(sel(".msg.bot"))
    await expect(bot.locator(".tx")).to_have_text("The Ridgeline costs")
    await expect(bot).to_have_class(re.compile(r"\bstreaming\b"))
    await expect(page.locator(sel("[role=log]"))).to_have_attribute("aria-busy", "true")

    await env.server.emit(
        conn.session,
        {
            "type": "done",
            "turn": 1,
            "text": "The Ridgeline 2 costs $199.00.",
            "corrections": ["Price corrected from $189.00 to $199.00."],
        },
    )
    await expect(bot.locator(".tx")).to_have_text("The Ridgeline 2 costs $199.00.")
    await expect(bot).to_have_count(1)
    await expect(bot).not_to_have_class(re.compile(r"\bstreaming\b"))
    await expect(bot.locator(".corr summary")).to_have_text("1 correction")
    await expect(bot.locator(".corr li")).to_have_text("Price corrected from $189.00 to $199.00.")
    await expect(page.locator(sel("[role=log]"))).not_to_have_attribute("aria-busy", "true")

    # A second answer gets its own bubble; a done without deltas still renders.
    await env.server.emit(
        conn.session, {"type": "done", "turn": 2, "text": "Anything else?", "corrections": []}
    )
    await expect(bot).to_have_count(2)
    await expect(bot.nth(1).locator(".corr")).to_have_count(0)


async def test_product_cards_prices_safe_links_and_xss(env: Any, page: Any) -> None:
    conn = await open_chat(env, page)
    image = env.add_asset(".png", PNG, "image/png")
    product_page = env.add_page("<!doctype html><title>tent</title><p>Ridgeline 2</p>")
    xss = '<img src=x onerror="window.__xss=1">Switchback <b>boots</b>'
    products = [
        {
            "sku": "TENT-1",
            "title": "Ridgeline 2 tent",
            "price": 19.99,
            "currency": "USD",
            "in_stock": True,
            "stock": 4,
            "image": image,
            "url": product_page,
            "category": "tents",
        },
        {
            "sku": "BOOT-9",
            "title": xss,
            "price": 1234.5,
            "currency": "EUR",
            "in_stock": False,
            "stock": 0,
            "image": "javascript:window.__xss=2",
            "url": "javascript:window.__xss=3",
            "category": "boots",
        },
        {
            "sku": "PACK-3",
            "title": "Summit pack",
            "price": 8900,
            "currency": "JPY",
            "in_stock": True,
            "stock": 1,
            "image": None,
            "url": None,
            "category": "packs",
        },
    ]
    await env.server.emit(conn.session, {"type": "products", "turn": 1, "products": products})
    cards = page.locator(sel(".card"))
    await expect(cards).to_have_count(3)
    assert await texts(page, ".card .price") == ["$19.99", "€1,234.50", "¥8,900"]
    assert await texts(page, ".card .stock") == ["In stock", "Out of stock", "In stock"]

    first = cards.nth(0)
    link = first.locator("a")
    assert await link.get_attribute("href") == product_page
    assert await link.get_attribute("target") == "_blank"
    assert "noopener" in (await link.get_attribute("rel")).split()
    assert (await link.text_content()).startswith("Ridgeline 2 tent")
    img = first.locator("img")
    assert await img.get_attribute("alt") == "Ridgeline 2 tent"
    assert await img.get_attribute("src") == image

    # The hostile card: title rendered as text, no javascript: link or image.
    evil = cards.nth(1)
    await expect(evil.locator(".t")).to_have_text(xss)
    assert await evil.locator("a, img, b").count() == 0
    assert await cards.nth(2).locator("a, img").count() == 0
    await page.wait_for_timeout(100)
    assert await page.evaluate("window.__xss") is None

    # Opening a card's link (new tab) reports the click over the socket.
    async with page.context.expect_page() as popup_info:
        await link.click()
    popup = await popup_info.value
    assert await popup.evaluate("window.opener") is None
    await popup.close()
    frame = await env.server.wait_frame(conn, "click")
    assert frame == {"type": "click", "sku": "TENT-1"}


async def test_click_falls_back_to_rest_when_socket_is_down(env: Any, page: Any) -> None:
    conn = await open_chat(env, page)
    product_page = env.add_page("<!doctype html><title>pack</title>")
    card = {
        "sku": "PACK-3",
        "title": "Summit pack",
        "price": 89,
        "currency": "USD",
        "in_stock": True,
        "stock": 3,
        "image": None,
        "url": product_page,
        "category": "packs",
    }
    await env.server.emit(conn.session, {"type": "products", "turn": 1, "products": [card]})
    await expect(page.locator(sel(".card a"))).to_have_count(1)

    posted: list[dict[str, Any]] = []

    async def capture(route: Any) -> None:
        request = route.request
        posted.append(
            {"method": request.method, "url": request.url, "body": request.post_data_json}
        )
        await route.fulfill(status=204, headers={"Access-Control-Allow-Origin": env.page_origin})

    await page.route(f"{env.server.origin}/v1/events/click*", capture)
    env.server.refuse_handshake = True
    assert env.server.drop(conn.session) == 1
    await expect(page.locator(sel(".conn"))).to_have_attribute("data-state", "reconnecting")

    async with page.context.expect_page() as popup_info:
        await page.locator(sel(".card a")).click()
    await (await popup_info.value).close()
    await env.wait_until(lambda: posted, what="POST /v1/events/click")
    assert posted[0]["method"] == "POST"
    assert posted[0]["url"] == f"{env.server.origin}/v1/events/click?key={env.key}"
    assert posted[0]["body"] == {"sku": "PACK-3", "session": conn.session}
    assert conn.of_type("click") == []


async def test_reconnect_resumes_after_last_id_without_duplicates(env: Any, page: Any) -> None:
    server = env.server
    conn1 = await open_chat(env, page)
    await say(page, "first question")
    await server.wait_frame(conn1, "message")
    await server.emit(conn1.session, {"type": "delta", "turn": 1, "text": "first "})
    await server.emit(
        conn1.session, {"type": "done", "turn": 1, "text": "first answer", "corrections": []}
    )
    card = {"sku": "A", "title": "Tent", "price": 10, "currency": "USD", "in_stock": True}
    await server.emit(conn1.session, {"type": "products", "turn": 1, "products": [card]})
    await server.emit(conn1.session, {"type": "notice", "turn": 1, "message": "Search results."})
    await expect(page.locator(sel(".msg.bot .tx"))).to_have_text("first answer")
    await expect(page.locator(sel(".notice"))).to_have_count(1)

    server.replay_everything = True  # the replay overlaps what the widget already has
    assert server.drop(conn1.session) == 1
    conn_line = page.locator(sel(".conn"))
    await expect(conn_line).to_have_attribute("data-state", "reconnecting")
    await expect(conn_line).to_have_text(re.compile(r"^Reconnecting in [12] s"))
    # Events stored while the socket was down, and a message typed meanwhile (queued).
    await server.emit(conn1.session, {"type": "notice", "turn": 1, "message": "Back in stock."})
    await say(page, "second question")

    conn2 = await server.wait_ready_conn(2)
    assert conn2.params == {"key": env.key, "session": conn1.session, "after": "5"}
    frame = await server.wait_frame(conn2, "message")
    assert conn2.frames[0] == frame  # sent after `ready` on the new socket
    assert frame["text"] == "second question"
    assert frame["client_id"] != conn1.of_type("message")[0]["client_id"]
    assert conn1.of_type("message")[1:] == []

    await expect(conn_line).to_have_attribute("data-state", "online")
    await expect(page.locator(sel(".msg.user"))).to_have_count(2)
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(0)
    await page.wait_for_timeout(150)
    assert await texts(page, ".msg.user") == ["first question", "second question"]
    assert await texts(page, ".msg.bot .tx") == ["first answer"]
    assert await texts(page, ".notice") == ["Search results.", "Back in stock."]
    await expect(page.locator(sel(".card"))).to_have_count(1)
    last = await page.evaluate(
        f"localStorage.getItem('ascent-shopbot:{env.key}:{conn1.session}:last')"
    )
    assert last == "7"


async def test_unconfirmed_message_is_resent_with_same_client_id(env: Any, page: Any) -> None:
    server = env.server
    conn1 = await open_chat(env, page)
    server.hold_echo = True  # the message reaches the server, the echo never comes back
    await say(page, "did this arrive?")
    sent = await server.wait_frame(conn1, "message")
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(1)
    server.hold_echo = False
    server.drop(conn1.session)
    conn2 = await server.wait_ready_conn(2)
    resent = await server.wait_frame(conn2, "message")
    assert resent == sent
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(0)
    assert await texts(page, ".msg.user") == ["did this arrive?"]


async def test_reload_restores_conversation_once(env: Any, page: Any) -> None:
    server = env.server
    conn1 = await open_chat(env, page)
    await say(page, "tents under $200?")
    await server.wait_frame(conn1, "message")
    await server.emit(conn1.session, {"type": "delta", "turn": 1, "text": "Yes"})
    await server.emit(
        conn1.session, {"type": "done", "turn": 1, "text": "Yes: the Ridgeline.", "corrections": []}
    )
    await expect(page.locator(sel(".msg.bot .tx"))).to_have_text("Yes: the Ridgeline.")

    await page.reload()
    # A conversation exists, so the widget reconnects at once (panel closed) and replays all.
    conn2 = await server.wait_ready_conn(2)
    assert conn2.params == {"key": env.key, "session": conn1.session, "after": "0"}
    badge = page.locator(sel(".badge"))
    await expect(badge).to_be_hidden()  # nothing new since the last visit
    await server.emit(conn1.session, {"type": "notice", "turn": 1, "message": "Price dropped!"})
    await expect(badge).to_be_visible()
    launcher = page.locator(sel(".launcher"))
    assert "new messages" in await launcher.get_attribute("aria-label")

    await launcher.click()
    await expect(badge).to_be_hidden()
    assert await texts(page, ".msg.user") == ["tents under $200?"]
    assert await texts(page, ".msg.bot .tx") == ["Yes: the Ridgeline."]
    assert await texts(page, ".notice") == ["Price dropped!"]


async def test_notice_and_error_are_accessible_status_messages(env: Any, page: Any) -> None:
    server = env.server
    conn = await open_chat(env, page)
    await server.emit(
        conn.session,
        {"type": "notice", "turn": 1, "message": "The assistant is unavailable; search results."},
    )
    notice = page.locator(sel("[role=log] [role=status]"))
    await expect(notice).to_have_text("The assistant is unavailable; search results.")

    server.hold_echo = True
    await say(page, "spam")
    await server.wait_frame(conn, "message")
    await server.send_raw(
        conn.session,
        {"type": "error", "code": "rate_limited", "message": "Slow down.", "retry_after": 3},
    )
    alert = page.locator(sel("[role=log] [role=alert]"))
    await expect(alert).to_have_text("Slow down. Try again in 3 s.")
    await expect(page.locator(sel(".msg.user"))).to_have_class(re.compile(r"\bfailed\b"))
    await expect(page.locator(sel(".msg.user .note"))).to_have_text("Not sent")
    # Distinct looks for notice and error.
    colours = await page.evaluate(
        """() => { const r = document.querySelector('ascent-shopbot').shadowRoot;
        return ['.notice', '.error'].map(
          s => getComputedStyle(r.querySelector(s)).backgroundColor); }"""
    )
    assert colours[0] != colours[1]


async def test_4403_shows_error_and_does_not_reconnect(env: Any, page: Any) -> None:
    await page.goto(env.plain_page(key="pk_not_allowed_here", open="true"))
    await env.server.wait_conn(1)
    alert = page.locator(sel("[role=alert]"))
    await expect(alert).to_contain_text("not available on this site")
    await expect(page.locator(sel(".conn"))).to_have_attribute("data-state", "error")
    await say(page, "hello?")
    await expect(page.locator(sel(".msg.user .note"))).to_have_text("Not sent")
    await asyncio.sleep(2.5)  # longer than the first two back-off delays
    assert len(env.server.conns) == 1


async def test_backoff_schedule_reset_and_ping(env: Any, page: Any) -> None:
    server = env.server
    await page.clock.install(time=1_000_000)
    await page.clock.pause_at(1_001_000)  # only run_for() moves the widget's timers on
    # Jitter factor 0.8 + 0.4 * random: 0.5 gives the exact schedule.
    await page.add_init_script("window.__rand = 0.5; Math.random = () => window.__rand")
    server.refuse_handshake = True
    await page.goto(env.plain_page(open="true"))
    conn_line = page.locator(sel(".conn"))
    for n, secs in enumerate([1, 2, 4, 8, 10, 10], start=1):
        await expect(conn_line).to_have_text(f"Reconnecting in {secs} s…")
        assert len(server.conns) == n
        await page.clock.run_for(secs * 1000 - 50)
        await asyncio.sleep(0.1)
        assert len(server.conns) == n, f"reconnected before {secs} s"
        await page.clock.run_for(50)
        await server.wait_conn(n + 1)

    await expect(conn_line).to_have_text("Reconnecting in 10 s…")
    server.refuse_handshake = False
    await page.clock.run_for(10_000)
    conn = await server.wait_ready_conn(8)
    await expect(conn_line).to_have_text("Online")
    await page.evaluate("window.__rand = 0")  # the most negative jitter: 1 s * 0.8
    server.drop(conn.session)
    await expect(conn_line).to_have_text("Reconnecting in 1 s…")  # reset after `ready`
    await page.clock.run_for(800)
    conn = await server.wait_ready_conn(9)
    await expect(conn_line).to_have_text("Online")

    await page.clock.run_for(25_000)
    assert await server.wait_frame(conn, "ping") == {"type": "ping"}
    await page.clock.run_for(25_000)
    await server.wait_frame(conn, "ping", n=2)
    assert len(server.conns) == 9  # pongs came back: the socket was not dropped


async def test_offline_queues_messages_until_back_online(env: Any, page: Any) -> None:
    conn1 = await open_chat(env, page)
    await page.context.set_offline(True)
    conn_line = page.locator(sel(".conn"))
    await expect(conn_line).to_have_attribute("data-state", "offline")
    await expect(conn_line).to_contain_text("Offline")
    await say(page, "sent later")
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(1)
    await asyncio.sleep(0.2)
    assert conn1.of_type("message") == []
    await page.context.set_offline(False)
    conn2 = await env.server.wait_ready_conn(2)
    frame = await env.server.wait_frame(conn2, "message")
    assert frame["text"] == "sent later" and UUID.match(frame["client_id"])
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(0)
    await expect(page.locator(sel(".msg.user"))).to_have_count(1)


async def test_escape_closes_and_focus_returns_to_launcher(env: Any, page: Any) -> None:
    await page.goto(env.plain_page(title="Trailhead help"))
    launcher = page.locator(sel("button.launcher"))
    await expect(launcher).to_have_attribute("aria-label", "Trailhead help chat")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    panel = page.locator(sel(".panel"))
    await expect(panel).to_be_hidden()

    active = """() => { const r = document.querySelector('ascent-shopbot').shadowRoot;
        const a = r.activeElement; return a && (a.getAttribute('aria-label') || a.tagName); }"""
    await page.keyboard.press("Tab")
    assert await page.evaluate(active) == "Trailhead help chat"
    await page.keyboard.press("Enter")
    await expect(panel).to_be_visible()
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    assert await page.evaluate(active) == "Message"
    await expect(page.locator(sel("h2"))).to_have_text("Trailhead help")
    await expect(page.locator(sel("[role=dialog]"))).to_have_attribute(
        "aria-labelledby", "asb-title"
    )
    log = page.locator(sel("[role=log]"))
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(page.locator(sel("form button[type=submit]"))).to_have_attribute(
        "aria-label", "Send message"
    )

    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    assert await page.evaluate(active) == "Trailhead help chat"

    await page.keyboard.press("Enter")
    await expect(panel).to_be_visible()
    await page.locator(sel("button.close[aria-label='Close chat']")).click()
    await expect(panel).to_be_hidden()
    assert await page.evaluate(active) == "Trailhead help chat"


async def test_panel_is_full_screen_on_narrow_screens(env: Any, page: Any) -> None:
    await page.set_viewport_size({"width": 375, "height": 667})
    await page.goto(env.plain_page())
    await page.locator(sel(".launcher")).click()
    panel = page.locator(sel(".panel"))
    await expect(panel).to_be_visible()
    assert await panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    await expect(page.locator(sel(".launcher"))).to_be_hidden()  # covered: hidden, not stacked
    await page.locator(sel(".close")).click()
    await expect(page.locator(sel(".launcher"))).to_be_focused()

    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.locator(sel(".launcher")).click()
    box = await panel.bounding_box()
    assert box["width"] == 370 and box["height"] == 560
    assert box["x"] + box["width"] == 1280 - 20


STYLE_PROBE = """() => {
  const host = document.querySelector('ascent-shopbot');
  const r = host.shadowRoot;
  const targets = {
    host: host, launcher: '.launcher', icon: '.launcher svg', panel: '.panel', header: 'header',
    title: 'h2', close: '.close', conn: '.conn', log: '.log', user: '.msg.user',
    bot: '.msg.bot', text: '.msg.bot .tx', notice: '.notice', cards: '.cards', card: '.card',
    image: '.card img', link: '.card a', price: '.price', stock: '.stock', form: 'form',
    input: 'input', send: '.send',
  };
  const props = ['display', 'position', 'font-family', 'font-size', 'font-weight',
    'line-height', 'letter-spacing', 'text-transform', 'color', 'background-color',
    'border-top-width', 'border-top-style', 'border-top-color', 'border-top-left-radius',
    'margin-top', 'margin-left', 'padding-top', 'padding-left', 'box-sizing', 'width',
    'height', 'text-decoration-line', 'filter', 'visibility'];
  const out = {};
  for (const [name, target] of Object.entries(targets)) {
    const el = typeof target === 'string' ? r.querySelector(target) : target;
    if (!el) { out[name] = null; continue; }
    const cs = getComputedStyle(el);
    out[name] = Object.fromEntries(props.map(p => [p, cs.getPropertyValue(p)]));
  }
  return out;
}"""


async def _styled_conversation(env: Any, page: Any, url: str, count: int) -> dict[str, Any]:
    conn = await open_chat(env, page, url, count)
    await page.mouse.move(0, 0)
    await env.server.emit(
        conn.session, {"type": "user", "turn": 1, "text": "hi", "client_id": "c-1"}
    )
    await env.server.emit(
        conn.session, {"type": "done", "turn": 1, "text": "Hello!", "corrections": []}
    )
    await env.server.emit(conn.session, {"type": "notice", "turn": 1, "message": "Note."})
    card = {
        "sku": "A",
        "title": "Tent",
        "price": 10,
        "currency": "USD",
        "in_stock": True,
        "stock": 1,
        "image": env.add_asset(".png", PNG, "image/png"),
        "url": "https://shop.example/tent",
        "category": "tents",
    }
    await env.server.emit(conn.session, {"type": "products", "turn": 1, "products": [card]})
    await expect(page.locator(sel(".card img"))).to_have_count(1)
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    return await page.evaluate(STYLE_PROBE)


async def test_hostile_host_css_does_not_change_the_widget(
    env: Any, page: Any, browser: Any
) -> None:
    extra = (
        '<div class="panel">page panel</div><button class="launcher">page button</button>'
        '<p class="msg user">page bubble</p><h2 id="page-h2">page heading</h2>'
    )
    plain = await _styled_conversation(env, page, env.plain_page(extra=extra), 1)
    assert all(v is not None for v in plain.values()), plain

    # The widget's CSS does not leak out to the page's same-named elements.
    leak = await page.evaluate(
        """() => ['.panel', 'button.launcher', 'p.msg', '#page-h2'].map(s => {
          const cs = getComputedStyle(document.querySelector(s));
          return [cs.position, cs.backgroundColor, cs.borderTopLeftRadius, cs.marginTop];
        })"""
    )
    assert leak[0][0] == "static" and leak[1][0] == "static"
    assert leak[2][1] == "rgba(0, 0, 0, 0)" and leak[2][2] == "0px"
    assert leak[3][3] != "0px"

    hostile_ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        hostile_page = await hostile_ctx.new_page()
        hostile = await _styled_conversation(env, hostile_page, env.demo_page(), 2)
        # The hostile CSS is live on the page itself (so this test can fail)...
        page_button = await hostile_page.evaluate(
            """() => { const cs = getComputedStyle(document.querySelector('main button'));
            return [cs.backgroundColor, cs.color, cs.fontFamily]; }"""
        )
        assert page_button[0] == "rgb(0, 255, 0)" and page_button[1] == "rgb(255, 0, 0)"
        assert "Comic Sans" in page_button[2]
    finally:
        await hostile_ctx.close()

    # ... and changes nothing in the widget.
    diffs = {
        (name, prop): (plain[name][prop], hostile[name][prop])
        for name in plain
        for prop in plain[name]
        if plain[name][prop] != hostile[name][prop]
    }
    assert not diffs
    assert "Comic Sans" not in plain["bot"]["font-family"]
    assert plain["send"]["background-color"] == "rgb(29, 78, 216)"


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


async def test_text_contrast_meets_wcag_aa(env: Any, page: Any) -> None:
    conn = await open_chat(env, page)
    await say(page, "hi")
    await env.server.wait_frame(conn, "message")
    await env.server.emit(
        conn.session, {"type": "done", "turn": 1, "text": "Hello", "corrections": ["x"]}
    )
    await env.server.emit(conn.session, {"type": "notice", "turn": 1, "message": "n"})
    await env.server.send_raw(conn.session, {"type": "error", "code": "busy", "message": "e"})
    card = {"sku": "A", "title": "T", "price": 1, "currency": "USD", "in_stock": True}
    await env.server.emit(
        conn.session,
        {"type": "products", "turn": 1, "products": [card, {**card, "in_stock": False}]},
    )
    await expect(page.locator(sel(".card"))).to_have_count(2)
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(0)
    pairs = await page.evaluate(
        """() => {
      const r = document.querySelector('ascent-shopbot').shadowRoot;
      const parse = c => c.match(/[\\d.]+/g).map(Number);
      const bg = el => { for (; el && el.nodeType === 1; el = el.parentNode || el.host) {
          const c = parse(getComputedStyle(el).backgroundColor);
          if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
      const sels = ['h2', '.conn', '.hint', '.msg.user', '.msg.bot', '.corr summary', '.notice',
        '.error', '.card .t', '.price', '.stock.in', '.stock.out', '.send', 'input'];
      return sels.map(s => { const el = r.querySelector(s);
        return [s, parse(getComputedStyle(el).color), bg(el)]; });
    }"""
    )
    for name, fg, bg in pairs:
        hi, lo = sorted([_luminance(fg), _luminance(bg)], reverse=True)
        ratio = (hi + 0.05) / (lo + 0.05)
        assert ratio >= 4.5, f"{name}: contrast {ratio:.2f} ({fg} on {bg})"
    assert json.dumps(pairs)  # all found


async def test_works_with_blocked_storage(env: Any, page: Any) -> None:
    await page.add_init_script(
        "Object.defineProperty(window, 'localStorage', "
        "{get() { throw new DOMException('denied', 'SecurityError'); }})"
    )
    conn = await open_chat(env, page)
    assert UUID.match(conn.params["session"])
    await say(page, "hello")
    assert (await env.server.wait_frame(conn, "message"))["text"] == "hello"
    await expect(page.locator(sel(".msg.user.pending"))).to_have_count(0)
