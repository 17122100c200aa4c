import pytest

from shared.agents import AgentRunner, TraceStore


async def _trace(tool, scripted, text: str):
    model = scripted.model([scripted.call("lookup_price", {"sku": "AB-12"}), scripted.answer(text)])
    return (await AgentRunner("shop", "Use tools.", [tool], model).run([], "price?")).trace


async def test_save_get_and_list(pool, tool, scripted):
    store = TraceStore(pool)
    first = await _trace(tool, scripted, "first answer")
    second = await _trace(tool, scripted, "second answer")
    first_id = await store.save("acme", "s1", 1, first)
    await store.save("acme", "s1", 0, second)
    await store.save("acme", "s2", 0, second)

    got = await store.get("acme", "s1", 1)
    assert got is not None
    assert got.id == first_id and got.agent == "shop" and (got.session, got.turn) == ("s1", 1)
    assert got.trace == first  # jsonb round trip keeps every step
    assert await store.get("acme", "s1", 2) is None

    assert [(r.turn, r.trace.final_text) for r in await store.list("acme", "s1")] == [
        (0, "second answer"),
        (1, "first answer"),
    ]

    # A retried turn adds a row; get reads the latest.
    await store.save("acme", "s1", 1, second)
    latest = await store.get("acme", "s1", 1)
    assert latest is not None and latest.trace.final_text == "second answer"


async def test_tenants_cannot_read_each_others_traces(pool, tool, scripted):
    store = TraceStore(pool)
    await store.save("acme", "s1", 1, await _trace(tool, scripted, "acme's answer"))

    assert await store.get("globex", "s1", 1) is None
    assert await store.list("globex", "s1") == []
    assert await store.get("acme", "s1", 1) is not None
    with pytest.raises(ValueError, match="tenant"):
        await store.list("", "s1")

    # Row-level security backs the predicate up: as globex, even an unfiltered query sees nothing.
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "SELECT set_config('role', 'ascent_tenant', true), "
            "set_config('ascent.tenant', 'globex', true)"
        )
        row = await (await conn.execute("SELECT count(*) AS n FROM agent_traces")).fetchone()
    assert row["n"] == 0
