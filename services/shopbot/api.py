"""HTTP API: shopper search and click reporting (widget key), catalogue and analytics (admin)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from services.shopbot import analytics
from services.shopbot.access import AdminStore, RateLimited, WidgetStore
from services.shopbot.catalog import MAX_CATALOG_BYTES, CatalogError, parse_catalog
from services.shopbot.importer import import_products
from services.shopbot.products import Catalog
from services.shopbot.query import Vocabulary, load_vocabulary, parse_rules, parse_with_llm
from services.shopbot.stores import Store, StoreError, update_store

logger = logging.getLogger(__name__)
public = APIRouter(tags=["shopper"])
admin = APIRouter(prefix="/v1/admin", tags=["admin"])
VOCABULARY_TTL = 60.0


def catalog_for(request: Request, store: Store) -> Catalog:
    return Catalog(request.app.state.pool, request.app.state.chunks, store.id)


async def vocabulary_for(request: Request, store_id: str) -> Vocabulary:
    """The store's categories and attribute values, cached briefly (imports clear it)."""
    cache: dict[str, tuple[float, Vocabulary]] = request.app.state.vocabularies
    cached = cache.get(store_id)
    if cached and time.monotonic() - cached[0] < VOCABULARY_TTL:
        return cached[1]
    vocabulary = await load_vocabulary(request.app.state.pool, store_id)
    cache[store_id] = (time.monotonic(), vocabulary)
    return vocabulary


def client_id(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_fast(exc: RateLimited) -> HTTPException:
    return HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)})


# -- shopper ---------------------------------------------------------------------------
@public.get("/v1/search")
async def search(
    request: Request,
    store: WidgetStore,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    category: Annotated[str | None, Query(max_length=100)] = None,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    in_stock: bool | None = None,
    session: Annotated[str | None, Query(max_length=100)] = None,
    parse: Literal["rules", "llm"] = "rules",
) -> dict[str, Any]:
    """Hybrid product search with hard filters read from the words ("under $50", "in stock",
    a category or colour the store has) or given explicitly, plus facets."""
    try:
        limiter = request.app.state.limiter
        limiter.hit(limiter.search, store.id, client_id(request))
    except RateLimited as exc:
        raise _too_fast(exc) from None
    vocabulary = await vocabulary_for(request, store.id)
    if parse == "llm":  # slower (one model call), reads budgets and categories said loosely
        parsed = await parse_with_llm(q, vocabulary, request.app.state.llm)
    else:
        parsed = parse_rules(q, vocabulary)
    if category:
        parsed.categories = [category]
    parsed.min_price = min_price if min_price is not None else parsed.min_price
    parsed.max_price = max_price if max_price is not None else parsed.max_price
    parsed.in_stock = in_stock if in_stock is not None else parsed.in_stock
    catalog = catalog_for(request, store)
    products, facets = await asyncio.gather(catalog.search(parsed, limit=limit),
                                            catalog.facets(parsed))  # fmt: skip
    await analytics.record_search(request.app.state.pool, store.id, session, q, products, "search")
    return {"query": q, "filters": parsed.as_dict(), "products": products, "facets": facets}


class Click(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    session: str | None = Field(None, max_length=100)


@public.post("/v1/events/click", status_code=204)
async def click(request: Request, store: WidgetStore, body: Click) -> Response:
    await analytics.record_click(request.app.state.pool, store.id, body.session, body.sku)
    return Response(status_code=204)


# -- admin -----------------------------------------------------------------------------
@admin.post("/catalog", status_code=202)
async def upload_catalog(
    request: Request,
    store: AdminStore,
    file: Annotated[UploadFile, File(description="CSV, JSON lines or Shopify products JSON")],
    full_sync: bool = False,
) -> dict[str, Any]:
    """Start an import; poll ``status_url`` for progress. Malformed rows are reported by line
    and skipped; the rest imports."""
    data = await file.read(MAX_CATALOG_BYTES + 1)
    try:
        report = parse_catalog(data, file.filename or "catalog", currency=store.currency)
    except CatalogError as exc:
        status = 413 if len(data) > MAX_CATALOG_BYTES else 400
        raise HTTPException(status, str(exc)) from None
    if not report.records:
        raise HTTPException(400, "No valid product rows. " + "; ".join(report.errors[:10]))
    pool: AsyncConnectionPool = request.app.state.pool
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO shop_imports (store_id, total, report) VALUES (%s, %s, %s) RETURNING id",
            (store.id, len(report.records), Jsonb({"parse_errors": report.errors[:1000]})),
        )
        import_id = (await cur.fetchone())["id"]
    task = asyncio.create_task(_run_import(request, store, import_id, report.records, full_sync))
    request.app.state.background.add(task)
    task.add_done_callback(request.app.state.background.discard)
    return {
        "import_id": import_id,
        "status_url": f"/v1/admin/imports/{import_id}",
        "rows": len(report.records),
        "errors": report.errors[:100],
    }


