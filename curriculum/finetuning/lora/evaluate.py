"""Held-out evaluation through the services' own client: each GGUF is served by the embedded
llama.cpp, and every example is asked the way its service asks it (the reviewer and the
repurposer through ``LLMGateway.json`` with their pydantic schema, greedy; the shopbot as a
free answer at temperature 0). Then the task metrics."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curriculum.finetuning.lora.data import Example
from services.repurposer.quotes import tokens
from services.repurposer.writing import SPECS
from services.reviewer.analysis.llm_review import LLMReview
from shared.config import Settings
from shared.models.llama_server import EmbeddedLLMServer, ServerOptions
from shared.models.llm import LLMError, LLMGateway

SCHEMAS = {"LLMReview": LLMReview, **{s.schema.__name__: s.schema for s in SPECS.values()}}
_PRICE = re.compile(r"\$\d[\d,]*(?:\.\d\d)?")
_REFUSAL = re.compile(r"\b(sorry|don't|do not|doesn't|no\b|not\b|unfortunately)", re.I)


@dataclass
class Answer:
    example: Example
    text: str = ""
    data: dict[str, Any] | None = None  # the validated JSON, for schema tasks
    error: str | None = None


@dataclass
class Scores:
    """Per task: JSON/format validity and the task's own metric."""

    values: dict[str, float] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)


async def _ask(gateway: LLMGateway, example: Example, max_tokens: int | None) -> Answer:
    answer = Answer(example)
    try:
        if example.schema:
            schema = SCHEMAS[example.schema]
            limit = 600 if example.task == "reviewer" else SPECS[example.meta["kind"]].max_tokens
            result = await gateway.json(example.messages, schema, max_tokens=max_tokens or limit)
            answer.data = result.model_dump()
            answer.text = json.dumps(answer.data)
        else:
            result = await gateway.chat(example.messages, max_tokens=max_tokens or 150,
                                        temperature=0.0)  # fmt: skip
            answer.text = result.text.strip()
            if result.finish_reason == "length":
                answer.error = "hit max_tokens"
    except LLMError as exc:
        answer.error = str(exc)[:200]
    return answer


def answer_all(
    gguf: Path, examples: list[Example], settings: Settings, *, max_tokens: int | None = None,
    on_answer: Callable[[], None] = lambda: None,
) -> list[Answer]:  # fmt: skip
    """Serve ``gguf`` with the embedded llama.cpp and ask every example, one at a time."""
    logs = settings.data_home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = EmbeddedLLMServer(
        ServerOptions(model_path=gguf, ctx=4096, parallel=1, threads=2, alias="eval"),
        log_file=logs / "llm-lora-eval.log",
    )
    url = server.start()
    try:
        gateway = LLMGateway(settings.model_copy(update={"llm_base_url": url,
                                                         "llm_model": "eval"}))  # fmt: skip

        async def run() -> list[Answer]:
            out = []
            for example in examples:
                out.append(await _ask(gateway, example, max_tokens))
                on_answer()
            await gateway.aclose()
            return out

        return asyncio.run(run())
    finally:
        server.stop()


def _words(text: str) -> str:
    return " ".join(tokens(text))


def score(answers: list[Answer]) -> dict[str, float]:
    """Validity per task, reviewer line hits and quiet-on-clean, repurposer verbatim quotes,
    shopbot exact product names with their prices and no invented price."""
    by_task: dict[str, list[Answer]] = {}
    for a in answers:
        by_task.setdefault(a.example.task, []).append(a)
    out: dict[str, float] = {}
    for task, group in by_task.items():
        valid = [a for a in group if a.error is None and (a.data is not None or a.text)]
        out[f"{task}_valid"] = len(valid) / len(group)
    reviews = by_task.get("reviewer", [])
    buggy = [a for a in reviews if a.example.meta["line"] is not None]
    clean = [a for a in reviews if a.example.meta["line"] is None]
    if buggy:
        out["reviewer_line_hit"] = sum(_hits(a) for a in buggy) / len(buggy)
        out["reviewer_line_and_category_hit"] = sum(_hits(a, True) for a in buggy) / len(buggy)
        out["reviewer_line_pinpointed"] = sum(_hits(a, span=PINPOINT) for a in buggy) / len(buggy)
    if clean:
        quiet = [a for a in clean if a.data is not None and not a.data["comments"]]
        out["reviewer_quiet_on_clean"] = len(quiet) / len(clean)
    letters = [a for a in by_task.get("repurposer", []) if a.example.meta["kind"] == "newsletter"]
    if letters:
        verbatim = [a for a in letters if a.data and _words(a.data["quote"]) and
                    _words(a.data["quote"]) in _words(a.example.meta["transcript"])]  # fmt: skip
        out["repurposer_quote_verbatim"] = len(verbatim) / len(letters)
    shop = by_task.get("shopbot", [])
    if shop:
        out["shopbot_grounded_citation"] = sum(_cited(a) for a in shop) / len(shop)
        invented = [a for a in shop if set(_PRICE.findall(a.text))
                    - set(a.example.meta["allowed_prices"])]  # fmt: skip
        out["shopbot_invented_price"] = len(invented) / len(shop)
    return out


# A line hit only asks that a comment's range covers the bug (±1), so a comment spanning the
# whole 7-line hunk counts; "pinpointed" also asks for a range of at most 3 lines.
PINPOINT = 3


def _hits(answer: Answer, category: bool = False, span: int | None = None) -> bool:
    line = answer.example.meta["line"]
    for comment in (answer.data or {}).get("comments", []):
        lo, hi = sorted((comment["line_start"], comment["line_end"]))
        if span is not None and hi - lo + 1 > span:
            continue
        if lo - 1 <= line <= hi + 1 and (
            not category or comment["category"] == answer.example.meta["category"]
        ):
            return True
    return False


def _cited(answer: Answer) -> bool:
    """Every product the answer should name is named exactly, with its catalogue price; a
    question about something the store lacks is answered with a refusal and no price."""
    meta, text = answer.example.meta, answer.text
    if not text:
        return False
    if meta["mode"] == "absent":
        return bool(_REFUSAL.search(text)) and not _PRICE.search(text)
    return all(title in text for title in meta["cited"]) and all(
        price in text for price in meta["prices"]
    )
