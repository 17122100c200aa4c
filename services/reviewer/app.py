"""The reviewer service: ``create_reviewer_app()`` is registered with ``ascent up``/``serve``.

The web process only takes webhook deliveries in; reviews run in ``ascent worker`` processes
(``services/reviewer/jobs.py``), so any number of each can run against one database.
"""

from __future__ import annotations

import procrastinate
from fastapi import FastAPI

from services.reviewer.github.routes import router as github_router
from services.reviewer.jobs import job_app
from shared.config import Settings, get_settings
from shared.web import create_app


def create_reviewer_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def start(app: FastAPI) -> None:
        # Jobs are deferred on the request's own connection (inside its transaction); the
        # app shares the service's pool rather than opening another.
        jobs = job_app(procrastinate.PsycopgConnector())
        await jobs.open_async(pool=app.state.pool)
        app.state.jobs = jobs

    async def stop(app: FastAPI) -> None:
        await app.state.jobs.close_async()

    return create_app(
        "reviewer",
        routers=[github_router],
        settings=settings,
        on_startup=[start],
        on_shutdown=[stop],
        title="ascent reviewer",
    )
