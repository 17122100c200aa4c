"""The reviewer's vocabulary, shared by analysis (what is wrong) and publishing (where to say it).

A ``Finding`` always points at a line GitHub accepts for a review comment: a line of the diff,
on the side where it appears (``RIGHT`` for added or context lines of the new file, ``LEFT``
for removed lines). Analysis produces findings; publishing never has to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

Side = Literal["LEFT", "RIGHT"]
Category = Literal["bug", "security", "style", "performance", "maintainability", "secret"]
Source = Literal["llm", "ruff", "bandit", "detect-secrets", "semgrep"]


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name.strip().upper()]


@dataclass(frozen=True)
class FileChange:
    """One file of a pull request, as GitHub's "list pull request files" describes it, plus
    its contents at the base and head commits when they are text (None when deleted/added,
    binary, or too large to fetch)."""

    path: str
    status: Literal["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]
    patch: str | None  # the unified-diff hunks; GitHub omits it for binary or huge files
    previous_path: str | None = None
    additions: int = 0
    deletions: int = 0
    head_text: str | None = None
    base_text: str | None = None


@dataclass(frozen=True)
class Finding:
    path: str
    line: int  # last line of the range, in the file on ``side``
    side: Side
    severity: Severity
    category: Category
    message: str
    source: Source
    start_line: int | None = None  # first line of a multi-line range (same side)
    suggestion: str | None = None  # replacement text for lines start_line..line, if known
    rule: str | None = None  # e.g. "B602", "F401"
    score: float | None = None  # self-reflection score 0-10 (LLM findings)

    @property
    def key(self) -> tuple[str, int, str, str]:
        """Identity for de-duplication across passes and pushes."""
        return (self.path, self.line, self.side, self.message.strip().lower()[:120])


@dataclass
class ReviewReport:
    findings: list[Finding] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)  # paths fully reviewed
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason ("binary", ...)
    partial: dict[str, str] = field(default_factory=dict)  # path -> what was left out
    notes: list[str] = field(default_factory=list)  # plain statements for the summary
