"""The evaluation set is well-formed, and the scoring counts what it says it counts."""

from __future__ import annotations

from collections import Counter

from services.reviewer.analysis.diff import commentable
from services.reviewer.analysis.evaluate import evaluate, markdown_table, score
from services.reviewer.evalset import Label, load_cases
from services.reviewer.model import Finding, Severity


def test_cases_are_labelled_on_added_lines() -> None:
    cases = load_cases()
    origins = Counter(c.origin for c in cases)
    assert origins["bandit_style"] >= 10 and origins["pylint_style"] >= 5
    assert origins["hand_written"] >= 15 and origins["clean"] >= 3
    assert len({c.id for c in cases}) == len(cases)
    for case in cases:
        maps = {f.path: commentable(f) for f in case.files}
        assert all(m.skipped is None for m in maps.values()), case.id
        assert bool(case.labels) == (case.origin != "clean"), case.id
        for label in case.labels:
            assert label.line in maps[label.path].added, (case.id, label)
        assert case.unified_diff().startswith("diff --git a/")


def finding(path: str, line: int) -> Finding:
    return Finding(path=path, line=line, side="RIGHT", severity=Severity.LOW, category="bug",
                   message="m", source="ruff")  # fmt: skip


def test_score_matches_within_two_lines() -> None:
    labels = [Label("a.py", 10, "bug"), Label("a.py", 40, "bug")]
    findings = [finding("a.py", 12), finding("a.py", 13), finding("b.py", 40), finding("a.py", 10)]
    s = score(findings, labels)
    assert (s.findings, s.matched_findings, s.labels, s.matched_labels) == (4, 2, 2, 1)
    assert s.precision == 0.5 and s.recall == 0.5
    empty = score([], [])
    assert empty.precision == 1.0 and empty.recall == 1.0


async def test_linters_only_evaluation_on_a_few_cases() -> None:
    cases = [c for c in load_cases() if c.id in {"bandit-shell-true", "clean-type-hints",
                                                  "hand-off-by-one-loop"}]  # fmt: skip
    result = await evaluate(cases, None)
    linters = result["modes"]["linters"]
    assert linters["labels"] == 2 and linters["labels_found"] == 1  # off-by-one has no rule
    assert linters["findings"] == linters["true_positive_findings"] == 1
    table = markdown_table(result)
    assert "| linters | 1.00 | 0.50 | 0.67 | 1 | 1/2 |" in table
