"""The demo store: Vendure's MIT-licensed sample catalogue (54 products, 100+ variants) as a
Shopify-style products JSON, so a fresh install has something real to shop from.

The catalogue carries no stock levels, so the demo invents them deterministically from each
SKU (about one variant in seven is out of stock, to show alternatives).
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import resources
from typing import Any

from psycopg_pool import AsyncConnectionPool

from services.shopbot.catalog import parse_catalog
from services.shopbot.importer import import_products
from services.shopbot.stores import Store, create_store, store_by_id
from shared.retrieval import ChunkStore

logger = logging.getLogger(__name__)
DEMO_STORE = "demo"


def _stock(sku: str) -> int:
    digest = hashlib.sha256(sku.encode()).digest()
    return 0 if digest[0] % 7 == 0 else 1 + digest[1] % 40


def demo_shopify_products() -> dict[str, Any]:
    """``{"products": [...]}`` in the shape of Shopify's Admin API products.json."""
    path = resources.files("shared.retrieval.evalsets") / "data" / "catalog.json"
    catalog = json.loads(path.read_text(encoding="utf-8"))
    products = []
    for number, item in enumerate(catalog, start=1):
        options = [{"name": name.title(), "position": i}
                   for i, name in enumerate(item["option_groups"], start=1)]  # fmt: skip
        variants = []
        for variant in item["variants"]:
            values = {f"option{i}": v for i, v in enumerate(variant["options"], start=1)}
            variants.append({"sku": variant["sku"], "price": f"{variant['price']:.2f}",
                             "inventory_quantity": _stock(variant["sku"]), **values})  # fmt: skip
        tags = [*item.get("colors", []), *item.get("plant_type", []), item.get("department", "")]
        products.append({
            "id": number, "handle": item["id"], "title": item["title"],
            "body_html": f"<p>{item['description']}</p>", "vendor": item.get("brand") or "",
            "product_type": item["category"], "tags": ", ".join(t for t in tags if t),
            "options": options, "variants": variants,
        })  # fmt: skip
    return {"products": products}


async def ensure_demo_store(
    pool: AsyncConnectionPool, chunks: ChunkStore, origins: list[str]
) -> tuple[Store, str | None]:
    """The demo store, created and filled on first use; the admin key only when just created."""
    store = await store_by_id(pool, DEMO_STORE)
    admin_key = None
    if store is None:
        store, admin_key = await create_store(pool, DEMO_STORE, "Vendure demo shop",
                                              origins=origins)  # fmt: skip
        data = json.dumps(demo_shopify_products()).encode()
        report = parse_catalog(data, "vendure-demo.json")
        stats = await import_products(pool, chunks, store, report.records, full_sync=True)
        logger.info("demo store seeded: %d products", stats.added)
    return store, admin_key
