"""Regenerate ``data/catalog.json`` from the Vendure sample catalog (a maintainer's tool).

The committed file was made from ``assets/products.csv`` in the npm package
``@vendure/create`` 2.3.4 (MIT; see ``data/NOTICE.md``)::

    cd "$(mktemp -d)" && npm pack @vendure/create@2.3.4 && tar xzf vendure-create-2.3.4.tgz
    python -m shared.retrieval.evalsets.build_catalog package/assets/products.csv

Each product row is followed by rows for its further variants (name left blank). Products keep
the CSV's order; their id is the CSV's slug. Images are not copied.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "data" / "catalog.json"


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split("|") if v.strip()]


def convert(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    for raw in rows:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        if row["name"]:
            facets: dict[str, list[str]] = {}
            for facet in _split(row["facets"]):
                name, _, value = facet.partition(":")
                facets.setdefault(name.strip(), []).append(value.strip())
            categories = facets.get("category", [])
            products.append({
                "id": row["slug"],
                "title": row["name"],
                "description": row["description"],
                "department": categories[0] if categories else "",
                "category": categories[-1] if categories else "",
                "brand": ", ".join(facets.get("brand", [])),
                "colors": facets.get("color", []),
                "plant_type": facets.get("plant type", []),
                "option_groups": _split(row["optionGroups"]),
                "variants": [],
            })  # fmt: skip
        variant_facets = [f.partition(":")[2] for f in _split(row["variantFacets"])]
        products[-1]["variants"].append({
            "sku": row["sku"],
            "options": _split(row["optionValues"]),
            "price": float(row["price"]),
            **({"colors": variant_facets} if variant_facets else {}),
        })  # fmt: skip
    for product in products:
        variants = product.pop("variants")
        prices = [v["price"] for v in variants]
        product["price"] = min(prices)
        product["price_max"] = max(prices)
        for variant in variants:  # colours given per variant count for the product too
            product["colors"] += [
                c for c in variant.get("colors", []) if c not in product["colors"]
            ]
        product["variants"] = variants
    return products


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m shared.retrieval.evalsets.build_catalog products.csv")
    with open(argv[0], newline="", encoding="utf-8") as f:
        products = convert(list(csv.DictReader(f)))
    OUT.write_text(json.dumps(products, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(products)} products to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
