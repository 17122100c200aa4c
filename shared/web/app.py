"""The FastAPI app factory every service uses.

It wires what each service would otherwise repeat: settings, the database (embedded or
``DATABASE_URL``, migrated at start-up), the connection pool, the LLM gateway, request ids,
JSON logs, problem+json errors, /healthz, /readyz and /metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from shared.config import Settings, get_settings
from shared.db import apply_migrations, create_pool, ensure_database
from shared.logging import configure_logging
from shared.models.llm import LLMGateway
from shared.web.errors import install_error_handlers
from shared.web.health import router as health_router
from shared.web.metrics import install_metrics

StartupHook = Callable[[FastAPI], Awaitable[None]]


def create_app(
    name: str,
    *,
    routers: Sequence[APIRouter] = (),
    settings: Settings | None = None,
    on_startup: Sequence[StartupHook] = (),
    on_shutdown: Sequence[StartupHook] = (),
    title: str | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await asyncio.to_thread(ensure_database, settings)
        if settings.migrate_on_start:
            await asyncio.to_thread(apply_migrations, url)
        app.state.database_url = url
        app.state.pool = create_pool(url, settings, name=name)
        await app.state.pool.open(wait=True)
        app.state.llm = LLMGateway(settings)
        try:
            for hook in on_startup:
                await hook(app)
            yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            if (billing := getattr(app.state, "billing", None)) is not None:
                await billing.aclose()  # its Stripe HTTP client, if one was opened
            await app.state.llm.aclose()
            await app.state.pool.close()

    app = FastAPI(title=title or f"ascent {name}", version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.service_name = name
    install_error_handlers(app)
    install_metrics(app, name)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.include_router(health_router)
    # Imported here: shared.accounts builds on shared.web (errors, API keys), so a module-level
    # import would be circular.
    from shared.accounts.routes import accounts_router
    from shared.billing import billing_router

    app.include_router(accounts_router)
    app.include_router(billing_router)
    for router in routers:
        app.include_router(router)
    return app
