"""From findings to GitHub's review comments, summary and check-run annotations; the
hand-made findings here cover what linters never produce (ranges, suggestions, LEFT lines),
and each placement is posted to the fake, which refuses lines GitHub would refuse."""

import pytest

from services.reviewer.github.diff import PatchMap
from services.reviewer.github.publish import (
    DESCRIPTION_END,
    DESCRIPTION_START,
    RunSummary,
    annotations,
    batches,
    finding_key,
    inert,
    key_in,
    merge_description,
    place_findings,
    request_changes_floor,
    review_event,
)
from services.reviewer.github.service import _complete_check
from services.reviewer.model import Finding, ReviewReport, Severity
from tests.services.reviewer.github.conftest import INSTALLATION_ID, REPO
from tests.services.reviewer.github.fake_github import unified_patch

BASE = "".join(f"line {i}\n" for i in range(1, 41))
# Hunk 1 changes line 3 and inserts two lines after it; hunk 2 deletes line 30.
HEAD = BASE.replace("line 3\n", "line three\nnew a\nnew b\n").replace("line 30\n", "")


def _patch() -> str:
    return unified_patch(BASE.encode(), HEAD.encode())[0]


def finding(line: int, side: str = "RIGHT", **kw) -> Finding:
    defaults = {
        "path": "f.py",
        "severity": Severity.MEDIUM,
        "category": "bug",
        "message": f"problem at {line}",
        "source": "llm",
    }
    return Finding(line=line, side=side, **{**defaults, **kw})


def test_patch_map_knows_each_side_and_hunk():
    patch = PatchMap.parse(_patch())
    assert patch.hunks == 2
    assert (patch.added, patch.removed) == (3, 2)
    assert patch.get("RIGHT", 3).kind == "+" and patch.get("RIGHT", 3).text == "line three"
    assert patch.get("LEFT", 3).kind == "-"
    assert patch.get("RIGHT", 2).kind == " " and patch.get("LEFT", 2).kind == " "  # context
    assert patch.get("LEFT", 30).kind == "-"
    assert patch.get("RIGHT", 32).kind == " "  # context after the deletion (old line 31)
    assert patch.get("RIGHT", 15) is None  # between the hunks
    assert patch.accepts("RIGHT", 5, start_line=3)
    assert not patch.accepts("RIGHT", 32, start_line=3)  # crosses hunks
    assert not patch.accepts("RIGHT", 3, start_line=5)  # backwards
    assert not patch.accepts("LEFT", 15)


def test_patch_map_handles_no_newline_markers_and_empty_patches():
    patch = PatchMap.parse("@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n")
    assert patch.get("LEFT", 1).text == "a" and patch.get("RIGHT", 1).text == "b"
    assert PatchMap.parse(None).lines == {}
    assert PatchMap.parse("").hunks == 0


def test_keys_survive_moved_lines_but_not_changed_text():
    old = PatchMap.parse("@@ -1,2 +1,3 @@\n a\n+x = eval(s)\n b\n")
    moved = PatchMap.parse("@@ -1,2 +1,5 @@\n+#\n+#\n a\n+x = eval(s)\n b\n")
    changed = PatchMap.parse("@@ -1,2 +1,3 @@\n a\n+y = eval(s)\n b\n")
    f = finding(2, message="eval of input")
    assert finding_key(f, old) == finding_key(finding(4, message="eval of input"), moved)
    assert finding_key(f, old) != finding_key(f, changed)
    assert finding_key(f, old) != finding_key(finding(2, message="other"), old)


def test_placement_filters_orders_and_caps():
    patches = {"f.py": PatchMap.parse(_patch())}
    findings = [
        finding(4, severity=Severity.LOW),
        finding(3, severity=Severity.CRITICAL),
        finding(5, severity=Severity.HIGH, score=2.0),  # the self-check did not believe it
        finding(15),  # between hunks: not commentable
        finding(30, side="LEFT", severity=Severity.HIGH),
        finding(3, severity=Severity.CRITICAL),  # the same remark twice
        finding(4, path="elsewhere.py"),
    ]
    placed = place_findings(findings, patches, set(), max_comments=2, threshold=6.0)
    assert [(p.finding.line, p.finding.side) for p in placed.inline] == [(3, "RIGHT"), (30, "LEFT")]
    assert [f.line for f in placed.over_limit] == [4]
    assert sorted((f.path, f.line) for f in placed.outside_diff) == [
        ("elsewhere.py", 4),
        ("f.py", 15),
    ]
    assert placed.low_score == 1
    again = place_findings(
        findings, patches, {p.key for p in placed.inline}, max_comments=10, threshold=6.0
    )
    assert again.repeated == 2
    assert all(p.key not in {q.key for q in placed.inline} for p in again.inline)


def test_incremental_runs_keep_removed_line_findings_out_of_the_diff():
    patches = {"f.py": PatchMap.parse(_patch())}
    findings = [finding(30, side="LEFT"), finding(3)]
    placed = place_findings(findings, patches, set(), max_comments=9, threshold=0, left_side=False)
    assert [(p.finding.line, p.finding.side) for p in placed.inline] == [(3, "RIGHT")]
    assert [(f.line, f.side) for f in placed.outside_diff] == [(30, "LEFT")]