async def _run_import(request: Request, store: Store, import_id: int, records, full_sync) -> None:
    pool: AsyncConnectionPool = request.app.state.pool
    done = 0
    last_write = 0.0

    async def save_progress(final: dict[str, Any] | None = None) -> None:
        async with pool.connection() as conn:
            if final is None:
                await conn.execute("UPDATE shop_imports SET done = %s WHERE id = %s",
                                   (done, import_id))  # fmt: skip
            else:
                await conn.execute(
                    "UPDATE shop_imports SET done = %s, status = %s, finished_at = now(), "
                    "report = report || %s WHERE id = %s",
                    (done, final.pop("status"), Jsonb(final), import_id),
                )

    def progress(n: int) -> None:
        nonlocal done, last_write
        done += n
        if time.monotonic() - last_write > 0.5:  # at most two progress writes a second
            last_write = time.monotonic()
            request.app.state.background.add(asyncio.ensure_future(save_progress()))

    try:
        stats = await import_products(pool, request.app.state.chunks, store, records,
                                      full_sync=full_sync, progress=progress)  # fmt: skip
        done = len(records)
        await save_progress({"status": "done", **stats.as_dict()})
    except Exception as exc:  # the import must end in a state the admin can see
        logger.exception("import %s failed", import_id)
        await save_progress({"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    finally:
        request.app.state.vocabularies.pop(store.id, None)


@admin.get("/imports/{import_id}")
async def import_status(request: Request, store: AdminStore, import_id: int) -> dict[str, Any]:
    async with request.app.state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, status, total, done, report, created_at, finished_at FROM shop_imports "
            "WHERE id = %s AND store_id = %s",
            (import_id, store.id),
        )
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"No import {import_id} for this store.")
    return {**row, "percent": round(100 * row["done"] / row["total"], 1) if row["total"] else 100}


class StoreSettings(BaseModel):
    name: str | None = Field(None, max_length=200)
    allowed_origins: list[str] | None = Field(None, max_length=50)
    integrations: dict[str, Any] | None = None


@admin.get("/store")
async def get_store(store: AdminStore) -> dict[str, Any]:
    return _public_view(store)


@admin.patch("/store")
async def patch_store(request: Request, store: AdminStore, body: StoreSettings) -> dict[str, Any]:
    try:
        updated = await update_store(request.app.state.pool, store.id, name=body.name,
                                     origins=body.allowed_origins,
                                     integrations=body.integrations)  # fmt: skip
    except StoreError as exc:
        raise HTTPException(422, str(exc)) from None
    return _public_view(updated)


def _public_view(store: Store) -> dict[str, Any]:
    # Integration credentials are write-only: show which are set, never their values.
    integrations = {name: sorted(conf) for name, conf in store.integrations.items()}
    return {"id": store.id, "name": store.name, "widget_key": store.widget_key,
            "allowed_origins": store.allowed_origins, "currency": store.currency,
            "integrations": integrations}  # fmt: skip


@admin.get("/analytics")
async def get_analytics(
    request: Request, store: AdminStore, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> dict[str, Any]:
    """Top queries, queries without results, conversations, products shown vs clicked."""
    return await analytics.summary(request.app.state.pool, store.id, days=days)
