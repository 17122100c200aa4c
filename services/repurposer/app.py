"""The repurposer service: ``create_repurposer_app()`` is registered with ``ascent up``/``serve``.

The web process takes uploads, serves the UI, results and live progress; the pipeline runs in
``ascent worker`` processes (``services/repurposer/jobs.py``), any number against one database.
"""

from __future__ import annotations

import logging
from pathlib import Path

import procrastinate
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.repurposer import api, uploads
from services.repurposer.events import JobHub
from services.repurposer.jobs import job_app
from services.repurposer.storage import open_storage
from services.repurposer.workspaces import LOCAL_WORKSPACE, create_workspace
from shared.config import Settings, get_settings
from shared.web import create_app

logger = logging.getLogger(__name__)
SOURCE_UI_DIR = Path(__file__).resolve().parents[2] / "apps" / "repurposer-ui"
# The UI has no inline script or style, so the page can forbid both.
UI_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_repurposer_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    ui_dir = settings.repurposer_ui_dir or SOURCE_UI_DIR

    async def start(app: FastAPI) -> None:
        app.state.storage = open_storage(settings)
        jobs = job_app(procrastinate.PsycopgConnector())
        await jobs.open_async(pool=app.state.pool)
        app.state.jobs = jobs
        app.state.hub = JobHub(app.state.database_url)
        await app.state.hub.start()
        if settings.repurposer_demo and settings.env != "production":
            await create_workspace(app.state.pool, LOCAL_WORKSPACE, "Local workspace")
            logger.warning(
                "repurposer: open the web UI on this machine to sign in to the "
                "local workspace; API keys: `ascent repurposer key`"
            )

    async def stop(app: FastAPI) -> None:
        await app.state.hub.stop()
        await app.state.jobs.close_async()

    app = create_app(
        "repurposer",
        routers=[uploads.router, api.router, api.files_router],
        settings=settings,
        on_startup=[start],
        on_shutdown=[stop],
        title="ascent repurposer",
    )
    if (ui_dir / "index.html").exists():
        app.mount("/static", StaticFiles(directory=ui_dir / "static"), name="static")

        @app.get("/", include_in_schema=False)
        async def index(_: Request) -> FileResponse:
            return FileResponse(ui_dir / "index.html", headers=UI_HEADERS)
    else:
        logger.warning("repurposer web UI not found at %s (set ASCENT_REPURPOSER_UI_DIR)", ui_dir)
    return app
