"""What surrounds a hunk: the enclosing function or class in the head file, within a budget.

A hunk alone often hides the bug (the ``None`` check is three lines above it, the loop bound
is in the signature). For Python the enclosing scope comes from ``ast`` line ranges; for other
languages, or code that does not parse, a window of surrounding lines. Either way the text is
cut to a token budget, keeping the signature and the lines nearest the change.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable
from dataclasses import dataclass

CHARS_PER_TOKEN = 3.5  # a deliberate over-estimate for code: better short than overflowing
_LINE_OVERHEAD = 9  # the "12345  | " prefix


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Context:
    label: str  # e.g. "enclosing function `load` (lines 10-48)"
    lines: tuple[tuple[int, str], ...]  # (new-file line number, text), ascending
    truncated: bool = False

    def render(self, skip: Iterable[int] = ()) -> str:
        """Numbered lines, with ``...`` for gaps; ``skip`` leaves out lines shown elsewhere
        (the hunk itself)."""
        skipped = set(skip)
        out: list[str] = []
        previous: int | None = None
        for number, text in self.lines:
            if number in skipped:
                continue
            if previous is not None and number != previous + 1:
                out.append("  ...")
            out.append(f"{number:>5}  | {text}")
            previous = number
        return "\n".join(out)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.render())


def _scopes(tree: ast.AST) -> list[tuple[int, int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found.append((start, node.end_lineno or node.lineno, f"{kind} `{node.name}`"))
    return found


def enclosing_scope(text: str, start: int, end: int) -> tuple[int, int, str] | None:
    """The innermost Python function/class holding lines ``start..end`` (or, failing that,
    holding ``start``), as (first line, last line, label); None outside any or unparseable."""
    try:
        scopes = _scopes(ast.parse(text))
    except (SyntaxError, ValueError):
        return None
    best: tuple[int, int, str] | None = None
    for s, e, label in scopes:
        if s <= start and end <= e and (best is None or e - s < best[1] - best[0]):
            best = (s, e, label)
    if best is None:
        for s, e, label in scopes:
            if s <= start <= e and (best is None or e - s < best[1] - best[0]):
                best = (s, e, label)
    return best


def enclosing_context(
    head_text: str | None,
    path: str,
    start: int,
    end: int,
    *,
    max_tokens: int = 500,
    window: int = 20,
) -> Context | None:
    """The code around new-file lines ``start..end`` of ``path``, at most ``max_tokens``.

    None when there is no head text or the budget allows nothing useful.
    """
    if not head_text or max_tokens < 20:
        return None
    lines = head_text.splitlines()
    if not lines:
        return None
    start = max(1, min(start, len(lines)))
    end = max(start, min(end, len(lines)))
    scope = enclosing_scope(head_text, start, end) if path.endswith((".py", ".pyi")) else None
    if scope is not None:
        s, e, label = scope
        label = f"enclosing {label} (lines {s}-{e})"
        keep = [s]  # the signature, always
    else:
        s, e = max(1, start - window), min(len(lines), end + window)
        label = f"lines {s}-{e} around the change"
        keep = []
    budget = int(max_tokens * CHARS_PER_TOKEN)
    cost = {n: len(lines[n - 1]) + _LINE_OVERHEAD for n in range(s, e + 1)}
    if sum(cost.values()) <= budget:
        return Context(label, tuple((n, lines[n - 1]) for n in range(s, e + 1)))
    # Too long: the signature, then lines growing outwards from the change.
    chosen: set[int] = set()
    used = 0
    for n in keep:
        chosen.add(n)
        used += cost[n]
    lo, hi = start, start - 1
    while True:
        grew = False
        for n in (hi + 1, lo - 1) if hi < end else (lo - 1, hi + 1):
            if s <= n <= e and n not in chosen and used + cost[n] <= budget:
                chosen.add(n)
                used += cost[n]
                lo, hi = min(lo, n), max(hi, n)
                grew = True
        if not grew:
            break
    if not chosen:
        return None
    return Context(label, tuple((n, lines[n - 1]) for n in sorted(chosen)), truncated=True)
