"""Shopper words → hard filters (price range, in stock, category, attributes) + search text.

Two parsers share one output: deterministic rules (instant, used by ``/v1/search``) and the
LLM with a JSON schema (used by chat, where the model already runs). LLM output is validated
against the store's real categories and attribute values; anything it is unsure of, or that
does not exist in the store, falls back to what the rules found.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from shared.models.llm import LLMError, LLMGateway

logger = logging.getLogger(__name__)

# Shopper words that catalogues rarely use, mapped to words they do. Applied to the search
# text only (never to filters), so a wrong guess costs ranking, not results.
SYNONYMS = {
    "couch": "sofa", "sofa": "couch", "sneakers": "trainers shoes", "trainers": "sneakers shoes",
    "laptop": "notebook computer", "notebook": "laptop", "tee": "t-shirt", "tshirt": "t-shirt",
    "hoodie": "sweatshirt", "jumper": "sweater", "pants": "trousers", "trousers": "pants",
    "rainy": "waterproof rain", "rain": "waterproof", "warm": "insulated fleece wool",
    "cheap": "budget", "phone": "smartphone mobile", "cellphone": "smartphone phone",
    "earbuds": "headphones earphones", "headset": "headphones", "tv": "television",
    "pc": "computer desktop", "bike": "bicycle", "kicks": "shoes sneakers", "mug": "cup",
}  # fmt: skip

_NUMBER = r"\$?\s?(\d+(?:[.,]\d{1,2})?)\s?(?:\$|usd|dollars?|eur|euros?|€)?"
_MAX = re.compile(
    rf"\b(?:under|below|less than|cheaper than|up to|at most|max(?:imum)?|<)\s*{_NUMBER}", re.I
)
_NOT_A_RANGE = r"(?!\s*(?:to|-|and)\s*\$?\d)"  # "from 20 to 50" is a range, not a minimum
_MIN = re.compile(
    rf"\b(?:over|above|more than|at least|min(?:imum)?|from|>)\s*{_NUMBER}{_NOT_A_RANGE}", re.I
)
_BETWEEN = re.compile(rf"\b(?:between\s+)?{_NUMBER}\s*(?:-|to|and)\s*{_NUMBER}", re.I)
_IN_STOCK = re.compile(r"\b(in stock|in-stock|available now|available today|ships? now)\b", re.I)
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")


@dataclass
class Vocabulary:
    """The store's real categories and attribute values: what a filter may name."""

    categories: list[str] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)  # key -> lower-case values


@dataclass
class ParsedQuery:
    text: str  # what is left to match by meaning
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool | None = None
    categories: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    source: str = "rules"  # rules, llm, or llm+rules

    def search_filters(self) -> dict[str, Any]:
        """The retrieval store's metadata filter syntax."""
        filters: dict[str, Any] = {}
        price = {
            k: v for k, v in (("gte", self.min_price), ("lte", self.max_price)) if v is not None
        }
        if price:
            filters["price"] = price
        if self.in_stock:
            filters["in_stock"] = True
        if self.categories:
            filters["category"] = {"in": [c.lower() for c in self.categories]}
        filters.update({k: v.lower() for k, v in self.attributes.items()})
        return filters

    def as_dict(self) -> dict[str, Any]:
        return {"min_price": self.min_price, "max_price": self.max_price,
                "in_stock": self.in_stock, "categories": self.categories,
                "attributes": self.attributes, "source": self.source}  # fmt: skip


