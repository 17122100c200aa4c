"""The shopbot service: ``create_shopbot_app()`` is registered with ``ascent up``/``serve``."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware

from services.shopbot import chat, widget
from services.shopbot.access import Limiter
from services.shopbot.api import admin, public
from services.shopbot.demo import ensure_demo_store
from shared.config import Settings, get_settings
from shared.models.embeddings import Embedder
from shared.retrieval import ChunkStore
from shared.web import create_app

logger = logging.getLogger(__name__)
# Routes a host page calls from the browser: CORS is answered per store (the widget key's
# allowed origins are checked by the route itself, so echoing the origin here grants nothing).
_BROWSER_PATHS = ("/v1/search", "/v1/events/")


class WidgetCORS(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        origin = request.headers.get("origin")
        if not origin or not request.url.path.startswith(_BROWSER_PATHS):
            return await call_next(request)
        cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Expose-Headers": "Retry-After"}  # fmt: skip
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={
                **cors, "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600",
            })  # fmt: skip
        response = await call_next(request)
        response.headers.update(cors)
        return response


def create_shopbot_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def start(app: FastAPI) -> None:
        app.state.chunks = ChunkStore(app.state.pool, Embedder(settings))
        app.state.vocabularies = {}
        app.state.limiter = Limiter(settings.shopbot_search_rate, settings.shopbot_message_rate)
        app.state.background = set()
        await chat.start(app)
        if settings.shopbot_demo and settings.env != "production":
            app.state.background.add(asyncio.create_task(_seed_demo(app, settings)))

    async def stop(app: FastAPI) -> None:
        await chat.stop(app)
        for task in list(app.state.background):
            task.cancel()

    app = create_app("shopbot", routers=[public, admin, chat.router, widget.router],
                     settings=settings, on_startup=[start], on_shutdown=[stop],
                     title="ascent shopbot")  # fmt: skip
    app.add_middleware(WidgetCORS)
    return app


async def _seed_demo(app: FastAPI, settings: Settings) -> None:
    origins = [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost")
               for port in range(settings.base_port, settings.base_port + 10)]  # fmt: skip
    try:
        store, admin_key = await ensure_demo_store(app.state.pool, app.state.chunks, origins)
        if admin_key:
            # The key is not logged (secrets never are); the CLI issues new ones on demand.
            logger.warning("demo store %r created: open /demo; admin key: "
                           "`ascent shopbot admin-key %s`", store.id, store.id)  # fmt: skip
    except Exception:
        logger.exception("could not seed the demo store")
