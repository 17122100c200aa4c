"""``shop``: shopper queries against a small product catalog, with graded relevance 0-3.

Catalog: the 54 products of the Vendure demo shop (``@vendure/create`` 2.3.4 on npm, MIT),
committed as ``data/catalog.json`` (see ``data/NOTICE.md``; ``build_catalog.py`` regenerates
it). Queries and labels: ``data/shop_queries.json``, written and judged by hand against every
product in the catalog, following ``data/LABELLING.md`` (3 = exactly what they want,
2 = good alternative, 1 = related, unlisted = 0). Each query has a ``kind``: paraphrase,
attribute, browse, lookup, typo or need.

A product becomes one document: the title is its name, the text its description followed by
one line of facts a product page shows (brand, category, options, price), and the attributes
hold the same facts as fields for metadata filters (``department``, ``category``, ``brand``,
``colors``, ``plant_type``, ``price``, ``price_max``, ``options``, ``skus``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.retrieval.evalsets.base import EvalQuery, EvalSet
from shared.retrieval.types import Document

DATA = Path(__file__).parent / "data"
CATALOG = DATA / "catalog.json"
QUERIES = DATA / "shop_queries.json"
KINDS = ("paraphrase", "attribute", "browse", "lookup", "typo", "need")


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _options(product: dict[str, Any]) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {group: [] for group in product["option_groups"]}
    for variant in product["variants"]:
        for group, value in zip(product["option_groups"], variant["options"], strict=False):
            if value not in options[group]:
                options[group].append(value)
    return options


def product_document(product: dict[str, Any]) -> Document:
    options = _options(product)
    facts = []
    if product["brand"]:
        facts.append(f"Brand: {product['brand']}.")
    facts.append(f"Category: {product['department']} > {product['category']}.")
    if product["colors"]:
        facts.append(f"Colours: {', '.join(product['colors'])}.")
    if product["plant_type"]:
        facts.append(f"Plant type: {', '.join(product['plant_type'])}.")
    for group, values in options.items():
        facts.append(f"{group[:1].upper()}{group[1:]}: {', '.join(values)}.")
    low, high = product["price"], product["price_max"]
    price = _money(low) if low == high else f"{_money(low)} to {_money(high)}"
    facts.append(f"Price: {price}.")

    attributes: dict[str, Any] = {
        "department": product["department"],
        "category": product["category"],
        "brand": product["brand"],
        "colors": product["colors"],
        "plant_type": product["plant_type"],
        "price": low,
        "price_max": high,
        "options": options,
        "skus": [v["sku"] for v in product["variants"]],
    }
    return Document(
        source=product["id"],
        text=f"{product['description']}\n\n{' '.join(facts)}",
        title=product["title"],
        attributes={k: v for k, v in attributes.items() if v not in ("", [], {})},
    )


def load_catalog() -> list[dict[str, Any]]:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


def build() -> EvalSet:
    documents = [product_document(p) for p in load_catalog()]
    raw = json.loads(QUERIES.read_text(encoding="utf-8"))
    queries = [
        EvalQuery(id=q["id"], text=q["text"], relevance=dict(q["relevance"]), kind=q["kind"])
        for q in raw["queries"]
    ]
    return EvalSet(
        name="shop",
        description=(
            f"{len(queries)} shopper queries (paraphrases, attribute constraints, browsing, "
            f"lookups, typos, needs) against {len(documents)} products of the Vendure demo "
            "catalog; graded relevance 3/2/1 judged by hand for every product."
        ),
        documents=documents,
        queries=queries,
    )
