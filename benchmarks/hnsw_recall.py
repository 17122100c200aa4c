"""pgvector HNSW: build time, k=10 query latency and recall@10 against exact search.

Data: N unit vectors of dimension 384 (N = 100,000; 20,000 with ``--quick``) drawn around
1,000 random Gaussian centres and normalised, so that, as with real sentence embeddings,
every vector has close neighbours. Fixed seed: every run indexes the same vectors.
Queries: 200 of the data vectors, each jittered by as much noise as the clusters have and
renormalised (so none is in the table and its neighbours are not near-duplicates).

Steps, in a scratch database ``bench_hnsw`` on the configured (normally embedded) server,
dropped at the end:

1. bulk-load with binary ``COPY`` (pgvector's psycopg dumper);
2. ``CREATE INDEX ... USING hnsw (embedding vector_cosine_ops) WITH (m = 16,
   ef_construction = 64)`` with ``maintenance_work_mem = '1GB'`` and
   ``max_parallel_maintenance_workers`` = cores - 1;
3. ``SELECT id ... ORDER BY embedding <=> q LIMIT 10`` for the 200 queries with
   ``hnsw.ef_search`` = 40 and = 100, and for the first 30 with ``enable_indexscan = off``
   (exact: a (parallel) sequential scan). The three kinds run interleaved, query by query,
   each on its own connection, so load from elsewhere on the machine hits them alike.
   The plans are checked with EXPLAIN so that "exact" really is a scan and "hnsw" really
   uses the index.

Each latency line also carries the server-side ``Execution Time`` (EXPLAIN ANALYZE, p50 over
30 queries), which shows how much of the end-to-end latency is the search itself.

Ground truth is computed exactly in numpy (float32 dot products of the unit vectors).
Baselines: build time vs the COPY time of the same rows; HNSW latency vs exact-scan latency
(ratio < 1 means the index is faster; ``speedup`` = baseline / value); HNSW recall vs the
recall of Postgres' own exact scan (1.0 unless float rounding reorders near-ties).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack

import numpy as np

from benchmarks._common import main, p50, percentile, result, settings, timer

logger = logging.getLogger("benchmarks.hnsw_recall")

DIM = 384
CENTRES = 1000
SPREAD = 0.8  # norm of the within-cluster noise relative to the unit centre
QUERY_JITTER = 0.8  # as far from their source point as members are from their centre
N_QUERIES = 200
N_EXACT = 30
K = 10
EF_SEARCH = (40, 100)
M, EF_CONSTRUCTION = 16, 64
MAINTENANCE_WORK_MEM = "1GB"
DATABASE = "bench_hnsw"
QUERY = "SELECT id FROM items ORDER BY embedding <=> %s LIMIT %s"


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_data(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clustered unit vectors and ``N_QUERIES`` queries near some of them."""
    rng = np.random.default_rng(seed)
    centres = _normalise(rng.standard_normal((CENTRES, DIM), dtype=np.float32))
    vectors = np.empty((n, DIM), dtype=np.float32)
    step = 10_000  # bounded temporary memory
    for start in range(0, n, step):
        stop = min(n, start + step)
        owner = rng.integers(0, CENTRES, stop - start)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32)
        vectors[start:stop] = _normalise(centres[owner] + noise * (SPREAD / np.sqrt(DIM)))
    near = rng.choice(n, N_QUERIES, replace=False)
    jitter = rng.standard_normal((N_QUERIES, DIM), dtype=np.float32) * (QUERY_JITTER / np.sqrt(DIM))
    return vectors, _normalise(vectors[near] + jitter)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    sims = queries @ vectors.T
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    return [set(row.tolist()) for row in top]


def recall(found: list[list[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(set(f) & t) / len(t) for f, t in zip(found, truth, strict=False)]))


def _relation_mb(conn, name: str) -> float:
    return conn.execute("SELECT pg_relation_size(%s)", (name,)).fetchone()[0] / 2**20


def _plan(conn, query_vector: np.ndarray) -> str:
    rows = conn.execute("EXPLAIN " + QUERY, (query_vector, K)).fetchall()
    return "\n".join(r[0] for r in rows)


def _execution_ms(conn, query_vector: np.ndarray) -> float:
    row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + QUERY, (query_vector, K)).fetchone()
    return float(row[0][0]["Execution Time"])


