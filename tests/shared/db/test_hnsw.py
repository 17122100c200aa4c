import numpy as np
import psycopg
from pgvector.psycopg import register_vector


def test_hnsw_cosine_query_uses_index_and_finds_neighbours(database_url):
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(40, 384))
    data = centers[rng.integers(0, 40, 3000)] + 0.3 * rng.normal(size=(3000, 384))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    with psycopg.connect(database_url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(384))")
        with conn.cursor().copy("COPY items (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "vector"])
            for i, vec in enumerate(data):
                cp.write_row((i, vec))
        conn.execute(
            "CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )
        conn.execute("ANALYZE items")
        conn.execute("SET hnsw.ef_search = 64")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT id FROM items ORDER BY embedding <=> %s LIMIT 10", (data[0],)
            )
        )
        assert "items_embedding_idx" in plan

        queries = data[rng.choice(len(data), 25, replace=False)] + 0.05 * rng.normal(size=(25, 384))
        recalls = []
        for q in queries.astype(np.float32):
            got = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM items ORDER BY embedding <=> %s LIMIT 10", (q,)
                )
            ]
            exact = np.argsort(-(data @ (q / np.linalg.norm(q))))[:10]
            recalls.append(len(set(got) & set(exact.tolist())) / 10)
    assert np.mean(recalls) >= 0.9
