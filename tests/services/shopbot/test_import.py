from services.shopbot.catalog import parse_catalog
from services.shopbot.importer import import_products
from services.shopbot.products import Catalog
from services.shopbot.query import ParsedQuery


async def _import(pool, chunks, store, text, **kwargs):
    return await import_products(pool, chunks, store, parse_catalog(text.encode(), "c.csv").records,
                                 **kwargs)  # fmt: skip


async def test_upsert_by_sku_reembeds_only_changed_text_and_full_sync_removes(
    pool, chunks, stores, outdoor_csv
):
    store, _ = stores["outdoor"]
    again = await _import(pool, chunks, store, outdoor_csv)
    assert (again.unchanged, again.added, again.updated, again.embedded) == (5, 0, 0, 0)

    # A price and stock change rewrites the row but needs no new embedding.
    repriced = outdoor_csv.replace("89.00,12", "79.00,0")
    stats = await _import(pool, chunks, store, repriced)
    assert (stats.updated, stats.embedded) == (1, 0)
    catalog = Catalog(pool, chunks, store.id)
    [jacket] = await catalog.cards(["JKT-RAIN"])
    assert (jacket["price"], jacket["in_stock"]) == (79.0, False)
    # ...and the search index filters on the new facts.
    found = await catalog.search(ParsedQuery("rain jacket", in_stock=True))
    assert "JKT-RAIN" not in [c["sku"] for c in found]

    # A new description is re-embedded, for that product only.
    described = repriced.replace("Warm wool socks that stay dry.", "Cushioned trail socks.")
    stats = await _import(pool, chunks, store, described)
    assert (stats.updated, stats.embedded) == (1, 1)

    # A full sync without the tents removes them from the table and from search.
    no_tents = "\n".join(line for line in described.splitlines() if "TENT" not in line)
    stats = await _import(pool, chunks, store, no_tents, full_sync=True)
    assert stats.removed == 2
    assert await catalog.cards(["TENT-2P", "TENT-4P"]) == []
    found = await catalog.search(ParsedQuery("backpacking tent"))
    assert not [c for c in found if c["sku"].startswith("TENT")]


async def test_repeated_sku_in_one_file_is_reported(pool, chunks, stores, outdoor_csv):
    store, _ = stores["outdoor"]
    text = outdoor_csv + "SOCK-MER,Merino Hiking Socks,Now cheaper.,15.00,40,Socks,grey,wool\n"
    stats = await _import(pool, chunks, store, text)
    assert any("SOCK-MER" in e and "more than once" in e for e in stats.errors)
    [socks] = await Catalog(pool, chunks, store.id).cards(["SOCK-MER"])
    assert socks["price"] == 15.0  # the last row wins
