"""Ingestion throughput: chunks per second through ``ChunkStore.ingest``, embeddings included.

Data: 3,000 distinct product-like documents (600 with ``--quick``), one chunk each (the
RecursiveSplitter keeps short texts whole), embedded from scratch (embedding cache off), then
written with COPY in 256-document batches into a scratch database (``bench_ingest``).
Baseline: embedding the same texts alone, so ``ratio`` = ingest rate / embedding rate shows
what the database side costs on top of the model. A second figure re-ingests the unchanged
documents: every one is skipped by its content hash. Both ONNX backends are measured: the
float default and the int8-quantised one (metrics suffixed ``_int8``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from benchmarks._common import main, result, settings
from benchmarks._service import scratch_database
from benchmarks.embedding_throughput import product_sentences

logger = logging.getLogger("benchmarks.ingestion")
DATABASE = "bench_ingest"
# The default float ONNX encoder, and its int8-quantised variant (ASCENT_EMBEDDING_BACKEND).
BACKENDS = {"onnx": "", "onnx-int8": "_int8"}


async def _ingest(url: str, documents: list, backend: str) -> tuple[float, float]:
    from shared.db import create_pool
    from shared.models.embeddings import Embedder
    from shared.retrieval import RecursiveSplitter
    from shared.retrieval.store import ChunkStore

    s = settings(embedding_backend=backend)
    async with create_pool(url, s) as pool:
        store = ChunkStore(pool, Embedder(s, cache=False))
        await store.embedder.aembed(["warm-up"])  # model load is not ingestion
        start = time.perf_counter()
        stats = await store.ingest("bench", documents, RecursiveSplitter())
        first = time.perf_counter() - start
        assert stats.chunks_written == len(documents), stats
        start = time.perf_counter()
        again = await store.ingest("bench", documents, RecursiveSplitter())
        second = time.perf_counter() - start
        assert again.documents_unchanged == len(documents), again
    return first, second


def run(quick: bool) -> list[dict]:
    lines = []
    for backend, suffix in BACKENDS.items():
        lines += _run_backend(quick, backend, suffix)
    return lines


def _run_backend(quick: bool, backend: str, suffix: str) -> list[dict]:
    from shared.models.embeddings import Embedder
    from shared.retrieval import Document

    n = 600 if quick else 3000
    texts = product_sentences(n, seed=2024)
    documents = [Document(f"p{i}", text, f"Product {i}") for i, text in enumerate(texts)]

    embedder = Embedder(settings(embedding_backend=backend), cache=False)
    embedder.embed(["warm-up"])
    start = time.perf_counter()
    embedder.embed(texts)
    embed_rate = n / (time.perf_counter() - start)

    with scratch_database(DATABASE) as url:
        first, second = asyncio.run(_ingest(url, documents, backend))
    context = {"documents": n, "chunks": n, "batch": settings().embedding_batch_size,
               "backend": backend}  # fmt: skip
    return [
        result(f"ingest_chunks_per_s{suffix}", n / first, "chunks/s", embed_rate, **context),
        result(f"reingest_unchanged_docs_per_s{suffix}", n / second, "docs/s", n / first,
               **context),
    ]  # fmt: skip


if __name__ == "__main__":
    main("ingestion", run)
