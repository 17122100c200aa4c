"""Query transforms through the LLM gateway. Each is optional and they compose:
HyDE changes the vector used for the vector side; multi-query and step-back add queries whose
results are fused with reciprocal rank fusion."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, create_model

from shared.models.llm import LLMGateway

HYDE_PROMPT = (
    "Write a short passage (2-3 sentences) that would answer the question below, as it might "
    "appear in a product page or reference text. Do not say you are unsure.\n\nQuestion: {q}"
)
MULTI_QUERY_PROMPT = (
    "Write {n} alternative search queries for the query below. Each must use different words "
    "(synonyms, related terms) for the same need, and be under 15 words. Example: for "
    '"cheap laptop bag" write "affordable notebook sleeve", "budget computer case".\n\n'
    "Query: {q}"
)
STEP_BACK_PROMPT = (
    "Write one more general question behind the question below: the broader topic a searcher "
    'should read about first. Keep it under 15 words. Example: for "Does the Nikon Z50 have '
    'image stabilisation?" write "What features do mirrorless cameras have?"\n\n'
    "Question: {q}"
)


def _rewrites_schema(n: int) -> type[BaseModel]:
    # An exact item count in the schema makes the grammar produce all n rewrites.
    return create_model(
        "Rewrites", queries=(list[Annotated[str, Field(max_length=120)]],
                             Field(min_length=n, max_length=n)),
    )  # fmt: skip


class _StepBack(BaseModel):
    question: str = Field(max_length=160)


async def hyde(llm: LLMGateway, query: str, max_tokens: int = 120) -> str:
    """A hypothetical answer passage; embedding it lands nearer real answers than the query."""
    result = await llm.chat(
        [{"role": "user", "content": HYDE_PROMPT.format(q=query)}],
        max_tokens=max_tokens,
        temperature=0.0,
    )
    return result.text.strip() or query


async def multi_query(llm: LLMGateway, query: str, n: int = 3) -> list[str]:
    answer = await llm.json(
        [{"role": "user", "content": MULTI_QUERY_PROMPT.format(q=query, n=n)}],
        _rewrites_schema(n),
        max_tokens=40 * n + 20,
    )
    seen = {query.strip().lower()}
    rewrites = []
    for rewrite in answer.queries:
        text = rewrite.strip()[:200]
        if text and text.lower() not in seen:
            seen.add(text.lower())
            rewrites.append(text)
    return rewrites[:n]


async def step_back(llm: LLMGateway, query: str) -> str | None:
    """A broader question, or None when the model only echoed the query back (small models
    often do; searching the same text twice would add nothing)."""
    answer = await llm.json(
        [{"role": "user", "content": STEP_BACK_PROMPT.format(q=query)}], _StepBack, max_tokens=60
    )
    general = answer.question.strip()
    return general if general and general.lower().rstrip("?") != query.lower().rstrip("?") else None
