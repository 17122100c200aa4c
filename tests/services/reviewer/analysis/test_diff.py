"""Commentable lines from real diffs: multi-hunk, rename, deletion, binary, no newline."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.reviewer.analysis.diff import (
    apply_patch,
    commentable,
    is_valid,
    matches_new_side,
    nearest_valid,
    parse_unified_diff,
    reconstruct_added,
)
from services.reviewer.model import FileChange, Finding, Severity
from tests.services.reviewer.analysis.helpers import change, commit_all, git

BASE = "".join(f"line {n}\n" for n in range(1, 61))


def finding(path: str, line: int, side: str = "RIGHT", start: int | None = None) -> Finding:
    return Finding(path=path, line=line, side=side, severity=Severity.LOW, category="bug",
                   message="x", source="llm", start_line=start)  # fmt: skip


@pytest.fixture
def multi_hunk() -> FileChange:
    lines = BASE.splitlines(keepends=True)
    lines[4] = "line 5 changed\n"  # hunk 1: replace line 5
    lines[49:50] = ["line 50 a\n", "line 50 b\n"]  # hunk 2: line 50 becomes two lines
    return change("pkg/mod.py", BASE, "".join(lines))


def test_multi_hunk_lines_sides_and_hunks(multi_hunk: FileChange) -> None:
    m = commentable(multi_hunk)
    assert m.skipped is None
    assert len(m.hunks) == 2
    first, second = m.hunks
    # Hunk 1: context 2-4, old 5 removed, new 5 added, context 6-8.
    assert first.right == frozenset(range(2, 9))
    assert first.left == {5}
    assert first.added == {5}
    # Hunk 2: new lines 47-54 (50 and 51 added); old line 50 removed.
    assert second.right == frozenset(range(47, 55))
    assert second.added == {50, 51}
    assert second.left == {50}
    assert m.added == {5, 50, 51}
    assert m.is_commentable(5, "LEFT") and not m.is_commentable(6, "LEFT")
    assert not m.is_commentable(20, "RIGHT")


def test_nearest_valid_stays_in_the_hunk(multi_hunk: FileChange) -> None:
    m = commentable(multi_hunk)
    assert nearest_valid(m, 5, "RIGHT") == 5
    assert nearest_valid(m, 7, "RIGHT") == 7  # context lines take RIGHT comments
    assert nearest_valid(m, 7, "RIGHT", added_only=True) == 5
    assert nearest_valid(m, 53, "RIGHT", added_only=True) == 51
    assert nearest_valid(m, 20, "RIGHT") is None  # between hunks: no hunk holds it
    assert nearest_valid(m, 10, "RIGHT", slack=2) == 8  # just past hunk 1's end
    assert nearest_valid(m, 7, "LEFT") == 5  # the only removed line of hunk 1
    assert nearest_valid(m, 7, "RIGHT", added_only=True, max_distance=1) is None
    assert nearest_valid(m, 50, "RIGHT", hunks={0}) is None  # hunk 2 not allowed


def test_is_valid_checks_line_side_and_ranges(multi_hunk: FileChange) -> None:
    m = commentable(multi_hunk)
    maps = {m.path: m}
    assert is_valid(finding("pkg/mod.py", 5), maps)
    assert is_valid(finding("pkg/mod.py", 5, "LEFT"), maps)
    assert not is_valid(finding("pkg/mod.py", 6, "LEFT"), maps)
    assert not is_valid(finding("pkg/mod.py", 30), maps)
    assert not is_valid(finding("other.py", 5), maps)
    assert is_valid(finding("pkg/mod.py", 51, start=49), maps)
    assert not is_valid(finding("pkg/mod.py", 50, start=5), maps)  # spans two hunks
    assert not is_valid(finding("pkg/mod.py", 5, start=7), maps)  # start after end


@pytest.fixture
def real_diff(git_repo: Path) -> list[FileChange]:
    """One real `git diff -M` with a modified file, a rename with edits, a deletion, a binary
    file and a file that loses its final newline."""
    (git_repo / "keep.py").write_text(BASE)
    (git_repo / "old_name.py").write_text("".join(f"v{n} = {n}\n" for n in range(30)))
    (git_repo / "gone.py").write_text("a = 1\nb = 2\n")
    (git_repo / "tail.txt").write_text("first\nlast\n")
    (git_repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    base = commit_all(git_repo, "base")
    (git_repo / "keep.py").write_text(BASE.replace("line 30\n", "line 30 edited\n"))
    git(git_repo, "mv", "old_name.py", "new_name.py")
    text = (git_repo / "new_name.py").read_text().replace("v3 = 3\n", "v3 = 33\n")
    (git_repo / "new_name.py").write_text(text)
    git(git_repo, "rm", "-q", "gone.py")
    (git_repo / "tail.txt").write_text("first\nlast changed")
    (git_repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)))
    commit_all(git_repo, "change")
    diff = git(git_repo, "diff", "-M", base, "HEAD")
    return parse_unified_diff(diff)


def test_real_git_diff_statuses(real_diff: list[FileChange]) -> None:
    by_path = {f.path: f for f in real_diff}
    assert by_path["keep.py"].status == "modified"
    assert by_path["new_name.py"].status == "renamed"
    assert by_path["new_name.py"].previous_path == "old_name.py"
    assert by_path["gone.py"].status == "removed"
    assert by_path["logo.png"].patch is None


def test_rename_maps_new_lines(real_diff: list[FileChange]) -> None:
    m = commentable(next(f for f in real_diff if f.path == "new_name.py"))
    assert m.previous_path == "old_name.py"
    assert m.added == {4}  # "v3 = 33" is line 4 of the new file
    assert m.left == {4}


def test_deletion_has_only_left_lines(real_diff: list[FileChange]) -> None:
    m = commentable(next(f for f in real_diff if f.path == "gone.py"))
    assert m.right == frozenset() and m.added == frozenset()
    assert m.left == {1, 2}
    assert is_valid(finding("gone.py", 2, "LEFT"), m)
    assert not is_valid(finding("gone.py", 2, "RIGHT"), m)


def test_binary_is_skipped_with_a_reason(real_diff: list[FileChange]) -> None:
    m = commentable(next(f for f in real_diff if f.path == "logo.png"))
    assert m.hunks == () and m.skipped and "binary" in m.skipped


def test_no_newline_at_end(real_diff: list[FileChange]) -> None:
    tail = next(f for f in real_diff if f.path == "tail.txt")
    assert "\\ No newline at end of file" in (tail.patch or "")
    m = commentable(tail)
    assert m.added == {2} and m.left == {2}
    assert m.hunks[0].no_newline_at_end
    # Applying the patch rebuilds the head exactly, missing final newline included.
    assert apply_patch("first\nlast\n", tail.patch or "") == "first\nlast changed"


def test_pure_rename_has_nothing_to_comment_on() -> None:
    diff = "diff --git a/a.py b/b.py\nsimilarity index 100%\nrename from a.py\nrename to b.py\n"
    [file] = parse_unified_diff(diff)
    assert file.status == "renamed" and file.previous_path == "a.py"
    m = commentable(file)
    assert m.skipped == "no content change (pure rename)"


def test_apply_patch_refuses_a_base_that_does_not_fit(multi_hunk: FileChange) -> None:
    assert apply_patch(BASE, multi_hunk.patch or "") == multi_hunk.head_text
    assert apply_patch(BASE.replace("line 4\n", "other\n"), multi_hunk.patch or "") is None
    assert matches_new_side(multi_hunk.head_text or "", commentable(multi_hunk))
    assert not matches_new_side(BASE, commentable(multi_hunk))


def test_added_file_is_rebuilt_from_its_patch() -> None:
    added = change("new.py", None, "x = 1\ny = 2\n")
    assert added.patch and added.patch.startswith("@@ -0,0 +1,2 @@")
    assert reconstruct_added(added.patch) == "x = 1\ny = 2\n"
    m = commentable(added)
    assert m.added == {1, 2} and m.left == frozenset()


def test_github_style_patch_without_headers() -> None:
    patch = "@@ -1,2 +1,3 @@\n a\n+b\n c\n"
    m = commentable(FileChange(path="x.py", status="modified", patch=patch))
    assert m.added == {2} and m.right == {1, 2, 3}
    assert commentable(FileChange(path="x.py", status="modified", patch=None)).skipped
