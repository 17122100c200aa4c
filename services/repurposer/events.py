"""Live job progress as Server-Sent Events.

One LISTEN connection per process wakes the streams of a job when it changes; each stream
then re-reads the job and sends what differs from what it last sent. A periodic re-read
covers a lost database connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from services.repurposer import state

logger = logging.getLogger(__name__)
REREAD_SECONDS = 5.0
KEEPALIVE_SECONDS = 15.0


class JobHub:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
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

    @contextlib.contextmanager
    def watch(self, job_id: str):
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {state.CHANNEL}")
                    self._ready.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        for event in self._waiters.get(notify.payload, ()):
                            event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("job listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


def _sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def job_stream(
    hub: JobHub, pool: AsyncConnectionPool, job_id: str, workspace: str
) -> AsyncIterator[str]:
    """``progress`` per stage change, ``asset`` per new text version, then ``done``/``failed``.

    The first events describe the current state, so a late page is up to date at once.
    """
    sent_stages: dict[str, tuple[str, float]] = {}
    sent_assets: dict[str, int] | None = None
    with hub.watch(job_id) as changed:
        while True:
            changed.clear()
            job = await state.get_job(pool, job_id, workspace)
            if job is None:
                yield _sse("failed", {"error": {"code": "not_found", "detail": "job deleted"}})
                return
            for stage in job["stages"]:
                now = (stage["status"], stage["progress"])
                if sent_stages.get(stage["name"]) != now:
                    sent_stages[stage["name"]] = now
                    yield _sse(
                        "progress",
                        {
                            "stage": stage["name"],
                            "status": stage["status"],
                            "progress": stage["progress"],
                            "overall": job["progress"],
                        },
                    )
            versions = {k: a.version for k, a in (await state.get_assets(pool, job_id)).items()}
            if sent_assets is not None:
                for kind, version in versions.items():
                    if sent_assets.get(kind) != version:
                        yield _sse("asset", {"kind": kind, "version": version})
            sent_assets = versions
            if job["status"] in ("done", "failed"):
                yield _sse(job["status"], job)
                return
            try:
                await asyncio.wait_for(changed.wait(), timeout=REREAD_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
