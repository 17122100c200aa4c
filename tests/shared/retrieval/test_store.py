import psycopg
import pytest

from shared.retrieval import Document, FilterError, RecursiveSplitter


def _product(sku, text, title, **attributes):
    return Document(sku, text, title=title, attributes=attributes)


CATALOG = [
    _product("sku-1", "A breathable waterproof shell jacket that keeps hikers dry in storms.",
             "Storm Shell Jacket", category="jackets", price=180, colour="red"),
    _product("sku-2", "Insulated down parka for freezing winter city commutes.",
             "Urban Down Parka", category="jackets", price=240, colour="black"),
    _product("sku-3", "Two-person backpacking tent, 1.6 kg, three-season, quick pitch.",
             "Trail Tent 2P", category="tents", price=320, colour="green"),
    _product("sku-4", "Merino wool hiking socks that stay warm when wet.",
             "Merino Trek Socks", category="socks", price=24, colour="grey"),
    _product("sku-5", "Stainless steel espresso machine with milk frother.",
             "Barista Pro", category="kitchen", price=450, colour="silver", rating=4.7),
]  # fmt: skip


async def test_hybrid_vector_and_text_search(store):
    stats = await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    assert stats.documents_added == 5 and stats.chunks_written == 5

    hybrid = await store.search("shop-a", "something to keep me dry on a rainy hike", k=3)
    assert hybrid[0].source == "sku-1"
    assert hybrid[0].vector_rank == 1

    text = await store.search("shop-a", "espresso", mode="text", k=3)
    assert [h.source for h in text] == ["sku-5"] and text[0].vector_rank is None

    vector = await store.search("shop-a", "coffee maker", mode="vector", k=1)
    assert vector[0].source == "sku-5" and vector[0].text_rank is None

    hit = hybrid[0]
    assert CATALOG[0].text[hit.start : hit.end] == hit.text  # citable source span


async def test_ingest_is_idempotent_and_full_sync_removes(store):
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    again = await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    assert again.documents_unchanged == 5 and again.chunks_embedded == 0

    changed = [
        Document("sku-1", CATALOG[0].text, title=CATALOG[0].title,
                 attributes={**CATALOG[0].attributes, "price": 150}),  # same text, new price
        *CATALOG[1:4],
    ]  # fmt: skip
    stats = await store.ingest("shop-a", changed, RecursiveSplitter(), full_sync=True)
    assert stats.documents_updated == 1 and stats.documents_unchanged == 3
    assert stats.chunks_embedded == 0 and stats.chunks_reused == 1  # vector reused by hash
    assert stats.documents_removed == 1
    assert not await store.search("shop-a", "espresso", mode="text")
    cheap = await store.search(
        "shop-a", "jacket", filters={"category": "jackets", "price": {"lt": 160}}
    )
    assert [h.source for h in cheap] == ["sku-1"]


async def test_filters(store):
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())

    async def sources(**filters):
        hits = await store.search("shop-a", "outdoor gear", k=10, filters=filters)
        return sorted(h.source for h in hits)

    assert await sources(category="jackets") == ["sku-1", "sku-2"]
    assert await sources(price={"gte": 100, "lte": 320}) == ["sku-1", "sku-2", "sku-3"]
    assert await sources(colour={"in": ["green", "grey"]}) == ["sku-3", "sku-4"]
    assert await sources(rating={"exists": True}) == ["sku-5"]
    assert await sources(category="jackets", price={"gt": 200}) == ["sku-2"]
    with pytest.raises(FilterError, match="unknown filter field 'size'"):
        await store.search("shop-a", "x", filters={"size": "M"})
    with pytest.raises(FilterError, match="needs a number"):
        await store.search("shop-a", "x", filters={"price": {"lt": "cheap"}})
    with pytest.raises(FilterError, match="unknown operator"):
        await store.search("shop-a", "x", filters={"price": {"like": 3}})


async def test_tenants_cannot_read_or_write_each_other(store, database_url):
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    await store.ingest("shop-b", [Document("b-1", "Kayak paddle, carbon.", title="Paddle")],
                       RecursiveSplitter())  # fmt: skip

    assert await store.search("shop-b", "waterproof jacket", k=10) != []
    assert all(h.source == "b-1" for h in await store.search("shop-b", "jacket", k=10))
    assert await store.search("shop-b", "espresso", mode="text") == []
    # The tenant column is not a filterable field, so it cannot be overridden that way.
    with pytest.raises(FilterError):
        await store.search("shop-b", "jacket", filters={"tenant": "shop-a"})

    # Even SQL that forgets the tenant predicate sees only its own tenant's rows.
    async with store.scoped("shop-b") as conn:
        cur = await conn.execute("SELECT DISTINCT tenant FROM rag_chunks")
        assert [r["tenant"] for r in await cur.fetchall()] == ["shop-b"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with store.scoped("shop-b") as conn:
            await conn.execute("UPDATE rag_documents SET tenant = 'shop-b' WHERE source = 'sku-1'")
            await conn.execute(
                "INSERT INTO rag_documents (tenant, source, content_hash) "
                "VALUES ('shop-a', 'x', 'h')"
            )
    async with store.scoped("shop-a") as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM rag_chunks")
        assert (await cur.fetchone())["n"] == 5  # shop-a's data is intact


async def test_search_path_cannot_cross_tenants(store):
    """Search runs without row security (for its indexes), so its own tenant predicate is all
    that stands between tenants: try every mode, injection in the query and filter values,
    and the fuzzy title lookup."""
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    await store.ingest("shop-b", [_product("b-1", "Kayak paddle, carbon.", "Paddle",
                                           category="jackets", price=90)],
                       RecursiveSplitter())  # fmt: skip
    attempts = ["waterproof jacket", "jacket' OR tenant = 'shop-a", "%' OR 1=1 --", "espresso"]
    for query in attempts:
        for mode in ("vector", "text", "hybrid"):
            hits = await store.search("shop-b", query, k=10, mode=mode)
            assert {h.source for h in hits} <= {"b-1"}, (query, mode)
            filtered = await store.search("shop-b", query, k=10, mode=mode,
                                          filters={"category": "jackets' OR true --"})  # fmt: skip
            assert filtered == []
    assert await store.search_titles("shop-b", "Storm Shell Jacket") == []
    assert [t[0] for t in await store.search_titles("shop-a", "Storm Shel Jacket")] == ["sku-1"]


async def test_vector_index_can_be_rebuilt_with_new_parameters(store, database_url):
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    await store.rebuild_vector_index(m=8, ef_construction=32)
    with psycopg.connect(database_url) as conn:
        definition = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'rag_chunks_embedding_hnsw'"
        ).fetchone()[0]
    assert "m='8'" in definition and "ef_construction='32'" in definition
    hits = await store.search("shop-a", "coffee maker", mode="vector", k=1)
    assert hits[0].source == "sku-5"


async def test_fuzzy_title_lookup_forgives_typos(store):
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    found = await store.search_titles("shop-a", "Mernio Trek Sokcs")
    assert found[0][0] == "sku-4"
    assert await store.search_titles("shop-b", "Merino Trek Socks") == []


async def test_overlong_query_is_truncated_with_a_warning(store, caplog):
    await store.ingest("shop-a", CATALOG, RecursiveSplitter())
    query = "espresso machine " + "very " * 2000
    with caplog.at_level("WARNING"):
        hits = await store.search("shop-a", query, k=1)
    assert hits[0].source == "sku-5"
    assert any("truncated" in r.getMessage() for r in caplog.records)
