"""Liveness (/healthz: the process answers) and readiness (/readyz: its database and LLM do)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _timed(check) -> dict[str, object]:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(check, timeout=5)
        return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)}
    except Exception as exc:  # every failure is reported, none crashes the probe
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


async def _database(request: Request) -> None:
    async with request.app.state.pool.connection() as conn:
        await conn.execute("SELECT 1")


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = {
        "database": await _timed(_database(request)),
        "llm": await _timed(request.app.state.llm.health()),
    }
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
