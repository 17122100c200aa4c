"""Product queries for one store: search, cards, facets, aggregates, comparisons, alternatives.

Every statement names the store in its WHERE clause; the store id comes from the verified
widget or admin key, never from the shopper or the model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from services.shopbot.importer import COLLECTION
from services.shopbot.query import ParsedQuery, expand_synonyms
from shared.retrieval import ChunkStore, FilterError

logger = logging.getLogger(__name__)
CARD_COLUMNS = "sku, group_id, title, price, currency, stock, in_stock, category, image, url"
# Words of the question itself, not of the products it is about.
_QUESTION = {
    "cheapest", "cheap", "most", "least", "expensive", "priciest", "lowest", "highest", "how",
    "many", "much", "kinds", "kind", "types", "type", "of", "do", "does", "you", "your", "sell",
    "have", "what", "which", "is", "are", "the", "a", "an", "price", "prices", "range", "count",
    "number", "sold", "carry", "offer", "we", "there", "in", "stock", "available", "sells",
    "different", "products", "items", "cost", "costs", "for", "me", "show", "tell",
}  # fmt: skip
AggregateOp = Literal["cheapest", "most_expensive", "count", "price_range", "categories"]


@dataclass
class Catalog:
    """One store's catalogue: the table for facts, the retrieval index for meaning."""

    pool: AsyncConnectionPool
    chunks: ChunkStore
    store_id: str

    # -- cards -------------------------------------------------------------------------
    async def cards(self, skus: list[str]) -> list[dict[str, Any]]:
        """Cards for ``skus`` in the given order; unknown SKUs are left out."""
        if not skus:
            return []
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {CARD_COLUMNS}, description, attributes FROM shop_products "
                "WHERE store_id = %s AND sku = ANY(%s)",
                (self.store_id, skus),
            )
            rows = {r["sku"]: r for r in await cur.fetchall()}
        return [_card(rows[s]) for s in skus if s in rows]

    async def get_product(self, sku: str) -> dict[str, Any] | None:
        found = await self.cards([sku])
        if not found:
            return None
        product = found[0]
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT sku, title, price, stock, in_stock, attributes FROM shop_products "
                "WHERE store_id = %s AND group_id = %s AND sku <> %s ORDER BY price, sku",
                (self.store_id, product["group_id"], sku),
            )
            product["variants"] = [_plain(dict(r)) for r in await cur.fetchall()]
        return product

    # -- search ------------------------------------------------------------------------
    async def search(
        self, parsed: ParsedQuery, *, limit: int = 8, exclude_groups: set[str] | None = None
    ) -> list[dict[str, Any]]:
        """Hybrid search under the hard filters, one card per product group, best first."""
        text = expand_synonyms(parsed.text)
        filters = parsed.search_filters()
        try:
            hits = await self.chunks.search(self.store_id, text, collection=COLLECTION,
                                            k=limit * 3, filters=filters)  # fmt: skip
        except FilterError as exc:
            # An attribute the index has never seen: no product can match it.
            logger.info("filter not applicable (%s); no results", exc)
            return []
        skus = [h.source for h in hits]
        if len(skus) < limit:
            # Typos ("mernio socks"): trigram similarity on titles, under the same filters.
            for source, _, _ in await self.chunks.search_titles(
                self.store_id, parsed.text, collection=COLLECTION, k=limit
            ):
                if source not in skus:
                    skus.append(source)
        cards = await self._filtered_cards(skus, parsed)
        seen = set(exclude_groups or ())
        best = []
        for card in cards:
            if card["group_id"] not in seen:
                seen.add(card["group_id"])
                best.append(card)
        return best[:limit]

    async def _filtered_cards(self, skus: list[str], parsed: ParsedQuery) -> list[dict]:
        # The table is the authority: re-check the hard filters on current prices and stock.
        cards = await self.cards(skus)
        return [c for c in cards if _matches(c, parsed)]

    async def facets(self, parsed: ParsedQuery) -> dict[str, Any]:
        """Counts by category and stock, and the price span, over the hard-filtered catalogue."""
        where, params = _where(self.store_id, parsed)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT category, count(*) AS n, min(price) AS lo, max(price) AS hi, "
                    "count(*) FILTER (WHERE in_stock) AS stocked FROM shop_products WHERE {} "
                    "GROUP BY category ORDER BY n DESC, category"
                ).format(where),
                params,
            )
            rows = await cur.fetchall()
        prices = [r["lo"] for r in rows] + [r["hi"] for r in rows]
        return {
            "category": {r["category"] or "uncategorised": r["n"] for r in rows},
            "price": {"min": float(min(prices)), "max": float(max(prices))} if prices else {},
            "in_stock": {
                "true": sum(r["stocked"] for r in rows),
                "false": sum(r["n"] - r["stocked"] for r in rows),
            },
        }

    # -- catalogue-wide questions --------------------------------------------------------
    async def aggregate(
        self, op: AggregateOp, parsed: ParsedQuery, *, limit: int = 3
    ) -> dict[str, Any]:
        """Cheapest, most expensive, count, price range or categories: exact, over the whole
        catalogue (not the top-k of a search), in a read-only transaction."""
        where, params = _where(self.store_id, parsed, text=True)
        statements = {
            # One row per product group: three sizes of one shoe are one answer, not three.
            "cheapest": f"SELECT * FROM (SELECT DISTINCT ON (group_id) {CARD_COLUMNS} "
            "FROM shop_products WHERE {} ORDER BY group_id, price, sku) g "
            "ORDER BY price, sku LIMIT %(limit)s",
            "most_expensive": f"SELECT * FROM (SELECT DISTINCT ON (group_id) {CARD_COLUMNS} "
            "FROM shop_products WHERE {} ORDER BY group_id, price DESC, sku) g "
            "ORDER BY price DESC, sku LIMIT %(limit)s",
            "count": "SELECT count(*) AS variants, count(DISTINCT group_id) AS products, "
            "count(DISTINCT group_id) FILTER (WHERE in_stock) AS in_stock "
            "FROM shop_products WHERE {}",
            "price_range": "SELECT min(price) AS min_price, max(price) AS max_price, "
            "round(avg(price), 2) AS average_price, count(*) AS products "
            "FROM shop_products WHERE {}",
            "categories": "SELECT category, count(DISTINCT group_id) AS products "
            "FROM shop_products WHERE {} GROUP BY category ORDER BY products DESC, category",
        }
        if op not in statements:
            raise ValueError(f"unknown aggregate {op!r}; use one of {sorted(statements)}")
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            cur = await conn.execute(sql.SQL(statements[op]).format(where),
                                     {**params, "limit": max(1, min(limit, 20))})  # fmt: skip
            rows = [_plain(dict(r)) for r in await cur.fetchall()]
        if op in ("cheapest", "most_expensive"):
            return {"op": op, "products": [_card(r) for r in rows]}
        if op == "categories":
            return {"op": op, "categories": rows}
        return {"op": op, **rows[0]}

    async def compare(self, skus: list[str]) -> dict[str, Any]:
        """Side-by-side facts of up to five products; unknown SKUs are named, not invented."""
        wanted = list(dict.fromkeys(skus))[:5]
        cards = await self.cards(wanted)
        found = {c["sku"] for c in cards}
        keys = sorted({k for c in cards for k in c.get("attributes", {})})
        return {
            "products": cards,
            "attributes": keys,
            "unknown_skus": [s for s in wanted if s not in found],
        }

    async def similar_in_stock(self, sku: str, *, limit: int = 4) -> list[dict[str, Any]]:
        """In-stock alternatives to ``sku``: nearest by meaning, same category first."""
        product = await self.get_product(sku)
        if product is None:
            return []
        parsed = ParsedQuery(text=f"{product['title']} {product.get('description', '')[:300]}",
                             in_stock=True)  # fmt: skip
        same = ParsedQuery(**{**parsed.__dict__, "categories": [product["category"]]})
        exclude = {product["group_id"]}
        found = await self.search(same, limit=limit, exclude_groups=exclude)
        if len(found) < limit:
            exclude |= {c["group_id"] for c in found}
            found += await self.search(parsed, limit=limit - len(found), exclude_groups=exclude)
        return found


