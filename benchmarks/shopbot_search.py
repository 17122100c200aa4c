"""Shopbot ``/v1/search`` latency at 10,000 products with 20 concurrent clients.

Data: 10,000 synthetic products (2,000 with ``--quick``) in 25 categories with prices, stock
and colour/material attributes, imported through the real importer (so the table and the
search index are what a merchant's import produces). The service runs as a real uvicorn
process on the embedded Postgres; clients are httpx, with the store's allowed Origin.

Queries: 300 distinct shopper phrasings ("waterproof backpack under $80", "merino hiking
socks in stock", ...), so the embedding cache never answers; the query embedding is included
in every figure. Measured per request, on three disjoint thirds of the queries:
one client (the baseline: no contention); 20 shoppers who each pause 1 s between searches
(``_20_shoppers``: 20 concurrent users at about 20 searches/s); and 20 clients sending back to
back with no pause (``_20_clients``: saturation, so it measures throughput as queueing).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import httpx

from benchmarks._common import main, p50, percentile, result, settings
from benchmarks._service import free_port, scratch_database, serve
from benchmarks.embedding_throughput import ADJECTIVES, AUDIENCES, MATERIALS, PRODUCTS

logger = logging.getLogger("benchmarks.shopbot_search")
DATABASE = "bench_shopbot"
ORIGIN = "http://bench.test"
CLIENTS = 20
SHOPPER_PAUSE_S = 1.0  # a shopper reads results before the next search
FACTORY = "services.shopbot.app:create_shopbot_app"
COLOURS = ("red", "blue", "black", "green", "grey", "white", "orange", "navy")


def _catalog_csv(n: int) -> bytes:
    rng = random.Random(11)
    lines = ["sku,title,description,price,stock,category,colour,material"]
    for i in range(n):
        product, material = rng.choice(PRODUCTS), rng.choice(MATERIALS)
        title = f"{rng.choice(ADJECTIVES).title()} {material.title()} {product.title()} {i}"
        description = f"A {material} {product} for {rng.choice(AUDIENCES)}."
        price = f"{rng.randint(5, 400)}.{rng.choice(('00', '49', '95', '99'))}"
        stock = rng.choice((0, 3, 12, 40))
        lines.append(f"SKU-{i:05d},{title},{description},{price},{stock},{product.title()}s,"
                     f"{rng.choice(COLOURS)},{material}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def _queries(n: int) -> list[str]:
    rng = random.Random(5)
    shapes = (
        "{adj} {prod}", "{prod} under ${price}", "{mat} {prod} in stock", "{colour} {prod}",
        "something for {aud}", "{prod} for {aud} under ${price}", "cheap {mat} {prod}",
    )  # fmt: skip
    out: set[str] = set()
    while len(out) < n:
        out.add(rng.choice(shapes).format(
            adj=rng.choice(ADJECTIVES), prod=rng.choice(PRODUCTS), mat=rng.choice(MATERIALS),
            price=rng.randint(20, 300), aud=rng.choice(AUDIENCES), colour=rng.choice(COLOURS),
        ))  # fmt: skip
    return sorted(out)


async def _seed(url: str, n: int) -> str:
    from services.shopbot.catalog import parse_catalog
    from services.shopbot.importer import import_products
    from services.shopbot.stores import create_store
    from shared.db import create_pool
    from shared.models.embeddings import Embedder
    from shared.retrieval import ChunkStore

    s = settings()
    async with create_pool(url, s) as pool:
        store, _ = await create_store(pool, "bench", "Bench store", origins=[ORIGIN])
        report = parse_catalog(_catalog_csv(n), "catalog.csv")
        await import_products(pool, ChunkStore(pool, Embedder(s)), store, report.records)
    return store.widget_key


async def _measure(
    base: str, key: str, queries: list[str], clients: int, pause_s: float = 0.0
) -> list[float]:
    latencies: list[float] = []
    pending = list(queries)

    async def client_loop(http: httpx.AsyncClient, phase: float) -> None:
        await asyncio.sleep(phase)
        while pending:
            q = pending.pop()
            start = time.perf_counter()
            response = await http.get("/v1/search", params={"key": key, "q": q, "limit": 10})
            latencies.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            await asyncio.sleep(pause_s)

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Origin": ORIGIN}, limits=limits,
                                 timeout=30) as http:  # fmt: skip
        phases = [pause_s * i / clients for i in range(clients)]  # spread the shoppers out
        await asyncio.gather(*(client_loop(http, phase) for phase in phases))
    return latencies


def run(quick: bool) -> list[dict]:
    n = 2_000 if quick else 10_000
    with scratch_database(DATABASE) as url:
        start = time.perf_counter()
        key = asyncio.run(_seed(url, n))
        seed_s = time.perf_counter() - start
        # The search path never calls the LLM: point it nowhere rather than start one.
        # The 20 clients share one address here, so the per-address limit is lifted.
        with serve(FACTORY, url, free_port(), ASCENT_SHOPBOT_DEMO="false",
                   ASCENT_SHOPBOT_SEARCH_RATE="100000/second",
                   ASCENT_LLM_BASE_URL="http://127.0.0.1:9/v1") as base:  # fmt: skip
            queries = _queries(150 if quick else 300)
            # Warm-up (model load, first connections), then one client, then twenty.
            asyncio.run(_measure(base, key, [f"warm up {i}" for i in range(20)], 4))
            third = len(queries) // 3
            serial = asyncio.run(_measure(base, key, queries[:third], 1))
            shoppers = asyncio.run(_measure(base, key, queries[third : 2 * third], CLIENTS,
                                            pause_s=SHOPPER_PAUSE_S))  # fmt: skip
            concurrent = asyncio.run(_measure(base, key, queries[2 * third :], CLIENTS))
    context = {"products": n, "clients": CLIENTS, "requests": len(concurrent),
               "seed_s": round(seed_s, 1), "backend": settings().embedding_backend}  # fmt: skip
    return [
        result("shopbot_search_p50_20_clients", p50(concurrent), "ms", p50(serial), **context),
        result(
            "shopbot_search_p95_20_clients",
            percentile(concurrent, 95),
            "ms",
            percentile(serial, 95),
            **context,
        ),
        result("shopbot_search_p50_1_client", p50(serial), "ms", p50(serial), **context),
        result(
            "shopbot_search_p95_20_shoppers",
            percentile(shoppers, 95),
            "ms",
            percentile(serial, 95),
            pause_s=SHOPPER_PAUSE_S,
            **context,
        ),
    ]


if __name__ == "__main__":
    main("shopbot_search", run)