async def load_vocabulary(pool: AsyncConnectionPool, store_id: str) -> Vocabulary:
    """Categories, and attribute keys with few distinct values (colour, size, material…)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT DISTINCT category FROM shop_products WHERE store_id = %s AND category <> ''",
            (store_id,),
        )
        categories = sorted(r["category"] for r in await cur.fetchall())
        cur = await conn.execute(
            "SELECT key, array_agg(DISTINCT lower(value)) AS vals FROM shop_products, "
            "jsonb_each_text(attributes) AS a(key, value) WHERE store_id = %s "
            "AND length(value) <= 40 GROUP BY key HAVING count(DISTINCT lower(value)) <= 60",
            (store_id,),
        )
        attributes = {r["key"]: sorted(r["vals"]) for r in await cur.fetchall()}
    return Vocabulary(categories, attributes)


def _amount(text: str) -> float:
    return float(text.replace(",", "."))


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def parse_rules(query: str, vocabulary: Vocabulary) -> ParsedQuery:
    """Deterministic parsing: prices, stock, and words that name a real category or value."""
    text = query
    parsed = ParsedQuery(text=query)
    if match := _BETWEEN.search(text):
        low, high = sorted((_amount(match[1]), _amount(match[2])))
        if high > 0:
            parsed.min_price, parsed.max_price = low, high
            text = text.replace(match[0], " ")
    if parsed.max_price is None and (match := _MAX.search(text)):
        parsed.max_price = _amount(match[1])
        text = text.replace(match[0], " ")
    if parsed.min_price is None and (match := _MIN.search(text)):
        parsed.min_price = _amount(match[1])
        text = text.replace(match[0], " ")
    if match := _IN_STOCK.search(text):
        parsed.in_stock = True
        text = text.replace(match[0], " ")
    words = {_singular(w) for w in _WORD.findall(text.lower())}
    for category in vocabulary.categories:
        name = category.lower()
        if name in text.lower() or _singular(name) in words:
            parsed.categories.append(category)
    for key, values in vocabulary.attributes.items():
        for value in sorted(values, key=len, reverse=True):  # "navy blue" before "blue"
            # Single words match whole words; multi-word values match as phrases.
            if (" " in value and value in text.lower()) or value in words:
                parsed.attributes.setdefault(key, value)
    parsed.text = " ".join(text.split()) or query
    return parsed


def expand_synonyms(text: str) -> str:
    """Add catalogue words for shopper words ("couch" → also "sofa")."""
    extra = [SYNONYMS[w] for w in _WORD.findall(text.lower()) if w in SYNONYMS]
    return f"{text} {' '.join(extra)}" if extra else text


class _LLMFilters(BaseModel):
    """What the LLM may say about a shopper's message."""

    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    in_stock_only: bool = False
    category: str | None = Field(None, max_length=60)
    confident: bool = Field(description="false when the message states no clear constraint")


_PROMPT = (
    "Extract shopping filters from the message. Categories: {categories}. Use null when the "
    "message does not state a limit. Message: {message}"
)


async def parse_with_llm(
    query: str, vocabulary: Vocabulary, llm: LLMGateway, *, timeout: float = 8.0
) -> ParsedQuery:
    """LLM parsing, validated against the store, merged over the rules' result."""
    rules = parse_rules(query, vocabulary)
    prompt = _PROMPT.format(categories=", ".join(vocabulary.categories[:40]) or "none",
                            message=query[:500])  # fmt: skip
    try:
        answer = await llm.json([{"role": "user", "content": prompt}], _LLMFilters,
                                max_tokens=80, timeout=timeout)  # fmt: skip
    except (LLMError, TimeoutError) as exc:
        logger.info("LLM filter parsing unavailable, rules only: %s", exc)
        return rules
    if not answer.confident:
        return rules
    merged = ParsedQuery(**{**rules.__dict__, "source": "llm+rules"})
    known = {c.lower(): c for c in vocabulary.categories}
    if answer.category and answer.category.lower() in known and not merged.categories:
        merged.categories = [known[answer.category.lower()]]
    # Prices only when the message has a number: a model must not invent a budget.
    if re.search(r"\d", query):
        if merged.max_price is None and answer.max_price:
            merged.max_price = answer.max_price
        if merged.min_price is None and answer.min_price:
            merged.min_price = answer.min_price
    if answer.in_stock_only and _IN_STOCK.search(query) is None and "stock" in query.lower():
        merged.in_stock = True
    return merged
