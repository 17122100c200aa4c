"""The chat WebSocket (``/v1/chat``, see PROTOCOL.md): replay, live events, shopper messages.

A turn runs as its own task, not inside the socket: if the shopper's connection drops, the
answer is still written to the session's events and replayed when the widget reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from services.shopbot import analytics, events
from services.shopbot.access import RateLimited
from services.shopbot.assistant import Assistant
from services.shopbot.query import load_vocabulary
from services.shopbot.stores import Store, store_by_widget_key
from shared.agents import client_for
from shared.agents.store import TraceStore
from shared.billing import EntitlementDenied, billing_for_app, check_entitlement, record_usage

logger = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])
MAX_MESSAGE_CHARS = 2000
MAX_FRAME_BYTES = 16_384
_SESSION = re.compile(r"^[A-Za-z0-9\-_]{8,64}$")


async def start(app: FastAPI) -> None:
    settings = app.state.settings
    app.state.hub = events.Hub(app.state.database_url, app.state.pool)
    await app.state.hub.start()
    app.state.turns = {}  # (store, session) -> running turn task, in this process
    app.state.sockets = Counter()  # store -> open sockets, in this process
    # Starting the embedded LLM (when no endpoint is configured) takes seconds: off the loop.
    client = await asyncio.to_thread(client_for, settings)
    app.state.assistant = Assistant(
        app.state.pool, app.state.chunks, client, TraceStore(app.state.pool),
        asyncio.Semaphore(max(1, settings.llm_parallel)),
        llm=app.state.llm, max_steps=settings.shopbot_max_steps,
        timeout_s=settings.shopbot_turn_timeout,
    )  # fmt: skip


async def stop(app: FastAPI) -> None:
    for task in list(getattr(app.state, "turns", {}).values()):
        task.cancel()
    if hasattr(app.state, "hub"):
        await app.state.hub.stop()


@router.websocket("/v1/chat")
async def chat_socket(ws: WebSocket, key: str = "", session: str = "", after: int = 0) -> None:
    app = ws.app
    store = await store_by_widget_key(app.state.pool, key) if key else None
    # Accept, then close with a code the widget understands (a refused handshake is opaque).
    await ws.accept()
    if store is None or not store.allows(ws.headers.get("origin")):
        await ws.close(code=4403, reason="widget key or origin not allowed")
        return
    if session and not _SESSION.match(session):
        await ws.close(code=4400, reason="bad session id")
        return
    if app.state.sockets[store.id] >= app.state.settings.shopbot_max_sockets:
        await ws.close(code=4429, reason="too many open conversations; retry later")
        return
    session = session or uuid.uuid4().hex
    await events.ensure_session(app.state.pool, store.id, session)
    queue = app.state.hub.subscribe(store.id, session)
    app.state.sockets[store.id] += 1
    try:
        last_sent = max(0, after)
        for event in await events.events_after(app.state.pool, store.id, session, last_sent):
            await ws.send_json(event)
            last_sent = event["id"]
        await ws.send_json({"type": "ready", "session": session, "store": {"name": store.name},
                            "last_event_id": last_sent})  # fmt: skip
        await _resume_unfinished(app, store, session)
        sender = asyncio.create_task(_forward(ws, queue, last_sent))
        try:
            await _receive(ws, app, store, session)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
    except WebSocketDisconnect:
        pass
    finally:
        app.state.sockets[store.id] -= 1
        app.state.hub.unsubscribe(store.id, session, queue)


async def _forward(ws: WebSocket, queue: asyncio.Queue, last_sent: int) -> None:
    while True:
        event = await queue.get()
        if event["id"] > last_sent:  # a replayed event may also arrive live: send it once
            await ws.send_json(event)
            last_sent = event["id"]


async def _receive(ws: WebSocket, app: FastAPI, store: Store, session: str) -> None:
    client = ws.client.host if ws.client else "unknown"
    while True:
        raw = await ws.receive_text()
        if len(raw.encode()) > MAX_FRAME_BYTES:
            await _error(ws, "too_long", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
            continue
        try:
            message = json.loads(raw)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            await _error(ws, "bad_message", 'Send JSON like {"type": "message", "text": "..."}.')
            continue
        if kind == "ping":
            await ws.send_json({"type": "pong"})
        elif kind == "click" and isinstance(message.get("sku"), str):
            await analytics.record_click(app.state.pool, store.id, session, message["sku"][:64])
        elif kind == "message":
            await _message(ws, app, store, session, client, message)
        else:
            await _error(ws, "bad_message", f"Unknown message type {str(kind)[:30]!r}.")


async def _message(ws, app, store: Store, session: str, client: str, message: dict) -> None:
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        await _error(ws, "bad_message", "A message needs non-empty text.")
        return
    if len(text) > MAX_MESSAGE_CHARS:
        await _error(ws, "too_long", f"Messages are limited to {MAX_MESSAGE_CHARS} characters.")
        return
    try:
        limiter = app.state.limiter
        limiter.hit(limiter.message, store.id, session)
        limiter.hit(limiter.message, store.id, client, "ip")
    except RateLimited as exc:
        await _error(ws, "rate_limited", "You're sending messages too fast.",
                     retry_after=exc.retry_after)  # fmt: skip
        return
    client_id = str(message.get("client_id") or "")[:64]
    if client_id and await _already_received(app, store.id, session, client_id):
        return  # a resend after a reconnect: the first copy is being (or was) answered
    turn = await _next_turn(app, store.id, session)
    if turn == 1 and not await _conversation_allowed(ws, app, store, session):
        return
    await events.append(app.state.pool, store.id, session, turn, "user",
                        {"text": text.strip(), "client_id": client_id})  # fmt: skip
    _start_turn(app, store, session, turn, text.strip())


async def _conversation_allowed(ws: WebSocket, app: FastAPI, store: Store, session: str) -> bool:
    """A session's first message starts a conversation, counted once against the store's plan
    (shared.billing); a store whose monthly conversations are used up takes no new ones."""
    billing = billing_for_app(app)
    key = f"shopbot:conversation:{store.id}:{session}"
    try:
        await check_entitlement(billing, "shopbot", store.id, meter="conversations",
                                counted_key=key)  # fmt: skip
    except EntitlementDenied as exc:
        logger.warning("store %s: new conversation refused: %s", store.id, exc.detail)
        await _error(ws, "quota_exceeded", "The assistant can't take new conversations right "
                     "now. Please try again later or contact the shop.")  # fmt: skip
        return False
    await record_usage(billing, "shopbot", store.id, "conversations", 1, key)
    return True


def _start_turn(app: FastAPI, store: Store, session: str, turn: int, text: str) -> None:
    key = (store.id, session)
    previous = app.state.turns.get(key)

    async def run() -> None:
        if previous is not None:  # one answer at a time per session, in order
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await previous
        try:
            vocabulary = await load_vocabulary(app.state.pool, store.id)
            await app.state.assistant.run_turn(store, vocabulary, session, turn, text)
        except Exception:
            logger.exception("turn %s of a %s session failed", turn, store.id)
            await events.append(app.state.pool, store.id, session, turn, "done", {
                "text": "Sorry, something went wrong on our side. Please try again.",
                "corrections": [],
            })  # fmt: skip
        finally:
            if app.state.turns.get(key) is task:
                del app.state.turns[key]

    task = asyncio.create_task(run())
    app.state.turns[key] = task


async def _resume_unfinished(app: FastAPI, store: Store, session: str) -> None:
    """A turn whose answer never finished (the server stopped mid-answer) is answered again."""
    if (store.id, session) in app.state.turns:
        return
    async with app.state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT u.turn, u.payload ->> 'text' AS text FROM shop_events u "
            "WHERE u.store_id = %s AND u.session_id = %s AND u.type = 'user' "
            "AND NOT EXISTS (SELECT 1 FROM shop_events d WHERE d.store_id = u.store_id "
            "AND d.session_id = u.session_id AND d.turn = u.turn AND d.type = 'done') "
            "ORDER BY u.turn",
            (store.id, session),
        )
        pending = await cur.fetchall()
    for row in pending:
        notice = {"message": "Picking up where we left off…", "restart": True}
        await events.append(app.state.pool, store.id, session, row["turn"], "notice", notice)
        _start_turn(app, store, session, row["turn"], row["text"])


async def _already_received(app: FastAPI, store_id: str, session: str, client_id: str) -> bool:
    async with app.state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM shop_events WHERE store_id = %s AND session_id = %s AND type = 'user' "
            "AND payload ->> 'client_id' = %s",
            (store_id, session, client_id),
        )
        return await cur.fetchone() is not None


async def _next_turn(app: FastAPI, store_id: str, session: str) -> int:
    async with app.state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(max(turn), 0) + 1 AS turn FROM shop_events "
            "WHERE store_id = %s AND session_id = %s",
            (store_id, session),
        )
        return (await cur.fetchone())["turn"]


async def _error(ws: WebSocket, code: str, message: str, **extra: Any) -> None:
    await ws.send_json({"type": "error", "code": code, "message": message, **extra})
