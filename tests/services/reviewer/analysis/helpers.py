"""Helpers for the review engine's tests: real diffs from real git, and a scripted LLM."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from services.reviewer.evalset import make_patch
from services.reviewer.model import FileChange
from shared.models.llm import TokenUsage


def change(path: str, before: str | None, after: str | None) -> FileChange:
    """A FileChange as GitHub describes it, with a real unified diff of before -> after."""
    status = "added" if before is None else "removed" if after is None else "modified"
    patch = make_patch(before or "", after or "")
    return FileChange(path=path, status=status, patch=patch, head_text=after, base_text=before)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


class ScriptedLLM:
    """Stands in for LLMGateway where the test is about what the engine does with answers.

    ``answer(messages, schema)`` returns the parsed schema instance (or raises); every call is
    recorded, and usage grows by an estimate of the prompt, as the real gateway's does.
    """

    def __init__(
        self,
        answer: Callable[[Sequence[dict[str, Any]], Any], Any],
        *,
        tokens_per_call: int | None = None,
        healthy: bool = True,
        delay: float = 0.0,
    ) -> None:
        self.answer = answer
        self.calls: list[tuple[list[dict[str, Any]], str]] = []
        self.usage = TokenUsage()
        self.tokens_per_call = tokens_per_call
        self.healthy = healthy
        self.delay = delay

    async def health(self) -> None:
        if not self.healthy:
            raise ConnectionError("connection refused")

    async def json(self, messages, schema, *, max_tokens: int = 512, timeout=None):
        self.calls.append((list(messages), schema.__name__))
        if self.delay:
            await asyncio.sleep(self.delay)
        prompt = sum(len(m["content"]) for m in messages) // 4
        self.usage.requests += 1
        self.usage.prompt_tokens += self.tokens_per_call or prompt
        self.usage.completion_tokens += 50
        return self.answer(messages, schema)

    def prompts(self, schema_name: str = "LLMReview") -> list[str]:
        return [m[-1]["content"] for m, name in self.calls if name == schema_name]
