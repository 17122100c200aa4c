"""The agent's catalogue tools, called as the agent calls them (``Tool.fn`` with its pydantic
arguments) over the real catalogue, checked against the parsed catalogue files."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest

from services.shopbot.assistant import (
    TurnContext,
    aggregate_intent,
    catalogue_facts,
    exact_answer,
    tools_for,
)
from services.shopbot.catalog import parse_catalog
from services.shopbot.demo import demo_shopify_products
from services.shopbot.guardrails import Verifier
from services.shopbot.products import Catalog
from services.shopbot.query import Vocabulary, load_vocabulary
from shared.agents import ToolError

CATALOGUE_TOOLS = ["search_products", "get_product", "compare", "aggregate", "similar_in_stock"]


def _records(data: bytes, name: str) -> dict[str, object]:
    """The catalogue as the importer stores it: one record per SKU, the last row winning."""
    report = parse_catalog(data, name)
    assert not report.errors
    return {r.sku: r for r in report.records}


@pytest.fixture(scope="module")
def vendure_records():
    return _records(json.dumps(demo_shopify_products()).encode(), "products.json")


@pytest.fixture
def outdoor_records(outdoor_csv):
    return _records(outdoor_csv.encode(), "outdoor.csv")


def _in_stock(record) -> bool:
    return record.stock is None or record.stock > 0


async def _context(pool, chunks, store_id):
    return TurnContext(Catalog(pool, chunks, store_id), (await _store(pool, store_id)),
                       await load_vocabulary(pool, store_id))  # fmt: skip


async def _store(pool, store_id):
    from services.shopbot.stores import store_by_id

    return await store_by_id(pool, store_id)


async def _call(context, name, **args):
    tool = next(t for t in context.tools() if t.name == name)
    return await tool.fn(tool.args(**args))


# -- search_products -------------------------------------------------------------------------------
async def test_search_respects_hard_price_and_stock_filters(pool, chunks, stores, vendure_records):
    context = await _context(pool, chunks, "vendure")
    found = await _call(context, "search_products", query="running shoes", max_price=100,
                        in_stock=True)  # fmt: skip
    assert found, "expected cheap running shoes in stock"
    for card in found:
        record = vendure_records[card["sku"]]
        assert card["price"] == float(record.price) <= 100
        assert card["in_stock"] and _in_stock(record)
    assert {card["sku"] for card in found} <= set(context.cards)

    found = await _call(context, "search_products", query="camera", min_price=500)
    assert found and all(float(vendure_records[c["sku"]].price) >= 500 for c in found)
    # A budget in the words is a hard filter too.
    found = await _call(context, "search_products", query="laptop under $1500")
    assert found and all(float(vendure_records[c["sku"]].price) <= 1500 for c in found)
    # No laptop costs $10: whatever comes back still keeps under the cap.
    found = await _call(context, "search_products", query="laptop", max_price=10)
    assert all(c["price"] <= 10 and "Laptop" not in c["title"] for c in found)


async def test_search_category_filter(pool, chunks, stores, vendure_records):
    context = await _context(pool, chunks, "vendure")
    found = await _call(context, "search_products", query="something comfortable",
                        category="footwear")  # fmt: skip
    assert found and all(vendure_records[c["sku"]].category == "Footwear" for c in found)
    # One card per product group.
    groups = [vendure_records[c["sku"]].group_id for c in found]
    assert len(groups) == len(set(groups))
    with pytest.raises(ToolError) as unknown:
        await _call(context, "search_products", query="tent", category="Tents")
    message = str(unknown.value)
    assert "no category 'Tents'" in message
    for category in ("Computers", "Equipment", "Footwear", "Furniture", "Photo", "Plants"):
        assert category in message


# -- get_product / compare -------------------------------------------------------------------------
async def test_get_product_lists_its_variants(pool, chunks, stores, vendure_records):
    context = await _context(pool, chunks, "vendure")
    product = await _call(context, "get_product", sku="RS0040")
    record = vendure_records["RS0040"]
    assert product["title"] == record.title and product["price"] == float(record.price)
    assert product["in_stock"] is _in_stock(record)
    assert product["attributes"]["size"] == "Size 40"
    expected = sorted((r for r in vendure_records.values()
                       if r.group_id == record.group_id and r.sku != "RS0040"),
                      key=lambda r: (r.price, r.sku))  # fmt: skip
    assert [v["sku"] for v in product["variants"]] == [r.sku for r in expected]
    assert [v["in_stock"] for v in product["variants"]] == [_in_stock(r) for r in expected]
    assert "RS0040" in context.cards
    single = await _call(context, "get_product", sku="2000023510")
    assert single["title"] == "Tent" and single["variants"] == []
    for sku in ("NOPE-1", "rs0040", "TENT-2P"):  # unknown, wrong case, another store's
        with pytest.raises(ToolError, match=f"no product with SKU {sku}"):
            await _call(context, "get_product", sku=sku)


async def test_compare_names_unknown_skus_instead_of_inventing_them(
    pool, chunks, stores, vendure_records
):
    context = await _context(pool, chunks, "vendure")
    skus = ["L2201308", "L2201516", "NOPE-1", "TENT-2P", "L2201308"]
    result = await _call(context, "compare", skus=skus)
    assert [p["sku"] for p in result["products"]] == ["L2201308", "L2201516"]
    assert result["unknown_skus"] == ["NOPE-1", "TENT-2P"]
    for product in result["products"]:
        record = vendure_records[product["sku"]]
        assert product["title"] == record.title and product["price"] == float(record.price)
        assert product["attributes"]["ram"] == record.attributes["ram"]
    only_unknown = await _call(context, "compare", skus=["X-1", "X-2"])
    assert only_unknown == {"products": [], "unknown_skus": ["X-1", "X-2"]}
    with pytest.raises(ValueError):  # the schema: 2-5 SKUs
        await _call(context, "compare", skus=["L2201308"])


# -- aggregate -------------------------------------------------------------------------------------
def _expected(records, *, category=None, in_stock=None):
    return [r for r in records.values()
            if (category is None or r.category == category)
            and (not in_stock or _in_stock(r))]  # fmt: skip


@pytest.mark.parametrize(("category", "in_stock"), [
    (None, None), ("Footwear", True), ("Photo", None), ("Furniture", True),
])  # fmt: skip
async def test_aggregates_match_the_catalogue(pool, chunks, stores, vendure_records, category,
                                              in_stock):  # fmt: skip
    context = await _context(pool, chunks, "vendure")
    rows = _expected(vendure_records, category=category, in_stock=in_stock)
    assert rows
    filters = {"category": category.lower() if category else None, "in_stock": in_stock}

    # One answer per product group (its cheapest, or dearest, variant), then ranked.
    def per_group(key):
        best = {}
        for r in sorted(rows, key=key):
            best.setdefault(r.group_id, r)
        return sorted(best.values(), key=key)

    cheapest = await _call(context, "aggregate", op="cheapest", **filters)
    by_price = per_group(lambda r: (r.price, r.sku))
    assert [p["sku"] for p in cheapest["products"]] == [r.sku for r in by_price[:3]]
    assert [p["price"] for p in cheapest["products"]] == [float(r.price) for r in by_price[:3]]
    group_of = {r.sku: r.group_id for r in rows}
    assert len({group_of[p["sku"]] for p in cheapest["products"]}) == len(cheapest["products"])

    priciest = await _call(context, "aggregate", op="most_expensive", **filters)
    by_price_desc = per_group(lambda r: (-r.price, r.sku))
    assert [p["sku"] for p in priciest["products"]] == [r.sku for r in by_price_desc[:3]]

    count = await _call(context, "aggregate", op="count", **filters)
    assert count["variants"] == len(rows)
    assert count["products"] == len({r.group_id for r in rows})
    assert count["in_stock"] == len({r.group_id for r in rows if _in_stock(r)})

    span = await _call(context, "aggregate", op="price_range", **filters)
    prices = [r.price for r in rows]
    average = (sum(prices) / len(prices)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert span == {"op": "price_range", "min_price": float(min(prices)),
                    "max_price": float(max(prices)), "average_price": float(average),
                    "products": len(rows)}  # fmt: skip

    categories = await _call(context, "aggregate", op="categories", **filters)
    groups: dict[str, set] = {}
    for r in rows:
        groups.setdefault(r.category, set()).add(r.group_id)
    expected = sorted(({"category": c, "products": len(g)} for c, g in groups.items()),
                      key=lambda row: (-row["products"], row["category"]))  # fmt: skip
    assert categories["categories"] == expected
    # Every figure the tool returned may be repeated by the answer.
    assert Decimal(str(span["average_price"])).quantize(Decimal("0.01")) in context.amounts
    assert Decimal(str(by_price[0].price)) in context.amounts


async def test_aggregate_words_narrow_by_full_text(pool, chunks, stores, vendure_records):
    context = await _context(pool, chunks, "vendure")
    result = await _call(context, "aggregate", op="cheapest", query="running shoe")
    shoes = [r for r in vendure_records.values() if "Running Shoe" in r.title]
    assert result["products"][0]["price"] == float(min(r.price for r in shoes))
    for product in result["products"]:
        record = vendure_records[product["sku"]]
        text = f"{record.title} {record.description}".lower()
        assert "running" in text and "shoe" in text
    empty = await _call(context, "aggregate", op="count", query="submarine")
    assert empty["products"] == 0 and empty["variants"] == 0


async def test_aggregate_unknown_category_names_the_real_ones(pool, chunks, stores):
    context = await _context(pool, chunks, "outdoor")
    with pytest.raises(ToolError) as unknown:
        await _call(context, "aggregate", op="count", category="Footwear")
    assert str(unknown.value) == "no category 'Footwear'; categories: Jackets, Socks, Tents"
    with pytest.raises(ValueError):  # not an operation the schema offers
        await _call(context, "aggregate", op="average")


# -- similar_in_stock ------------------------------------------------------------------------------
@pytest.mark.parametrize("sku", ["RS0044", "2000023510", "C24F390", "CH00001-02"])
async def test_similar_in_stock_offers_other_products_in_stock(pool, chunks, stores,
                                                               vendure_records, sku):  # fmt: skip
    context = await _context(pool, chunks, "vendure")
    found = await _call(context, "similar_in_stock", sku=sku)
    assert found, sku
    group = vendure_records[sku].group_id
    groups = [vendure_records[c["sku"]].group_id for c in found]
    assert group not in groups and len(groups) == len(set(groups))
    assert all(c["in_stock"] and _in_stock(vendure_records[c["sku"]]) for c in found)
    # Same category first.
    assert vendure_records[found[0]["sku"]].category == vendure_records[sku].category


async def test_similar_in_stock_for_an_unknown_sku_is_an_error(pool, chunks, stores):
    context = await _context(pool, chunks, "vendure")
    for sku in ("NOPE-1", "TENT-4P"):  # unknown, and the outdoor store's
        with pytest.raises(ToolError, match="no product"):
            await _call(context, "similar_in_stock", sku=sku)


async def test_outdoor_alternatives(pool, chunks, stores):
    context = await _context(pool, chunks, "outdoor")
    found = await _call(context, "similar_in_stock", sku="TENT-4P")  # out of stock
    assert found[0]["sku"] == "TENT-2P"
    assert "TENT-4P" not in [c["sku"] for c in found]
    assert all(c["in_stock"] for c in found)


# -- exact answers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "op"), [
    ("What's the cheapest laptop?", "cheapest"),
    ("which is your least expensive camera", "cheapest"),
    ("show me your most affordable chairs", "cheapest"),
    ("What is the priciest sofa?", "most_expensive"),
    ("your most expensive camera please", "most_expensive"),
    ("How many kinds of shoes do you sell?", "count"),
    ("number of plants in stock", "count"),
    ("What kinds of products do you sell?", "categories"),
    ("how many different products do you have?", "categories"),
    ("What's the price range of your chairs?", "price_range"),
    ("How much do running shoes cost?", "price_range"),
    ("show me a tent", None),
    ("is the tent waterproof?", None),
    ("how much is the tent in euros?", None),
])  # fmt: skip
def test_aggregate_intent(text, op):
    assert aggregate_intent(text) == op


def test_exact_answer_wording():
    card = {"title": "Tent", "price": 1214.5, "in_stock": False}
    other = {"title": "Tripod", "price": 14.98, "in_stock": True}
    assert exact_answer("cheapest", {"products": [card, other]}, "tents") == (
        "The cheapest of our tents: the Tent at $1,214.50. It is out of stock at the moment. "
        "Next come the Tripod ($14.98)."
    )
    assert exact_answer("most_expensive", {"products": []}, "") == (
        "We don't have any products right now."
    )
    assert exact_answer("count", {"products": 4, "in_stock": 3}, "tents") == (
        "We sell 4 different tents, 3 of them in stock right now."
    )
    assert exact_answer("count", {"products": 0, "in_stock": 0}, "boats") == (
        "We don't sell any boats."
    )
    span = {"products": 3, "min_price": 5.0, "max_price": 5350.0, "average_price": 1200.456}
    assert exact_answer("price_range", span, "cameras") == (
        "Our cameras range from $5.00 to $5,350.00 (3 items, average $1,200.46)."
    )
    categories = {"categories": [{"category": "Tents", "products": 2},
                                 {"category": "", "products": 1}]}  # fmt: skip
    assert exact_answer("categories", categories, "") == (
        "We sell 2 kinds of products: Tents (2), other (1)."
    )


def _categories_sentence(records) -> str:
    groups: dict[str, set] = {}
    for r in records.values():
        groups.setdefault(r.category, set()).add(r.group_id)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    listed = ", ".join(f"{c} ({len(g)})" for c, g in ranked)
    return f"We sell {len(ranked)} kinds of products: {listed}."


@pytest.mark.parametrize(("question", "expected"), [
    ("What is the cheapest tablet?",
     "The cheapest of our tablet: the Tablet - 32GB at $329.00."),
    ("What is your most expensive gaming pc?",
     "The most expensive of our gaming pc: the Gaming PC - R7-2700 / 240GB SSD at $1,099.95."),
    ("How many kinds of running shoes do you sell?",
     "We sell 4 different running shoes, 4 of them in stock right now."),
    ("what kinds of products do you sell?", None),
])  # fmt: skip
async def test_exact_answers_from_the_catalogue_pass_the_verifier(pool, chunks, stores,
                                                                  vendure_records, question,
                                                                  expected):  # fmt: skip
    expected = expected or _categories_sentence(vendure_records)
    context = await _context(pool, chunks, "vendure")
    _, _, exact = await catalogue_facts(context, question)
    assert exact == expected
    verifier = Verifier(pool, "vendure", shown=list(context.cards), allowed=context.amounts)
    checked = await verifier.verify(exact)
    assert checked.text == exact and checked.corrections == []


# -- tool selection --------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "names"), [
    ("Where is my order #1001?", {"order_status"}),
    ("has it shipped yet? tracking please", {"order_status"}),
    ("how much is the tent in euros?", {"convert_price"}),
    ("what is that in £", {"convert_price"}),
    ("compare the 13 inch and 15 inch laptops", {"compare", "get_product"}),
    ("the leather sofa is sold out, anything similar?", {"similar_in_stock", "get_product"}),
    ("what sizes does the running shoe come in?", {"get_product"}),
    ("show me tents", set()),
    ("What is the cheapest tablet?", set()),
])  # fmt: skip
def test_tools_for_offers_only_what_the_message_needs(text, names):
    context = TurnContext(None, None, Vocabulary())  # tools() only builds the list
    assert {t.name for t in context.tools()} == {*CATALOGUE_TOOLS, "order_status",
                                                 "convert_price"}  # fmt: skip
    assert {t.name for t in tools_for(text, context.tools())} == names


# -- tenant isolation ------------------------------------------------------------------------------
def _products_in(value, found=None):
    """Every (sku, title) a tool result mentions, however nested."""
    found = [] if found is None else found
    if isinstance(value, dict):
        if "sku" in value:
            found.append((value["sku"], value.get("title")))
        for v in value.values():
            _products_in(v, found)
    elif isinstance(value, list):
        for v in value:
            _products_in(v, found)
    return found


async def _every_tool(context, sku, title, other_categories):
    """Each catalogue tool called with another store's SKU / title / category."""
    results = []
    calls = [("search_products", {"query": sku}), ("search_products", {"query": title}),
             ("search_products", {"query": title, "in_stock": True, "max_price": 10_000}),
             ("get_product", {"sku": sku}), ("similar_in_stock", {"sku": sku}),
             ("compare", {"skus": [sku, sku + "x"]}),
             ("aggregate", {"op": "cheapest", "query": title}),
             ("aggregate", {"op": "most_expensive", "query": sku}),
             ("aggregate", {"op": "count", "query": title})]  # fmt: skip
    calls += [("aggregate", {"op": "categories", "category": c}) for c in other_categories]
    for name, args in calls:
        try:
            results.append(await _call(context, name, **args))
        except ToolError as exc:
            results.append(str(exc))
    return results


