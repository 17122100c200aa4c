"""Where GitHub lets a review comment land.

GitHub accepts a comment on a line of the diff, on the side where that line appears: RIGHT for
added and context lines (numbered in the new file), LEFT for removed lines (numbered in the old
file). A multi-line comment must stay within one hunk. ``commentable`` turns a file's patch into
that map; everything the analysis says is checked against it before it leaves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from unidiff import LINE_TYPE_ADDED, LINE_TYPE_CONTEXT, LINE_TYPE_REMOVED, PatchSet
from unidiff.errors import UnidiffParseError

from services.reviewer.model import FileChange, Finding, Side

_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.MULTILINE)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "+", "-" or " "
    old: int | None  # line number in the old file (None for added lines)
    new: int | None  # line number in the new file (None for removed lines)
    text: str  # without the trailing newline


@dataclass(frozen=True)
class Hunk:
    index: int
    old_start: int
    old_length: int
    new_start: int
    new_length: int
    header: str  # the text after the second "@@" (often the enclosing function)
    lines: tuple[DiffLine, ...]
    no_newline_at_end: bool = False  # the new file lacks a final newline here

    @property
    def right(self) -> frozenset[int]:
        return frozenset(ln.new for ln in self.lines if ln.new is not None)

    @property
    def left(self) -> frozenset[int]:
        return frozenset(ln.old for ln in self.lines if ln.kind == "-" and ln.old is not None)

    @property
    def added(self) -> frozenset[int]:
        return frozenset(ln.new for ln in self.lines if ln.kind == "+" and ln.new is not None)

    @property
    def new_end(self) -> int:
        return self.new_start + max(self.new_length, 1) - 1

    @property
    def old_end(self) -> int:
        return self.old_start + max(self.old_length, 1) - 1

    def lines_on(self, side: Side) -> frozenset[int]:
        return self.right if side == "RIGHT" else self.left

    def span(self, side: Side) -> tuple[int, int]:
        """First and last line number this hunk covers on ``side``."""
        if side == "RIGHT":
            return self.new_start, self.new_end
        return self.old_start, self.old_end


@dataclass(frozen=True)
class DiffMap:
    """The commentable lines of one file."""

    path: str
    hunks: tuple[Hunk, ...] = ()
    previous_path: str | None = None
    skipped: str | None = None  # why there is nothing to comment on (binary, no patch, ...)
    _right: frozenset[int] = field(default=frozenset(), repr=False)
    _left: frozenset[int] = field(default=frozenset(), repr=False)
    _added: frozenset[int] = field(default=frozenset(), repr=False)

    @classmethod
    def build(cls, path: str, hunks: Iterable[Hunk], previous_path: str | None = None) -> DiffMap:
        hunks = tuple(hunks)
        right: set[int] = set()
        left: set[int] = set()
        added: set[int] = set()
        for hunk in hunks:
            right |= hunk.right
            left |= hunk.left
            added |= hunk.added
        return cls(path, hunks, previous_path, None, frozenset(right), frozenset(left),
                   frozenset(added))  # fmt: skip

    @property
    def right(self) -> frozenset[int]:
        return self._right

    @property
    def left(self) -> frozenset[int]:
        return self._left

    @property
    def added(self) -> frozenset[int]:
        """New-file lines this change adds (what linters' findings are filtered to)."""
        return self._added

    def lines_on(self, side: Side) -> frozenset[int]:
        return self._right if side == "RIGHT" else self._left

    def hunk_at(self, line: int, side: Side, *, slack: int = 0) -> Hunk | None:
        """The hunk whose span on ``side`` holds ``line`` (widened by ``slack`` lines)."""
        best: tuple[int, Hunk] | None = None
        for hunk in self.hunks:
            start, end = hunk.span(side)
            if side == "LEFT" and not hunk.left:
                continue
            distance = 0 if start <= line <= end else min(abs(line - start), abs(line - end))
            if distance <= slack and (best is None or distance < best[0]):
                best = (distance, hunk)
        return best[1] if best else None

    def is_commentable(self, line: int, side: Side) -> bool:
        return line in self.lines_on(side)


def _wrap(path: str, patch: str) -> str:
    if patch.lstrip().startswith(("---", "diff ")):
        return patch
    # GitHub's "patch" field is the hunks alone; unidiff wants file headers.
    return f"--- a/{path}\n+++ b/{path}\n{patch if patch.endswith(chr(10)) else patch + chr(10)}"


def parse_hunks(path: str, patch: str) -> tuple[Hunk, ...]:
    """The hunks of one file's patch. Raises ``ValueError`` on a patch that does not parse."""
    try:
        patch_set = PatchSet(_wrap(path, patch))
    except UnidiffParseError as exc:
        raise ValueError(f"unreadable patch for {path}: {exc}") from exc
    hunks: list[Hunk] = []
    for patched in patch_set:
        for hunk in patched:
            lines: list[DiffLine] = []
            no_newline = False
            for line in hunk:
                if line.line_type == LINE_TYPE_ADDED:
                    kind = "+"
                elif line.line_type == LINE_TYPE_REMOVED:
                    kind = "-"
                elif line.line_type == LINE_TYPE_CONTEXT:
                    kind = " "
                else:  # "\ No newline at end of file" refers to the line before it
                    if lines and lines[-1].kind != "-":
                        no_newline = True
                    continue
                lines.append(DiffLine(kind, line.source_line_no, line.target_line_no,
                                      line.value.rstrip("\n").rstrip("\r")))  # fmt: skip
            hunks.append(
                Hunk(
                    index=len(hunks),
                    old_start=hunk.source_start,
                    old_length=hunk.source_length,
                    new_start=hunk.target_start,
                    new_length=hunk.target_length,
                    header=(hunk.section_header or "").strip(),
                    lines=tuple(lines),
                    no_newline_at_end=no_newline,
                )
            )
    return tuple(hunks)


def commentable(file: FileChange) -> DiffMap:
    """The map of lines GitHub accepts comments on for ``file``; ``skipped`` says why empty."""
    if file.patch is None:
        reason = "no patch (binary file, or too large for GitHub to show)"
        return DiffMap(file.path, previous_path=file.previous_path, skipped=reason)
    if not file.patch.strip() or not _HUNK_HEADER.search(file.patch):
        reason = "no content change" + (" (pure rename)" if file.previous_path else "")
        if "Binary files" in file.patch or "GIT binary patch" in file.patch:
            reason = "binary file"
        return DiffMap(file.path, previous_path=file.previous_path, skipped=reason)
    try:
        hunks = parse_hunks(file.path, file.patch)
    except ValueError as exc:
        return DiffMap(file.path, previous_path=file.previous_path, skipped=str(exc))
    return DiffMap.build(file.path, hunks, file.previous_path)


def nearest_valid(
    diffmap: DiffMap,
    line: int,
    side: Side = "RIGHT",
    *,
    slack: int = 0,
    added_only: bool = False,
    max_distance: int | None = None,
    hunks: Iterable[int] | None = None,
) -> int | None:
    """Move ``line`` to the nearest commentable line of the same hunk, or None.

    The hunk is the one whose span holds ``line`` (or lies within ``slack`` lines of it).
    ``added_only`` keeps RIGHT comments on added lines; ``max_distance`` bounds the move;
    ``hunks`` (indexes) restricts which hunks may take the comment. Ties go to the later line,
    which is where GitHub anchors a range.
    """
    hunk = diffmap.hunk_at(line, side, slack=slack)
    if hunk is None or (hunks is not None and hunk.index not in set(hunks)):
        return None
    candidates = hunk.added if added_only and side == "RIGHT" else hunk.lines_on(side)
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (abs(c - line), -c))
    if max_distance is not None and abs(best - line) > max_distance:
        return None
    return best


