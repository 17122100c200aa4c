"""From findings to what GitHub shows: review comments on valid diff lines, the summary
comment, check-run annotations and the verdict.

Pure functions: nothing here talks to GitHub or the database, so each rule is easy to test.
Text that came from the pull request or the LLM is made inert before it is posted (mentions
cannot ping anyone, HTML comments cannot forge the reviewer's hidden markers).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.reviewer.github.diff import PatchMap
from services.reviewer.model import Finding, ReviewReport, Severity

SUMMARY_MARKER = "<!-- ascent-reviewer:summary -->"
DESCRIPTION_START = "<!-- ascent-reviewer:description -->"
DESCRIPTION_END = "<!-- /ascent-reviewer:description -->"
ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit per create/update check-run request
MAX_ANNOTATIONS = 500
MAX_SUGGESTION = 6000  # characters; a longer "fix" is a rewrite, not a suggestion
_KEY_MARKER = re.compile(r"<!-- ascent-reviewer:finding:([0-9a-f]{16}) -->")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_LEVEL = {
    Severity.CRITICAL: "failure",
    Severity.HIGH: "failure",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "notice",
}
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # noqa: S701 - Markdown for GitHub; inputs go through inert() instead
)


def inert(text: str, limit: int = 2000) -> str:
    """Untrusted text made safe to post: no pings, no hidden markers, bounded length."""
    text = text.replace("<!--", "&lt;!--").replace("-->", "--&gt;")
    text = _MENTION.sub("@\u200b", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finding_key(finding: Finding, patch: PatchMap | None) -> str:
    """A finding's identity across pushes: the line's text stands in for its number, so the
    same remark on a line that merely moved is recognised as already posted."""
    anchor = patch.get(finding.side, finding.line) if patch else None
    where = anchor.text.strip() if anchor is not None else str(finding.line)
    message = " ".join(finding.message.lower().split())[:120]
    raw = "\x1f".join((finding.path, finding.side, finding.rule or "", message, where))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def key_in(body: str) -> str | None:
    match = _KEY_MARKER.search(body or "")
    return match[1] if match else None


@dataclass
class Placed:
    finding: Finding
    key: str
    comment: dict[str, Any]


@dataclass
class Placement:
    """What happens to each finding of a run."""

    inline: list[Placed] = field(default_factory=list)
    outside_diff: list[Finding] = field(default_factory=list)
    over_limit: list[Finding] = field(default_factory=list)
    repeated: int = 0  # already posted on an earlier run
    low_score: int = 0  # below the self-reflection threshold
    kept: list[Finding] = field(default_factory=list)  # every finding that counts


def place_findings(
    findings: list[Finding],
    patches: dict[str, PatchMap],
    posted: set[str],
    *,
    max_comments: int,
    threshold: float,
    left_side: bool = True,
) -> Placement:
    """Sort findings into inline comments and the rest. ``left_side=False`` (incremental
    runs) keeps removed-line findings out of the diff: their numbers are the last reviewed
    version's, not the base's."""
    result = Placement()
    seen: set[str] = set()
    ordered = sorted(findings, key=lambda f: (-f.severity, f.path, f.line))
    for finding in ordered:
        if finding.score is not None and finding.score < threshold:
            result.low_score += 1
            continue
        patch = patches.get(finding.path)
        key = finding_key(finding, patch)
        if key in seen:
            continue  # the same remark twice in one run (two analysers agreeing)
        seen.add(key)
        if key in posted:
            result.repeated += 1
            continue
        result.kept.append(finding)
        placeable = left_side or finding.side == "RIGHT"
        if patch is None or not placeable or not patch.accepts(finding.side, finding.line):
            result.outside_diff.append(finding)
        elif len(result.inline) >= max_comments:
            result.over_limit.append(finding)
        else:
            result.inline.append(Placed(finding, key, review_comment(finding, key, patch)))
    return result


def review_comment(finding: Finding, key: str, patch: PatchMap) -> dict[str, Any]:
    """The ``comments[]`` entry of a review: single- or multi-line, with a suggestion when the
    replacement is known and the range is one GitHub accepts."""
    comment: dict[str, Any] = {"path": finding.path, "line": finding.line, "side": finding.side}
    start = finding.start_line
    ranged = start is not None and start < finding.line
    if ranged and patch.accepts(finding.side, finding.line, start):
        comment["start_line"] = start
        comment["start_side"] = finding.side
    # A suggestion replaces exactly the commented lines of the new file; one written for a
    # range we had to shrink would delete code, so it is dropped rather than misapplied.
    shrunk = ranged and "start_line" not in comment
    suggestion = None if finding.side != "RIGHT" or shrunk else finding.suggestion
    if suggestion is not None and len(suggestion) > MAX_SUGGESTION:
        suggestion = None
    comment["body"] = comment_body(finding, key, suggestion)
    return comment


def comment_body(finding: Finding, key: str, suggestion: str | None = None) -> str:
    rule = f" `{inert(finding.rule, 40)}`" if finding.rule else ""
    parts = [
        f"**{finding.severity.name.title()}** · {finding.category}{rule}",
        "",
        inert(finding.message),
    ]
    if suggestion is not None:
        fence = "````" if "```" in suggestion else "```"
        parts += ["", f"{fence}suggestion", suggestion.rstrip("\n"), fence]
    parts += ["", f"<sub>{finding.source}</sub> <!-- ascent-reviewer:finding:{key} -->"]
    return "\n".join(parts)


def request_changes_floor(setting: str) -> Severity | None:
    return None if setting == "never" else Severity.parse(setting)


def review_event(
    findings: list[Finding], floor: Severity | None
) -> Literal["COMMENT", "REQUEST_CHANGES"]:
    """Never APPROVE: a machine's silence is not a human's approval."""
    if floor is not None and any(f.severity >= floor for f in findings):
        return "REQUEST_CHANGES"
    return "COMMENT"


def check_conclusion(findings: list[Finding], floor: Severity | None) -> str:
    if not findings:
        return "success"
    if floor is not None and any(f.severity >= floor for f in findings):
        return "failure"
    return "neutral"


def annotations(findings: list[Finding]) -> list[dict[str, Any]]:
    """Check-run annotations for findings on the new file (any line, not just the diff)."""
    result = []
    for f in sorted(findings, key=lambda f: (-f.severity, f.path, f.line)):
        if f.side != "RIGHT":
            continue
        start = f.start_line if f.start_line and f.start_line < f.line else f.line
        result.append(
            {
                "path": f.path,
                "start_line": start,
                "end_line": f.line,
                "annotation_level": _LEVEL[f.severity],
                "title": f"{f.severity.name.title()} {f.category}"
                + (f" ({f.rule})" if f.rule else ""),
                "message": inert(f.message, 4000),
            }
        )
        if len(result) >= MAX_ANNOTATIONS:
            break
    return result


def batches(items: list[Any], size: int = ANNOTATIONS_PER_REQUEST) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


@dataclass
class RunSummary:
    head_sha: str
    since_sha: str | None  # incremental: the last reviewed head
    report: ReviewReport
    placement: Placement
    max_comments: int
    config_note: str
    posted_review: bool
    notes: list[str] = field(default_factory=list)
    still_open: list[Finding] = field(default_factory=list)  # earlier findings, lines unchanged


def render_summary(run: RunSummary) -> str:
    kept = run.placement.kept
    counts = Counter(f.severity for f in kept)
    inline = Counter(p.finding.severity for p in run.placement.inline)
    rows = [
        (s.name.title(), counts[s], inline[s]) for s in sorted(Severity, reverse=True) if counts[s]
    ]
    text = _templates.get_template("summary.md.j2").render(
        marker=SUMMARY_MARKER,
        head=run.head_sha[:7],
        since=run.since_sha[:7] if run.since_sha else None,
        total=len(kept),
        rows=rows,
        reviewed=[inert(p, 300) for p in run.report.reviewed],
        skipped=[(inert(p, 300), inert(r, 300)) for p, r in run.report.skipped.items()],
        partial=[(inert(p, 300), inert(r, 300)) for p, r in run.report.partial.items()],
        outside=[_line(f) for f in run.placement.outside_diff[:50]],
        outside_more=max(0, len(run.placement.outside_diff) - 50),
        over=[_line(f) for f in run.placement.over_limit[:50]],
        over_more=max(0, len(run.placement.over_limit) - 50),
        max_comments=run.max_comments,
        repeated=run.placement.repeated,
        still_open=len(run.still_open),
        low_score=run.placement.low_score,
        notes=[inert(n, 500) for n in [*run.notes, *run.report.notes]],
        config_note=run.config_note,
    )
    return text if len(text) < 65000 else text[:64900] + "\n\n… (truncated)\n"


def _line(f: Finding) -> str:
    return (
        f"**{f.severity.name.title()}** `{inert(f.path, 200)}:{f.line}` "
        f"({f.side.lower()}): {inert(f.message, 300)}"
    )


def check_output(run: RunSummary) -> dict[str, str]:
    kept = run.placement.kept
    title = f"{len(kept)} new finding{'s' if len(kept) != 1 else ''}" if kept else "No new findings"
    if run.still_open:
        title += f"; {len(run.still_open)} from earlier runs still open"
    skipped = len(run.report.skipped)
    if skipped:
        title += f"; {skipped} file{'s' if skipped != 1 else ''} not reviewed"
    return {"title": title[:250], "summary": render_summary(run).replace(SUMMARY_MARKER, "")}


def merge_description(body: str | None, generated: str) -> str:
    """Put the generated description in its own marked section; the author's text stays."""
    body = body or ""
    block = f"{DESCRIPTION_START}\n{generated.strip()}\n{DESCRIPTION_END}"
    start, end = body.find(DESCRIPTION_START), body.find(DESCRIPTION_END)
    if start != -1 and end > start:
        return body[:start] + block + body[end + len(DESCRIPTION_END) :]
    return f"{body.rstrip()}\n\n{block}".lstrip()
