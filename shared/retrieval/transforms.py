"""Query transforms through the LLM gateway. Each is optional and they compose:
HyDE changes the vector used for the vector side; multi-query and step-back add queries whose
results are fused with reciprocal rank fusion."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.models.llm import LLMGateway

HYDE_PROMPT = (
    "Write a short passage (2-3 sentences) that would answer the question below, as it might "
    "appear in a product page or reference text. Do not say you are unsure.\n\nQuestion: {q}"
)
MULTI_QUERY_PROMPT = (
    "Rewrite the search query below in {n} different ways, using different words a person "
    "might use for the same need. Keep each rewrite under 15 words.\n\nQuery: {q}"
)
STEP_BACK_PROMPT = (
    "Write one more general question behind the question below: the broader topic a searcher "
    "should read about first. Keep it under 15 words.\n\nQuestion: {q}"
)


class _Rewrites(BaseModel):
    queries: list[str] = Field(min_length=1, max_length=5)


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
        _Rewrites,
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


async def step_back(llm: LLMGateway, query: str) -> str:
    answer = await llm.json(
        [{"role": "user", "content": STEP_BACK_PROMPT.format(q=query)}], _StepBack, max_tokens=60
    )
    return answer.question.strip()