@pytest.mark.parametrize(("store_id", "other_id"), [("vendure", "outdoor"),
                                                    ("outdoor", "vendure")])  # fmt: skip
async def test_no_tool_ever_returns_another_stores_products(
    pool, chunks, stores, vendure_records, outdoor_records, store_id, other_id
):
    own, other = {"vendure": vendure_records, "outdoor": outdoor_records}[store_id], {
        "vendure": vendure_records, "outdoor": outdoor_records}[other_id]  # fmt: skip
    own_titles = {r.title for r in own.values()}
    other_categories = sorted({r.category for r in other.values()})
    context = await _context(pool, chunks, store_id)
    seen = 0
    for record in other.values():
        results = await _every_tool(context, record.sku, record.title, other_categories)
        for sku, title in _products_in(results):
            seen += 1
            assert sku in own, (store_id, record.sku, sku)
            assert title is None or title in own_titles
        own_categories = {o.category for o in own.values()}
        for message in (r for r in results if isinstance(r, str)):
            # "no category 'Tents'; categories: ..." lists this store's categories only.
            listed = message.partition("categories: ")[2]
            assert listed == "" or set(listed.split(", ")) == own_categories, message
    assert seen >= 5 * len(other), (
        seen
    )  # searches always return this store's nearest products: not vacuous
    # What this turn showed (cards for the verifier and the product events) is all our own.
    assert set(context.cards) <= set(own)
    assert all(card["sku"] in own for card in context.new_cards)