def run(quick: bool) -> list[dict]:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.conninfo import make_conninfo

    from shared.db import ensure_database
    from shared.db.connect import embedded_server

    n = 20_000 if quick else 100_000
    conf = settings()
    workers = max(0, min(7, (os.cpu_count() or 1) - 1))

    logger.info("generating %d clustered %d-d unit vectors", n, DIM)
    vectors, queries = make_data(n)
    truth = exact_top_k(vectors, queries, K)

    started_here = conf.database_url is None and embedded_server(conf).running() is None
    url = ensure_database(conf)
    admin = psycopg.connect(url, autocommit=True)
    notices: list[str] = []
    try:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
        bench_url = make_conninfo(url, dbname=DATABASE)
        with ExitStack() as stack:
            conn = stack.enter_context(psycopg.connect(bench_url, autocommit=True))
            conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            server_version = conn.execute("SHOW server_version").fetchone()[0]
            pgvector_version = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()[0]
            conn.execute(f"CREATE TABLE items (id int4 NOT NULL, embedding vector({DIM}) NOT NULL)")

            logger.info("COPY %d rows", n)
            copy_sql = "COPY items (id, embedding) FROM STDIN WITH (FORMAT BINARY)"
            with timer() as copy_s, conn.cursor() as cur, cur.copy(copy_sql) as copy:
                copy.set_types(["int4", "vector"])
                for i, vector in enumerate(vectors):
                    copy.write_row((i, vector))
            conn.execute("VACUUM ANALYZE items")

            logger.info(
                "building HNSW (m=%d, ef_construction=%d, %d workers)", M, EF_CONSTRUCTION, workers
            )
            conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
            with timer() as build_s:
                conn.execute(
                    "CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding "
                    f"vector_cosine_ops) WITH (m = {M}, ef_construction = {EF_CONSTRUCTION})"
                )
            logger.info("built in %.1fs (COPY took %.1fs)", build_s(), copy_s())
            table_mb, index_mb = (
                _relation_mb(conn, "items"),
                _relation_mb(conn, "items_embedding_hnsw"),
            )

            # One connection per kind of search, each with its setting fixed.
            sessions = {}
            for ef in EF_SEARCH:
                c = stack.enter_context(psycopg.connect(bench_url, autocommit=True))
                register_vector(c)
                c.execute(f"SET hnsw.ef_search = {ef}")
                sessions[f"ef{ef}"] = c
            exact = stack.enter_context(psycopg.connect(bench_url, autocommit=True))
            register_vector(exact)
            exact.execute("SET enable_indexscan = off")
            sessions["exact"] = exact

            plans = {kind: _plan(c, queries[0]) for kind, c in sessions.items()}
            for kind, plan in plans.items():
                uses_index = "items_embedding_hnsw" in plan
                if uses_index != (kind != "exact"):
                    raise RuntimeError(f"unexpected plan for {kind}:\n{plan}")

            def search(kind: str, q: np.ndarray) -> tuple[float, list[int]]:
                start = time.perf_counter()
                rows = sessions[kind].execute(QUERY, (q, K)).fetchall()
                return time.perf_counter() - start, [r[0] for r in rows]

            logger.info("warming up, then %d queries per ef_search, %d exact", N_QUERIES, N_EXACT)
            for q in queries[:20]:
                for kind in sessions:
                    if kind != "exact":
                        search(kind, q)
            for q in queries[-3:]:
                search("exact", q)
            latency: dict[str, list[float]] = {kind: [] for kind in sessions}
            found: dict[str, list[list[int]]] = {kind: [] for kind in sessions}
            for i, q in enumerate(queries):
                for kind in sessions:
                    if kind == "exact" and i >= N_EXACT:
                        continue
                    seconds, ids = search(kind, q)
                    latency[kind].append(seconds * 1000)
                    found[kind].append(ids)
            # The server's own "Execution Time" (EXPLAIN ANALYZE) on the first N_EXACT
            # queries: what is left of the latency once client, network and planning are not.
            executor_ms = {
                kind: p50([_execution_ms(sessions[kind], q) for q in queries[:N_EXACT]])
                for kind in sessions
            }
    finally:
        try:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        finally:
            admin.close()
            if started_here:
                logger.info("stopping the embedded postgres this benchmark started")
                embedded_server(conf).stop()

    exact_p50, exact_p95 = p50(latency["exact"]), percentile(latency["exact"], 95)
    exact_recall = recall(found["exact"], truth[:N_EXACT])
    exact_plan = next(line.strip() for line in plans["exact"].splitlines() if "Scan" in line)
    common = {
        "benchmark": "hnsw_recall",
        "rows": n,
        "dim": DIM,
        "k": K,
        "quick": quick,
    }
    lines = [
        result(
            "hnsw_build_seconds",
            build_s(),
            "s",
            copy_s(),
            baseline_desc="binary COPY of the same rows",
            m=M,
            ef_construction=EF_CONSTRUCTION,
            maintenance_work_mem=MAINTENANCE_WORK_MEM,
            max_parallel_maintenance_workers=workers,
            copy_rows_per_s=n / copy_s(),
            table_mb=table_mb,
            index_mb=index_mb,
            notices=notices,
            postgres=server_version,
            pgvector=pgvector_version,
            **common,
        )
    ]
    for ef in EF_SEARCH:
        kind = f"ef{ef}"
        context = {
            "ef_search": ef,
            "queries": len(latency[kind]),
            "exact_queries": N_EXACT,
            "exact_plan": exact_plan,
            "server_exec_p50_ms": executor_ms[kind],
            "baseline_server_exec_p50_ms": executor_ms["exact"],
            **common,
        }
        hnsw_p50 = p50(latency[kind])
        hnsw_p95 = percentile(latency[kind], 95)
        lines += [
            result(
                f"hnsw_query_p50_{kind}",
                hnsw_p50,
                "ms",
                exact_p50,
                baseline_desc="exact scan p50",
                speedup=exact_p50 / hnsw_p50,
                **context,
            ),
            result(
                f"hnsw_query_p95_{kind}",
                hnsw_p95,
                "ms",
                exact_p95,
                baseline_desc="exact scan p95",
                speedup=exact_p95 / hnsw_p95,
                **context,
            ),
            result(
                f"hnsw_recall_at_10_{kind}",
                recall(found[kind], truth),
                "fraction",
                exact_recall,
                baseline_desc="recall of the exact scan vs numpy",
                **context,
            ),
        ]
    return lines


if __name__ == "__main__":
    main("hnsw_recall", run)
