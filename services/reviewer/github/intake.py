"""Accepting a verified delivery: record it and queue its job, in one transaction.

The delivery row and the job commit together or not at all, so a delivery is never recorded
without its job (a retry by GitHub would then be answered "duplicate" and lost), and a job
never runs without its delivery. Installation events are plain table updates, done inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from services.reviewer.github import store
from services.reviewer.github.webhooks import INSTALLATION_EVENTS, classify

HANDLE_TASK = "reviewer:handle_delivery"


@dataclass(frozen=True)
class Accepted:
    status_code: int
    status: str  # queued, recorded, duplicate, ignored, pong
    detail: str = ""
    job_id: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.job_id is not None:
            body["job_id"] = self.job_id
        return body


async def accept_delivery(
    pool: AsyncConnectionPool,
    jobs: procrastinate.App,
    event: str,
    delivery_id: str,
    payload: dict[str, Any],
    raw: str,
) -> Accepted:
    if event == "ping":
        return Accepted(200, "pong", f"hook {payload.get('hook_id')}")
    work = classify(event, payload)
    if work is None and event not in INSTALLATION_EVENTS:
        return Accepted(202, "ignored", f"nothing to do for {event}.{payload.get('action')}")
    async with pool.connection() as conn, conn.transaction():
        if not await store.record_delivery(conn, delivery_id, event, payload, raw):
            return Accepted(200, "duplicate", f"delivery {delivery_id} was already received")
        if work is None:
            change = await store.apply_installation_event(conn, event, payload)
            return Accepted(200, "recorded", change)
        task = jobs.configure_task(HANDLE_TASK, lock=work.lock, connection=conn)
        job_id = await task.defer_async(delivery_id=delivery_id)
    return Accepted(202, "queued", f"{work.kind} {work.repository}#{work.number}", job_id)