def is_valid(finding: Finding, diffmaps: Mapping[str, DiffMap] | DiffMap) -> bool:
    """Whether GitHub would accept ``finding`` as a review comment on this diff."""
    diffmap = diffmaps if isinstance(diffmaps, DiffMap) else diffmaps.get(finding.path)
    if diffmap is None or diffmap.path != finding.path or diffmap.skipped:
        return False
    if finding.side not in ("LEFT", "RIGHT") or not diffmap.is_commentable(
        finding.line, finding.side
    ):
        return False
    if finding.start_line is None or finding.start_line == finding.line:
        return True
    if finding.start_line > finding.line:
        return False
    hunk = diffmap.hunk_at(finding.line, finding.side)
    lines = hunk.lines_on(finding.side) if hunk else frozenset()
    return all(n in lines for n in range(finding.start_line, finding.line + 1))


# -- whole diffs (the CLI's input) --------------------------------------------------------------


def parse_unified_diff(text: str) -> list[FileChange]:
    """Split a ``git diff`` / ``git format-patch`` / plain unified diff into FileChanges (no
    contents yet). Binary files come back with ``patch=None``."""
    try:
        patch_set = PatchSet(text)
    except UnidiffParseError as exc:
        raise ValueError(f"not a unified diff: {exc}") from exc
    files: list[FileChange] = []
    for patched in patch_set:
        path = _strip_prefix(patched.target_file if not patched.is_removed_file
                             else patched.source_file)  # fmt: skip
        previous = _strip_prefix(patched.source_file) if patched.is_rename else None
        if patched.is_binary_file:
            patch: str | None = None
        else:
            patch = "".join(str(h) for h in patched)
        if patched.is_added_file:
            status = "added"
        elif patched.is_removed_file:
            status = "removed"
        elif patched.is_rename:
            status = "renamed"
        else:
            status = "modified"
        files.append(
            FileChange(
                path=path,
                status=status,  # type: ignore[arg-type]
                patch=patch,
                previous_path=previous,
                additions=patched.added,
                deletions=patched.removed,
            )
        )
    return files


