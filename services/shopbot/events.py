"""A session's events: stored in order (for replay and memory) and fanned out to its sockets.

Every event is a row in ``shop_events`` with an id that increases per session, and a Postgres
``NOTIFY`` on commit. Each process LISTENs once and hands notifications to the sockets it
holds, so a turn running in one replica streams to a socket held by another, with Postgres as
the only moving part.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger(__name__)
CHANNEL = "shop_events"
_MAX_NOTIFY_BYTES = 7000  # Postgres caps payloads at 8000 bytes; bigger events are re-read

_APPEND = (
    "WITH next AS (UPDATE shop_sessions SET last_event = last_event + 1, last_seen = now() "
    "WHERE store_id = %(store)s AND id = %(session)s RETURNING last_event) "
    "INSERT INTO shop_events (store_id, session_id, id, turn, type, payload) "
    "SELECT %(store)s, %(session)s, last_event, %(turn)s, %(type)s, %(payload)s FROM next "
    "RETURNING id"
)


def as_event(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "type": row["type"], "turn": row["turn"], **row["payload"]}


async def ensure_session(pool: AsyncConnectionPool, store_id: str, session_id: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO shop_sessions (store_id, id) VALUES (%s, %s) "
            "ON CONFLICT (store_id, id) DO UPDATE SET last_seen = now()",
            (store_id, session_id),
        )


async def append(
    pool: AsyncConnectionPool, store_id: str, session_id: str, turn: int, kind: str,
    payload: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Store one event and notify every process; returns the event as sent to sockets."""
    async with pool.connection() as conn, conn.transaction():
        params = {"store": store_id, "session": session_id, "turn": turn, "type": kind,
                  "payload": Jsonb(payload)}  # fmt: skip
        cur = await conn.execute(_APPEND, params)
        event_id = (await cur.fetchone())["id"]
        event = {"id": event_id, "type": kind, "turn": turn, **payload}
        message = {"s": store_id, "c": session_id, "e": event}
        text = json.dumps(message, separators=(",", ":"))
        if len(text.encode()) > _MAX_NOTIFY_BYTES:
            text = json.dumps({"s": store_id, "c": session_id, "id": event_id})
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))
    return event


async def events_after(
    pool: AsyncConnectionPool, store_id: str, session_id: str, after: int
) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, turn, type, payload FROM shop_events WHERE store_id = %s "
            "AND session_id = %s AND id > %s ORDER BY id",
            (store_id, session_id, after),
        )
        return [as_event(r) for r in await cur.fetchall()]


async def turn_products(
    pool: AsyncConnectionPool, store_id: str, session_id: str, turn: int
) -> list[dict[str, Any]]:
    """The product cards already sent for ``turn`` (non-empty when a turn is answered again)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT payload -> 'products' AS products FROM shop_events WHERE store_id = %s "
            "AND session_id = %s AND turn = %s AND type = 'products' ORDER BY id",
            (store_id, session_id, turn),
        )
        return [card for row in await cur.fetchall() for card in row["products"] or []]


async def history(
    pool: AsyncConnectionPool, store_id: str, session_id: str, *, turns: int = 3
) -> list[dict[str, str]]:
    """The last ``turns`` exchanges (shopper text, verified answer): the assistant's memory."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT turn, type, payload FROM shop_events WHERE store_id = %s AND session_id = %s "
            "AND type IN ('user', 'done') AND turn > (SELECT coalesce(max(turn), 0) - %s "
            "FROM shop_events WHERE store_id = %s AND session_id = %s) ORDER BY id",
            (store_id, session_id, turns + 1, store_id, session_id),
        )
        rows = await cur.fetchall()
    answered = {r["turn"] for r in rows if r["type"] == "done"}
    messages = []
    for row in rows:
        if row["turn"] not in answered:
            continue  # the turn being answered now, or one that never finished
        role = "user" if row["type"] == "user" else "assistant"
        messages.append({"role": role, "content": row["payload"]["text"]})
    return messages[-2 * turns :]


class Hub:
    """LISTENs on one connection; each open socket subscribes to its session's events."""

    def __init__(self, conninfo: str, pool: AsyncConnectionPool) -> None:
        self._conninfo = conninfo
        self._pool = pool
        self._queues: dict[tuple[str, str], set[asyncio.Queue]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, store_id: str, session_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[(store_id, session_id)].add(queue)
        return queue

    def unsubscribe(self, store_id: str, session_id: str, queue: asyncio.Queue) -> None:
        queues = self._queues.get((store_id, session_id))
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[(store_id, session_id)]

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        await self._deliver(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted: listen again, with backoff
                logger.warning("event listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _deliver(self, payload: str) -> None:
        message = json.loads(payload)
        queues = self._queues.get((message["s"], message["c"]))
        if not queues:
            return
        event = message.get("e")
        if event is None:  # too big to notify: read it back
            found = await events_after(self._pool, message["s"], message["c"], message["id"] - 1)
            event = next((e for e in found if e["id"] == message["id"]), None)
            if event is None:
                return
        for queue in list(queues):
            queue.put_nowait(event)
