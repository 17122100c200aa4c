"""How a generation is scored against the gold answer (the tasks' ``process_results``).

Two numbers per example: ``exact_match`` (the whole reply, normalised, is the answer) and
``contains`` (the answer appears in the reply as whole words). Small chat models wrap
answers in sentences ("The answer is Warsaw.") or Jeopardy's "What is ...?", which exact
match punishes; a reply listing several guesses would cheat ``contains``, so both are shown.
"""

from __future__ import annotations

import ast
import re

from shared.retrieval.evalsets.jeopardy import normalise_answer

JEOPARDY_FORM = re.compile(r"^(what|who|where|when) (is|are|was|were) ")
FENCE = re.compile(r"^```\w*\s*|\s*```$")


def first_line(reply: str) -> str:
    lines = [line for line in FENCE.sub("", reply.strip()).splitlines() if line.strip()]
    return lines[0].strip().strip("`").strip() if lines else ""


def _text_scores(reply: str, gold: str) -> dict[str, int]:
    said, want = normalise_answer(first_line(reply)), normalise_answer(gold)
    said = JEOPARDY_FORM.sub("", said)
    said = re.sub(r"^(the|a|an) ", "", said)
    everywhere = f" {normalise_answer(reply)} "
    return {"exact_match": int(said == want), "contains": int(f" {want} " in everywhere)}


def jeopardy(doc: dict, results: list[str]) -> dict[str, int]:
    return _text_scores(results[0], doc["answer"])


def titanic(doc: dict, results: list[str]) -> dict[str, int]:
    return _text_scores(results[0], doc["answer"])


def _value(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _has_token(text: str, needle: str) -> bool:
    """``needle`` in ``text`` not glued to letters or digits ("1" is not inside "12")."""
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text) is not None


def python_output(doc: dict, results: list[str]) -> dict[str, int]:
    """Equal as Python values (so "[0, 3]" and "[0,3]", 'ab' and "ab" agree); a bare word
    without quotes counts for a string answer too."""
    gold = ast.literal_eval(doc["answer"])
    reply = first_line(results[0])
    exact = _value(reply) == gold or (isinstance(gold, str) and reply == gold)
    forms = {doc["answer"], str(gold)}
    inside = exact or any(_has_token(results[0], form) for form in forms)
    return {"exact_match": int(exact), "contains": int(inside)}