def _strip_prefix(name: str) -> str:
    name = name.strip()
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def apply_patch(base: str, patch: str, path: str = "file") -> str | None:
    """The new file from ``base`` and its patch, or None if the patch does not fit ``base``."""
    base_lines = base.splitlines()
    out: list[str] = []
    cursor = 0  # index into base_lines
    hunks = parse_hunks(path, patch)
    for hunk in hunks:
        start = hunk.old_start - 1 if hunk.old_length else hunk.old_start
        if start < cursor or start > len(base_lines):
            return None
        out.extend(base_lines[cursor:start])
        cursor = start
        for ln in hunk.lines:
            if ln.kind in (" ", "-"):
                if cursor >= len(base_lines) or base_lines[cursor] != ln.text:
                    return None
                cursor += 1
            if ln.kind in (" ", "+"):
                out.append(ln.text)
    trailing = base_lines[cursor:]
    out.extend(trailing)
    if not out:
        return ""
    newline = base.endswith("\n") if trailing else not (hunks and hunks[-1].no_newline_at_end)
    return "\n".join(out) + ("\n" if newline else "")


def reconstruct_added(patch: str, path: str = "file") -> str | None:
    """A newly added file's text from its patch alone (every line is an added line)."""
    hunks = parse_hunks(path, patch)
    if len(hunks) != 1 or hunks[0].old_length != 0:
        return None
    text = "\n".join(ln.text for ln in hunks[0].lines if ln.kind == "+")
    return text if hunks[0].no_newline_at_end else text + "\n"


def matches_new_side(text: str, diffmap: DiffMap) -> bool:
    """Whether ``text`` is the new file this patch produces (its added and context lines sit
    at their new line numbers)."""
    lines = text.splitlines()
    for hunk in diffmap.hunks:
        for ln in hunk.lines:
            if ln.new is not None and (ln.new > len(lines) or lines[ln.new - 1] != ln.text):
                return False
    return True
