"""Which lines of a pull request GitHub accepts review comments on.

GitHub's "list pull request files" gives each file's ``patch``: unified-diff hunks without
file headers. A review comment must name a line of one hunk, on the side where it appears:
``RIGHT`` for added and context lines (numbered in the new file), ``LEFT`` for removed and
context lines (numbered in the old file). A multi-line comment must start and end in the
same hunk, on the same side. Anything else is refused with 422, so findings are checked here
before they are posted, never after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.reviewer.model import Side

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class DiffLine:
    hunk: int
    kind: str  # "+", "-" or " "
    text: str


@dataclass
class PatchMap:
    """The commentable lines of one file's patch, per side."""

    lines: dict[tuple[Side, int], DiffLine] = field(default_factory=dict)
    hunks: int = 0
    added: int = 0
    removed: int = 0

    @classmethod
    def parse(cls, patch: str | None) -> PatchMap:
        result = cls()
        if not patch:
            return result
        old = new = 0
        hunk = -1
        for raw in patch.splitlines():
            match = _HUNK.match(raw)
            if match:
                hunk += 1
                old, new = int(match[1]), int(match[3])
                continue
            if hunk < 0 or raw.startswith("\\"):  # "\ No newline at end of file"
                continue
            kind, text = (raw[:1] or " "), raw[1:]
            if kind == "+":
                result.lines[("RIGHT", new)] = DiffLine(hunk, "+", text)
                result.added += 1
                new += 1
            elif kind == "-":
                result.lines[("LEFT", old)] = DiffLine(hunk, "-", text)
                result.removed += 1
                old += 1
            else:
                context = DiffLine(hunk, " ", text)
                result.lines[("RIGHT", new)] = context
                result.lines[("LEFT", old)] = context
                old += 1
                new += 1
        result.hunks = hunk + 1
        return result

    def get(self, side: Side, line: int) -> DiffLine | None:
        return self.lines.get((side, line))

    def accepts(self, side: Side, line: int, start_line: int | None = None) -> bool:
        """Would GitHub accept a comment on ``line`` (from ``start_line``) on ``side``?"""
        end = self.get(side, line)
        if end is None:
            return False
        if start_line is None or start_line == line:
            return True
        start = self.get(side, start_line)
        return start is not None and start_line < line and start.hunk == end.hunk

    def text(self, side: Side, first: int, last: int) -> str:
        """The diff's text of lines ``first..last`` on ``side`` (missing lines skipped)."""
        found = (self.get(side, n) for n in range(first, last + 1))
        return "\n".join(line.text for line in found if line is not None)

    @property
    def changed(self) -> int:
        return self.added + self.removed