def test_ranges_and_suggestions_become_github_comment_fields():
    patches = {"f.py": PatchMap.parse(_patch())}
    ranged = finding(5, start_line=3, suggestion="line 3\nnew_a = 1\nnew_b = 2")
    cross = finding(32, start_line=3, suggestion="x")  # start in another hunk
    left = finding(3, side="LEFT", suggestion="ignored")
    fenced = finding(4, suggestion="```\ncode\n```", message="docs")
    huge = finding(2, suggestion="x = 1\n" * 2000, message="rewrite everything")
    placed = place_findings(
        [ranged, cross, left, fenced, huge], patches, set(), max_comments=10, threshold=0
    )
    by_line = {(p.finding.line, p.finding.side): p.comment for p in placed.inline}
    first = by_line[(5, "RIGHT")]
    assert (first["start_line"], first["start_side"], first["line"]) == (3, "RIGHT", 5)
    assert "```suggestion\nline 3\nnew_a = 1\nnew_b = 2\n```" in first["body"]
    shrunk = by_line[(32, "RIGHT")]
    assert "start_line" not in shrunk and "suggestion" not in shrunk["body"]
    assert "suggestion" not in by_line[(3, "LEFT")]["body"]
    assert "````suggestion\n```\ncode\n```\n````" in by_line[(4, "RIGHT")]["body"]
    assert "suggestion" not in by_line[(2, "RIGHT")]["body"]
    assert all(key_in(c["body"]) for c in by_line.values())


async def test_the_fake_takes_every_placed_comment_and_refuses_bad_ones(fake, github_app):
    pull = fake.add_pull(REPO, 3, base={"f.py": BASE, "old.txt": "gone\n"}, head={"f.py": HEAD})
    files = await github_app.installation(INSTALLATION_ID).pull_files(REPO, 3)
    patches = {f["filename"]: PatchMap.parse(f.get("patch")) for f in files}
    findings = [
        finding(5, start_line=3, suggestion="x"),
        finding(30, side="LEFT"),
        finding(1, side="LEFT", path="old.txt"),
        finding(34),
        finding(2, side="LEFT"),
    ]
    placed = place_findings(findings, patches, set(), max_comments=10, threshold=0)
    assert len(placed.inline) == 5
    client = github_app.installation(INSTALLATION_ID)
    review = await client.create_review(
        REPO,
        3,
        commit_id=pull.head_sha,
        body="b",
        event="COMMENT",
        comments=[p.comment for p in placed.inline],
    )
    stored = {(c["path"], c["line"], c["side"], c["start_line"]) for c in fake.comments_of(review)}
    assert stored == {
        ("f.py", 5, "RIGHT", 3),
        ("f.py", 30, "LEFT", None),
        ("old.txt", 1, "LEFT", None),
        ("f.py", 34, "RIGHT", None),
        ("f.py", 2, "LEFT", None),
    }
    from services.reviewer.github.client import Unprocessable

    for bad in (
        {"path": "f.py", "line": 15, "side": "RIGHT", "body": "between hunks"},
        {"path": "f.py", "line": 32, "start_line": 3, "side": "RIGHT", "body": "x"},
        {"path": "nope.py", "line": 1, "side": "RIGHT", "body": "x"},
    ):
        with pytest.raises(Unprocessable):
            await client.create_review(
                REPO, 3, commit_id=pull.head_sha, body="b", event="COMMENT", comments=[bad]
            )
    assert len(fake.pull_reviews(REPO, 3)) == 1


def test_verdict_never_approves():
    high = request_changes_floor("high")
    assert review_event([finding(1, severity=Severity.CRITICAL)], high) == "REQUEST_CHANGES"
    assert review_event([finding(1, severity=Severity.MEDIUM)], high) == "COMMENT"
    assert review_event([], high) == "COMMENT"
    assert review_event([finding(1, severity=Severity.CRITICAL)], None) == "COMMENT"
    assert request_changes_floor("never") is None


def test_untrusted_text_is_made_inert():
    text = inert("ping @octocat and @org/team <!-- ascent-reviewer:summary --> end")
    assert "@octocat" not in text and "@\u200boctocat" in text
    assert "<!--" not in text and "-->" not in text
    assert inert("x" * 50, limit=10) == "x" * 9 + "…"


def test_description_section_is_replaced_and_author_text_kept():
    once = merge_description("Author's words.", "Generated one.")
    assert once.startswith("Author's words.") and "Generated one." in once
    twice = merge_description(once + "\n\nMore from the author.", "Generated two.")
    assert "Generated one." not in twice and "Generated two." in twice
    assert "More from the author." in twice and twice.count(DESCRIPTION_START) == 1
    assert merge_description(None, "G").startswith(DESCRIPTION_START)
    assert twice.count(DESCRIPTION_END) == 1


async def test_more_than_fifty_annotations_go_in_batches(fake, github_app):
    pull = fake.add_pull(REPO, 4, base={}, head={"f.py": "x\n" * 130})
    findings = [finding(n) for n in range(1, 121)]
    placed = place_findings(findings, {}, set(), max_comments=0, threshold=0)
    run = RunSummary(pull.head_sha, None, ReviewReport(), placed, 25, "", False)
    assert [len(b) for b in batches(annotations(placed.kept))] == [50, 50, 20]
    client = github_app.installation(INSTALLATION_ID)
    check = await client.create_check_run(
        REPO, {"name": "ascent review", "head_sha": pull.head_sha, "status": "in_progress"}
    )
    await _complete_check(client, REPO, check["id"], run, request_changes_floor("high"))
    stored = fake.check_runs[check["id"]]
    assert len(stored["annotations"]) == 120
    assert (stored["status"], stored["conclusion"]) == ("completed", "neutral")
    assert [c.status for c in fake.calls_to("PATCH", "/check-runs/")] == [200, 200, 200]
