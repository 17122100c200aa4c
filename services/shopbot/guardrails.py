"""Guardrails: refuse injection and off-topic requests; verify every price and SKU before it
is sent.

Verification works sentence by sentence on the model's text: a SKU-looking token that the
store does not sell removes its sentence; a price next to a product the store sells is
checked against that product's real price and corrected; a price that cannot be tied to any
product of this store removes its sentence. The shopper sees only verified sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from psycopg_pool import AsyncConnectionPool

REFUSAL_INJECTION = (
    "I can only help with shopping in this store: finding products, comparing them, prices, "
    "stock and orders."
)
REFUSAL_OFF_TOPIC = (
    "I'm this store's shopping assistant, so I can't help with that. Ask me about our "
    "products, prices, stock, shipping or your order."
)
_INJECTION = re.compile(
    r"ignore (all |any |your |the |previous |prior |above )*(instructions|rules|prompt)"
    r"|system prompt|developer (mode|message)|jailbreak|you are now"
    r"|(^|[.!?]\s+|\b(please|you to|now),?\s+)act as (?!a shopper)"
    r"|reveal (your|the) (prompt|instructions|rules)|print (your|the) (prompt|instructions)"
    r"|(another|other|different) (store|shop|merchant|tenant)'?s?\b"
    r"|store[_ ]?id|tenant|api[_ ]?key|\bsql\b|drop table|select \* from",
    re.I,
)
_OFF_TOPIC = re.compile(
    r"\b(write (me )?(a |an )?(poem|essay|story|code|program|song)|recipe for"
    r"|(do|help (me )?with|finish|write) (my|our|this) homework"
    r"|capital of|who won|president|(what'?s|what is|how'?s|how is) the weather|weather forecast"
    r"|translate|solve|equation|python script"
    r"|medical advice|diagnos(e|is)|lawyer|legal advice|stock market|bitcoin|crypto)\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_AMOUNT = r"\d[\d,]*(?:\.\d{1,2})?"
_PRICE = re.compile(
    rf"(?:(?P<sym>[$€£])\s?(?P<a>{_AMOUNT})|(?P<b>{_AMOUNT})\s?(?P<code>USD|EUR|GBP|dollars?))",
    re.I,
)
_BUDGET = re.compile(
    r"\b(under|below|over|above|between|and|to|up to|less than|more than|"
    r"budget( of)?|within|max(imum)?|at most|at least)\s*$",
    re.I,
)
_SKU_LIKE = re.compile(r"\b(?=[A-Z0-9\-]*\d)(?=[A-Z0-9\-]*[A-Z])[A-Z0-9][A-Z0-9\-]{4,}\b")


def screen_message(text: str) -> str | None:
    """A refusal for injection or off-topic requests, or None when the message may proceed."""
    if _INJECTION.search(text):
        return REFUSAL_INJECTION
    if _OFF_TOPIC.search(text):
        return REFUSAL_OFF_TOPIC
    return None


@dataclass
class Verified:
    text: str
    corrections: list[str] = field(default_factory=list)


@dataclass
class Verifier:
    """Checks answers against one store's catalogue; ``shown`` are the SKUs of this turn's
    cards, the most likely referents of a bare price."""

    pool: AsyncConnectionPool
    store_id: str
    shown: list[str] = field(default_factory=list)
    # Amounts tools returned this turn (a conversion, an order total): true, though no
    # product has them as its price.
    allowed: set[Decimal] = field(default_factory=set)
    _titles: dict[str, tuple[str, Decimal]] | None = None  # lower title -> (sku, price)
    _skus: dict[str, Decimal] = field(default_factory=dict)
    _title_tokens: set[str] = field(default_factory=set)  # SKU-like words of real titles

    async def _catalogue(self) -> dict[str, tuple[str, Decimal]]:
        if self._titles is None:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT sku, title, price FROM shop_products WHERE store_id = %s",
                    (self.store_id,),
                )
                rows = await cur.fetchall()
            self._titles = {r["title"].lower(): (r["sku"], r["price"]) for r in rows}
            self._skus = {r["sku"]: r["price"] for r in rows}
            # "R7-2700" in "Gaming PC - R7-2700 / 240GB SSD" names this store's product.
            self._title_tokens = {t for r in rows for t in _SKU_LIKE.findall(r["title"])}
        return self._titles

    async def verify(self, text: str) -> Verified:
        """The whole answer, sentence by sentence."""
        sentences = [s for s in _SENTENCE.split(text) if s.strip()]
        kept, corrections = [], []
        for sentence in sentences:
            fixed, notes = await self.verify_sentence(sentence)
            corrections += notes
            if fixed is not None:
                kept.append(fixed)
        return Verified(" ".join(kept), corrections)

    async def verify_sentence(self, sentence: str) -> tuple[str | None, list[str]]:
        """The sentence (corrected), or None to drop it, and what was changed."""
        titles = await self._catalogue()
        for token in _SKU_LIKE.findall(sentence):
            if token not in self._skus and token not in self._title_tokens:
                return None, [f"removed a sentence naming unknown SKU {token}"]
        prices = list(_PRICE.finditer(sentence))
        if not prices:
            return sentence, []
        referents = self._referents(sentence, titles)
        notes: list[str] = []
        out = sentence
        for match in reversed(prices):  # right to left keeps earlier offsets valid
            if _BUDGET.search(sentence[max(0, match.start() - 24) : match.start()]):
                continue  # "under $100" repeats the shopper's budget; it claims no price
            amount = Decimal((match["a"] or match["b"]).replace(",", ""))
            if amount in self.allowed:
                continue
            real = self._nearest_price(referents, sentence, match.start(), amount)
            if real is None:
                return None, [f"removed a sentence with a price ({match[0]}) tied to no product"]
            if real != amount:
                shown = f"${real:,.2f}" if (match["sym"] or "$") == "$" else f"{real:,.2f}"
                notes.append(f"corrected price {match[0].strip()} to {shown}")
                out = out[: match.start()] + shown + out[match.end() :]
        return out, notes

    def _referents(
        self, sentence: str, titles: dict[str, tuple[str, Decimal]]
    ) -> list[tuple[int, Decimal]]:
        """(position in sentence, real price) of every product the sentence names."""
        lower = sentence.lower()
        spans = []  # (start, end, price)
        for title, (_, price) in titles.items():
            start = _find_word(lower, title)
            if start >= 0:
                spans.append((start, start + len(title), price))
        for sku, price in self._skus.items():
            start = _find_word(sentence, sku)
            if start >= 0:
                spans.append((start, start + len(sku), price))
        # A title inside a longer name the sentence gives ('Basketball' in 'Hi-Top Basketball
        # Shoe - Size 42') is part of that name, not a product of its own.
        return [
            (s, p)
            for s, e, p in spans
            if not any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _ in spans)
        ]

    def _nearest_price(
        self, referents: list[tuple[int, Decimal]], sentence: str, at: int, amount: Decimal
    ) -> Decimal | None:
        if referents:
            # A price belongs to the product named closest before it (or after, failing that).
            before = [r for r in referents if r[0] <= at]
            position, price = max(before) if before else min(referents)
            del position
            return price
        # No product named: fine if it is the price of a product on this turn's cards.
        shown = {self._skus[s] for s in self.shown if s in self._skus}
        if amount in shown:
            return amount
        return None


def _find_word(text: str, name: str) -> int:
    """Where ``name`` first occurs in ``text`` as whole words ('tent' not in 'contents')."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if (start == 0 or not text[start - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            return start
        start = text.find(name, start + 1)
    return -1