def content_words(text: str) -> str:
    """The product words of a question: "how many kinds of shoes do you sell?" → "shoes"."""
    words = (w.strip("?!.,;:") for w in text.split())
    return " ".join(w for w in words if w and w.lower() not in _QUESTION)


def _where(store_id: str, parsed: ParsedQuery, *, text: bool = False) -> tuple[sql.Composed, dict]:
    parts = [sql.SQL("store_id = %(store)s")]
    params: dict[str, Any] = {"store": store_id}
    if parsed.min_price is not None:
        parts.append(sql.SQL("price >= %(min_price)s"))
        params["min_price"] = Decimal(str(parsed.min_price))
    if parsed.max_price is not None:
        parts.append(sql.SQL("price <= %(max_price)s"))
        params["max_price"] = Decimal(str(parsed.max_price))
    if parsed.in_stock:
        parts.append(sql.SQL("in_stock"))
    if parsed.categories:
        parts.append(sql.SQL("lower(category) = ANY(%(categories)s)"))
        params["categories"] = [c.lower() for c in parsed.categories]
    for i, (key, value) in enumerate(sorted(parsed.attributes.items())):
        parts.append(sql.SQL("lower(attributes ->> {}) = {}").format(
            sql.Placeholder(f"attr_key_{i}"), sql.Placeholder(f"attr_val_{i}")))  # fmt: skip
        params[f"attr_key_{i}"], params[f"attr_val_{i}"] = key, value.lower()
    words = content_words(parsed.text)
    if text and words:
        # Words left after the filters ("waterproof jacket") narrow the set by full text.
        parts.append(sql.SQL(
            "to_tsvector('english', title || ' ' || category || ' ' || description) "
            "@@ websearch_to_tsquery('english', %(text)s)"))  # fmt: skip
        params["text"] = words
    return sql.SQL(" AND ").join(parts), params


def _matches(card: dict[str, Any], parsed: ParsedQuery) -> bool:
    price = card["price"]
    if parsed.min_price is not None and price < parsed.min_price:
        return False
    if parsed.max_price is not None and price > parsed.max_price:
        return False
    if parsed.in_stock and not card["in_stock"]:
        return False
    if parsed.categories and card["category"].lower() not in [c.lower() for c in parsed.categories]:
        return False
    attributes = {k: str(v).lower() for k, v in card.get("attributes", {}).items()}
    return all(attributes.get(k) == v.lower() for k, v in parsed.attributes.items())


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def _card(row: dict[str, Any]) -> dict[str, Any]:
    card = _plain(dict(row))
    card.setdefault("attributes", {})
    return card
