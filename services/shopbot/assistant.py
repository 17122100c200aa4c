"""One chat turn: screen the message, fetch catalogue facts, let the agent answer with tools,
verify every sentence, and emit events. Never hangs: a step budget and a timeout bound the
agent, and when the LLM is down the shopper gets plain search results instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.shopbot import analytics, events
from services.shopbot.guardrails import Verifier, screen_message
from services.shopbot.integrations import IntegrationError, convert_price, order_status
from services.shopbot.products import AggregateOp, Catalog, content_words
from services.shopbot.query import ParsedQuery, Vocabulary, parse_rules, parse_with_llm
from services.shopbot.stores import Store
from shared.agents import (
    AgentError,
    AgentRunner,
    Final,
    TextDelta,
    Tool,
    ToolError,
    ToolResult,
)
from shared.agents.store import TraceStore
from shared.models.llm import LLMGateway

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are the shopping assistant of the online store {store}. Answer in one to three short "
    "sentences, using only the catalogue facts and tool results you are given. Name products "
    "exactly as written, with their price. Never invent products, prices or stock; if nothing "
    "fits, say so. Use tools for order status, currency conversion, comparisons and "
    "catalogue-wide questions. Only discuss this store's products, orders and shipping."
)
FALLBACK_NOTICE = "The assistant is unavailable right now; here are the closest matches."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CHEAPEST = re.compile(r"\b(cheapest|least expensive|lowest[- ]priced|most affordable)\b", re.I)
_PRICIEST = re.compile(r"\b(most expensive|priciest|highest[- ]priced|top of the range)\b", re.I)
_COUNT = re.compile(r"\b(how many|number of|kinds of|types of|what (kinds|types))\b", re.I)
_RANGE = re.compile(r"\bprice range\b|\bhow much (do|does) .* cost\b", re.I)
# Which tools a message may need. Offering none when the fetched facts already answer keeps
# the prompt short (time to first token) and small models from inventing tool calls.
TOOL_INTENTS = {
    "order_status": re.compile(
        r"\b(my|an?|the) order\b|\border (status|number)\b|\btracking\b|\bshipped\b"
        r"|\bdelivery status\b|#\d+",
        re.I,
    ),
    "convert_price": re.compile(
        r"\b(eur|euros?|gbp|pounds?|yen|jpy|cad|aud|chf|convert|"
        r"currency|exchange rate)\b|[€£¥]",
        re.I,
    ),
    "compare": re.compile(
        r"\b(compare|comparison|difference|differences|versus|vs\.?|better)\b", re.I
    ),
    "similar_in_stock": re.compile(
        r"\b(alternatives?|similar|instead|out of stock|sold out|"
        r"something like)\b",
        re.I,
    ),
    "get_product": re.compile(
        r"\b(details?|specs?|specifications?|sizes?|colou?rs?|variants?|"
        r"options?)\b",
        re.I,
    ),
}
_LOOSE_CONSTRAINT = re.compile(r"\d|\b(budget|afford|cheap|bucks|grand|quid)\b", re.I)
_JSON_ANSWER = re.compile(r"^\s*[\[{]")


def tools_for(text: str, tools: list[Tool]) -> list[Tool]:
    wanted = {name for name, pattern in TOOL_INTENTS.items() if pattern.search(text)}
    if "similar_in_stock" in wanted or "compare" in wanted:
        wanted.add("get_product")
    return [t for t in tools if t.name in wanted]


# -- tool arguments ----------------------------------------------------------------------
class SearchArgs(BaseModel):
    query: str = Field(description="what the shopper wants, in words", max_length=200)
    max_price: float | None = Field(None, ge=0)
    min_price: float | None = Field(None, ge=0)
    in_stock: bool | None = None
    category: str | None = Field(None, max_length=60)


class SkuArgs(BaseModel):
    sku: str = Field(max_length=64)


class CompareArgs(BaseModel):
    skus: list[str] = Field(min_length=2, max_length=5)


class AggregateArgs(BaseModel):
    op: Literal["cheapest", "most_expensive", "count", "price_range", "categories"]
    query: str = Field("", description="product words, e.g. 'waterproof jacket'", max_length=100)
    category: str | None = Field(None, max_length=60)
    in_stock: bool | None = None


class OrderArgs(BaseModel):
    order_number: str = Field(description="like #1001", max_length=20)
    email: str = Field(max_length=200)


class ConvertArgs(BaseModel):
    amount: float = Field(ge=0)
    to_currency: str = Field(description="three-letter code, e.g. EUR", min_length=3, max_length=3)


@dataclass
class TurnContext:
    """What one turn has shown and learned, for the verifier and the product events."""

    catalog: Catalog
    store: Store
    vocabulary: Vocabulary
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    amounts: set[Decimal] = field(default_factory=set)
    new_cards: list[dict[str, Any]] = field(default_factory=list)

    def show(self, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for card in cards:
            if card["sku"] not in self.cards:
                self.cards[card["sku"]] = card
                self.new_cards.append(card)
        return cards

    def _category(self, name: str | None) -> list[str]:
        known = {c.lower(): c for c in self.vocabulary.categories}
        if name and name.lower() not in known:
            raise ToolError(f"no category {name!r}; categories: {', '.join(known.values())}")
        return [known[name.lower()]] if name else []

    def tools(self) -> list[Tool]:
        catalog = self.catalog

        async def search_products(args: SearchArgs) -> list[dict]:
            parsed = parse_rules(args.query, self.vocabulary)
            parsed.max_price = args.max_price if args.max_price is not None else parsed.max_price
            parsed.min_price = args.min_price if args.min_price is not None else parsed.min_price
            parsed.in_stock = args.in_stock or parsed.in_stock
            parsed.categories = self._category(args.category) or parsed.categories
            return [_brief(c) for c in self.show(await catalog.search(parsed, limit=5))]

        async def get_product(args: SkuArgs) -> dict:
            product = await catalog.get_product(args.sku)
            if product is None:
                raise ToolError(f"no product with SKU {args.sku}")
            self.show([product])
            return {**_brief(product), "description": product["description"][:400],
                    "attributes": product["attributes"],
                    "variants": [_brief(v) for v in product["variants"]]}  # fmt: skip

        async def compare(args: CompareArgs) -> dict:
            result = await catalog.compare(args.skus)
            self.show(result["products"])
            return {"products": [{**_brief(c), "attributes": c["attributes"]}
                                 for c in result["products"]],
                    "unknown_skus": result["unknown_skus"]}  # fmt: skip

        async def aggregate(args: AggregateArgs) -> dict:
            parsed = ParsedQuery(args.query, in_stock=args.in_stock,
                                 categories=self._category(args.category))  # fmt: skip
            result = await catalog.aggregate(args.op, parsed)
            if isinstance(result.get("products"), list):  # count/price_range: a number
                result["products"] = [_brief(c) for c in self.show(result["products"])]
            self._remember_amounts(result)
            return result

        async def similar_in_stock(args: SkuArgs) -> list[dict]:
            if not await catalog.cards([args.sku]):
                raise ToolError(f"no product with SKU {args.sku}")
            return [_brief(c) for c in self.show(await catalog.similar_in_stock(args.sku))]

        async def order(args: OrderArgs) -> dict:
            try:
                result = await order_status(self.store.integrations.get("orders"),
                                            args.order_number, args.email)  # fmt: skip
            except IntegrationError as exc:
                raise ToolError(str(exc)) from None
            self._remember_amounts(result)
            return result

        async def convert(args: ConvertArgs) -> dict:
            try:
                result = await convert_price(
                    self.store.integrations.get("currency"),
                    args.amount,
                    self.store.currency,
                    args.to_currency,
                )
            except IntegrationError as exc:
                raise ToolError(str(exc)) from None
            self._remember_amounts(result)
            return result

        return [
            Tool("search_products", "Find products by meaning, with optional hard filters.",
                 SearchArgs, search_products),
            Tool("get_product", "Full details and variants of one product by SKU.", SkuArgs,
                 get_product),
            Tool("compare", "Compare 2-5 products by SKU.", CompareArgs, compare),
            Tool("aggregate", "Exact catalogue-wide answers: cheapest, most_expensive, count, "
                 "price_range, categories.", AggregateArgs, aggregate),
            Tool("similar_in_stock", "In-stock alternatives to a product.", SkuArgs,
                 similar_in_stock),
            Tool("order_status", "Status of the shopper's order (needs number and email).",
                 OrderArgs, order),
            Tool("convert_price", "Convert a price to another currency.", ConvertArgs, convert),
        ]  # fmt: skip

    def _remember_amounts(self, value: Any) -> None:
        """Numbers in tool results are true statements the answer may repeat."""
        if isinstance(value, dict):
            for v in value.values():
                self._remember_amounts(v)
        elif isinstance(value, list):
            for v in value:
                self._remember_amounts(v)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.amounts.add(Decimal(str(value)).quantize(Decimal("0.01")))
        elif isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value):
            self.amounts.add(Decimal(value).quantize(Decimal("0.01")))


def _brief(card: dict[str, Any]) -> dict[str, Any]:
    """What the model needs of a product: few tokens."""
    return {"sku": card["sku"], "title": card["title"], "price": card["price"],
            "in_stock": card["in_stock"]}  # fmt: skip


def _fact_line(card: dict[str, Any]) -> str:
    stock = "in stock" if card["in_stock"] else "out of stock"
    return f"- {card['title']}: ${card['price']:,.2f}, {stock}"


def aggregate_intent(text: str) -> AggregateOp | None:
    if _CHEAPEST.search(text):
        return "cheapest"
    if _PRICIEST.search(text):
        return "most_expensive"
    if _COUNT.search(text):
        return "count" if content_words(text) else "categories"
    if _RANGE.search(text):
        return "price_range"
    return None


def exact_answer(op: AggregateOp, result: dict[str, Any], words: str) -> str:
    """A catalogue-wide answer written from the SQL result alone: exact, instant, no model."""
    subject = words or "products"
    if op in ("cheapest", "most_expensive"):
        products = result["products"]
        if not products:
            return f"We don't have any {subject} right now."
        best, *others = products
        adjective = "cheapest" if op == "cheapest" else "most expensive"
        text = f"The {adjective} of our {subject}: the {best['title']} at ${best['price']:,.2f}."
        if not best["in_stock"]:
            text += " It is out of stock at the moment."
        if others:
            listed = " and ".join(f"{c['title']} (${c['price']:,.2f})" for c in others[:2])
            text += f" Next come the {listed}."
        return text
    if op == "count":
        if not result["products"]:
            return f"We don't sell any {subject}."
        return (f"We sell {result['products']} different {subject}, {result['in_stock']} of "
                f"them in stock right now.")  # fmt: skip
    if op == "price_range":
        if not result["products"]:
            return f"We don't sell any {subject}."
        return (f"Our {subject} range from ${result['min_price']:,.2f} to "
                f"${result['max_price']:,.2f} ({result['products']} items, average "
                f"${result['average_price']:,.2f}).")  # fmt: skip
    listed = ", ".join(
        f"{c['category'] or 'other'} ({c['products']})" for c in result["categories"]
    )
    return f"We sell {len(result['categories'])} kinds of products: {listed}."


async def catalogue_facts(
    context: TurnContext, text: str, llm: LLMGateway | None = None
) -> tuple[str, list[dict], str | None]:
    """Facts fetched before the model runs: search results under the parsed filters, and, for
    a catalogue-wide question, its exact answer (returned separately: it needs no model)."""
    parsed = parse_rules(text, context.vocabulary)
    if (
        llm is not None
        and _LOOSE_CONSTRAINT.search(text)
        and not (parsed.max_price or parsed.min_price or parsed.categories)
    ):
        # Numbers or budget words the rules could not place: let the model read them, checked
        # against the store's real categories (it falls back to the rules when unsure).
        parsed = await parse_with_llm(text, context.vocabulary, llm, timeout=5.0)
    lines: list[str] = []
    exact = None
    if op := aggregate_intent(text):
        words = content_words(parsed.text)
        scoped = ParsedQuery(**{**parsed.__dict__, "text": words})
        result = await context.catalog.aggregate(op, scoped)
        context._remember_amounts(result)
        context.show(result.get("products") if isinstance(result.get("products"), list) else [])
        exact = exact_answer(op, result, words)
        lines.append(f"Exact answer: {exact}")
    found = await context.catalog.search(parsed, limit=3)
    context.show(found)
    if found:
        lines.append("Matching products:")
        lines += [_fact_line(c) for c in found]
    else:
        lines.append("No product matches.")
    return "\n".join(lines), found, exact


@dataclass
class Assistant:
    """Runs turns for one app: shared agent client, trace store and queueing."""

    pool: Any
    chunks: Any
    client: Any
    traces: TraceStore
    slots: asyncio.Semaphore
    llm: LLMGateway | None = None
    max_steps: int = 3
    timeout_s: float = 45.0

    async def run_turn(self, store: Store, vocabulary: Vocabulary, session: str, turn: int,
                       text: str) -> None:  # fmt: skip
        emit = _Emitter(self.pool, store.id, session, turn)
        catalog = Catalog(self.pool, self.chunks, store.id)
        refusal = screen_message(text)
        if refusal:
            await emit("delta", text=refusal)
            await emit("done", text=refusal, corrections=[])
            return
        context = TurnContext(catalog, store, vocabulary)
        # A turn answered again after a restart: its cards were already sent, not again.
        for card in await events.turn_products(self.pool, store.id, session, turn):
            context.cards.setdefault(card["sku"], card)
        facts, found, exact = await catalogue_facts(context, text, self.llm)
        await analytics.record_search(self.pool, store.id, session, text, found, "chat")
        if context.new_cards:
            await emit("products", products=context.new_cards)
            context.new_cards = []
        tools = tools_for(text, context.tools())
        if exact and not tools:
            await emit("delta", text=exact)
            await emit("done", text=exact, corrections=[])
            return
        verifier = Verifier(self.pool, store.id)
        history = await events.history(self.pool, store.id, session)
        runner = AgentRunner(
            "shopbot", SYSTEM_PROMPT.format(store=store.name), tools, self.client,
            max_steps=self.max_steps, timeout_s=self.timeout_s,
        )  # fmt: skip
        prompt = f"{text}\n\nCatalogue facts:\n{facts}"
        async with self.slots:  # queue, don't fail, when the LLM is saturated
            try:
                final = await self._stream(runner, history, prompt, context, verifier, emit)
            except AgentError as exc:
                logger.warning("turn failed, falling back to search results: %s", exc)
                await self.traces.save(store.id, session, turn, exc.trace)
                await self._fallback(context, found, emit)
                return
        await self.traces.save(store.id, session, turn, final.trace)

    async def _stream(self, runner, history, prompt, context, verifier, emit) -> Final:
        buffer, corrections, final = "", [], None
        async for event in runner.stream(history, prompt):
            if isinstance(event, TextDelta):
                buffer += event.text
                if _JSON_ANSWER.match(buffer):
                    continue  # possibly a tool call written as text: never stream it
                *complete, buffer = _SENTENCE_END.split(buffer)
                for sentence in complete:
                    await self._emit_sentence(sentence, context, verifier, emit, corrections)
            elif isinstance(event, ToolResult) and context.new_cards:
                await emit("products", products=context.new_cards)
                context.new_cards = []
            elif isinstance(event, Final):
                final = event
        if buffer.strip():
            await self._emit_sentence(buffer, context, verifier, emit, corrections)
        verifier.shown, verifier.allowed = list(context.cards), context.amounts
        if _JSON_ANSWER.match(final.text):
            # A small model sometimes writes a tool call as text: that is no answer.
            raise AgentError("the model answered with JSON instead of text", final.trace)
        checked = await verifier.verify(final.text)
        text = checked.text or "Sorry, I couldn't find a reliable answer to that in our catalogue."
        await emit("done", text=text, corrections=sorted(set(corrections + checked.corrections)))
        return final

    async def _emit_sentence(self, sentence, context, verifier, emit, corrections) -> None:
        verifier.shown, verifier.allowed = list(context.cards), context.amounts
        fixed, notes = await verifier.verify_sentence(sentence.strip())
        corrections += notes
        if fixed:
            await emit("delta", text=fixed + " ")

    async def _fallback(self, context: TurnContext, found: list[dict], emit) -> None:
        await emit("notice", message=FALLBACK_NOTICE)
        if context.new_cards:
            await emit("products", products=context.new_cards)
        lines = [f"{c['title']}: ${c['price']:,.2f}" + ("" if c["in_stock"] else " (out of stock)")
                 for c in found]  # fmt: skip
        text = ("Closest matches: " + "; ".join(lines) + ".") if lines else (
            "I couldn't find matching products.")  # fmt: skip
        await emit("done", text=text, corrections=[])


@dataclass
class _Emitter:
    pool: Any
    store_id: str
    session: str
    turn: int

    async def __call__(self, kind: str, **payload: Any) -> dict[str, Any]:
        return await events.append(self.pool, self.store_id, self.session, self.turn, kind,
                                   payload)  # fmt: skip
