"""Catalogue import: upsert products by SKU and keep the search index in step.

Products live in ``shop_products`` (real columns for price, stock and category, JSONB for the
rest), so filters and aggregates are plain SQL. Each product is also a retrieval document in
the ``products`` collection of the store's tenant; its text holds no price or stock, so a
price or stock change re-writes metadata but never re-embeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.shopbot.catalog import ProductRecord
from services.shopbot.stores import Store
from shared.retrieval import ChunkStore, Document, RecursiveSplitter

logger = logging.getLogger(__name__)
COLLECTION = "products"
_SPLITTER = RecursiveSplitter(chunk_size=1200, chunk_overlap=100)


@dataclass
class ImportStats:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def product_document(record: ProductRecord) -> Document:
    """The searchable text (words only) and the filterable metadata of one product."""
    attributes = {k: v for k, v in record.attributes.items() if isinstance(v, str | int | float)}
    words = " ".join(f"{k}: {v}." for k, v in attributes.items() if k not in ("tags",))
    text = f"{record.title}. {record.category}. {record.description} {words}".strip()
    metadata = {
        **{k: str(v).lower() for k, v in attributes.items()},
        "price": float(record.price),
        "in_stock": record.stock is None or record.stock > 0,
        "category": record.category.lower(),
        "group_id": record.group_id,
    }
    return Document(record.sku, text, title=record.title, url=record.url, attributes=metadata)


async def import_products(
    pool: AsyncConnectionPool,
    chunks: ChunkStore,
    store: Store,
    records: Sequence[ProductRecord],
    *,
    full_sync: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportStats:
    """Upsert ``records`` (the last row wins for a repeated SKU); with ``full_sync`` remove the
    store's products that are not in ``records``. ``progress`` gets counts of products done."""
    stats = ImportStats()
    by_sku: dict[str, ProductRecord] = {}
    for record in records:
        if record.sku in by_sku:
            stats.errors.append(f"sku {record.sku}: appears more than once; the last row wins")
        by_sku[record.sku] = record
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT sku, content_hash FROM shop_products WHERE store_id = %s", (store.id,)
        )
        existing = {r["sku"]: r["content_hash"] for r in await cur.fetchall()}
    changed = [r for r in by_sku.values() if existing.get(r.sku) != r.content_hash]
    stats.unchanged = len(by_sku) - len(changed)
    stats.updated = sum(r.sku in existing for r in changed)
    stats.added = len(changed) - stats.updated
    if progress and stats.unchanged:
        progress(stats.unchanged)

    async with pool.connection() as conn, conn.transaction():
        await conn.cursor().executemany(
            "INSERT INTO shop_products (store_id, sku, group_id, title, description, price, "
            "currency, stock, category, attributes, image, url, content_hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (store_id, sku) DO UPDATE SET group_id = EXCLUDED.group_id, "
            "title = EXCLUDED.title, description = EXCLUDED.description, "
            "price = EXCLUDED.price, currency = EXCLUDED.currency, stock = EXCLUDED.stock, "
            "category = EXCLUDED.category, attributes = EXCLUDED.attributes, "
            "image = EXCLUDED.image, url = EXCLUDED.url, content_hash = EXCLUDED.content_hash, "
            "updated_at = now()",
            [
                (store.id, r.sku, r.group_id, r.title, r.description, r.price, r.currency,
                 r.stock, r.category, Jsonb(r.attributes), r.image, r.url, r.content_hash)
                for r in changed
            ],
        )  # fmt: skip
        if full_sync:
            cur = await conn.execute(
                "DELETE FROM shop_products WHERE store_id = %s AND NOT (sku = ANY(%s))",
                (store.id, list(by_sku)),
            )
            stats.removed = cur.rowcount

    # The index follows the table; only changed products are handed to it (plus the full list
    # on a full sync, so that it drops what the table dropped).
    documents = [product_document(r) for r in (by_sku.values() if full_sync else changed)]
    advance = _only_changed(progress, stats, full_sync)
    ingest = await chunks.ingest(store.id, documents, _SPLITTER, collection=COLLECTION,
                                 full_sync=full_sync, progress=advance)  # fmt: skip
    stats.embedded = ingest.chunks_embedded
    logger.info("store %s import: %s", store.id, {k: v for k, v in stats.as_dict().items()
                                                  if k != "errors"})  # fmt: skip
    return stats


def _only_changed(
    progress: Callable[[int], None] | None, stats: ImportStats, full_sync: bool
) -> Callable[[int], None] | None:
    """On a full sync the index also sees the unchanged products, already counted once."""
    if progress is None:
        return None
    skip = [stats.unchanged if full_sync else 0]

    def advance(n: int) -> None:
        taken = min(n, skip[0])
        skip[0] -= taken
        if n - taken:
            progress(n - taken)

    return advance
