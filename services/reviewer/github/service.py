"""What a job does with a delivery: review, describe, answer.

``handle_delivery`` loads a stored delivery, works out what it asks for and runs it. Every
step is safe to repeat, because a job whose worker dies runs again from the start:

- the check run of a head commit is created once and reused (its id is stored);
- the review carries the delivery id in a hidden marker, so a retry finds the review it
  already posted instead of posting a second;
- findings already posted on the pull request are remembered by key and never repeated;
- the summary comment is found by its marker and edited in place.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool

from services.reviewer.github import commands, store
from services.reviewer.github.client import (
    GitHubApp,
    GitHubUnavailable,
    InstallationClient,
    InstallationGone,
    NotFound,
    Unprocessable,
    gather_limited,
)
from services.reviewer.github.diff import PatchMap
from services.reviewer.github.publish import (
    SUMMARY_MARKER,
    Placement,
    RunSummary,
    annotations,
    batches,
    check_conclusion,
    check_output,
    key_in,
    place_findings,
    render_summary,
    request_changes_floor,
    review_event,
)
from services.reviewer.github.webhooks import Work, classify
from services.reviewer.model import FileChange, Finding, ReviewReport, Severity
from shared.billing import Billing, EntitlementDenied, check_entitlement, clock, record_usage
from shared.config import Settings
from shared.models.llm import LLMGateway

logger = logging.getLogger(__name__)

CONFIG_PATH = ".ascent/review.toml"
CHECK_NAME = "ascent review"
# Lock files and minified bundles: large, generated, and nothing a reviewer should read.
GENERATED = (
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "uv.lock",
    "Cargo.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    ".min.js",
    ".min.css",
)

Analyzer = Callable[[list[FileChange], Any, LLMGateway | None], ReviewReport | Awaitable[Any]]
ConfigLoader = Callable[[str], Any]


def default_analyzer() -> Analyzer:
    from services.reviewer.analysis.engine import review

    return review


def default_config_loader() -> ConfigLoader:
    from services.reviewer.config import ReviewConfig

    return ReviewConfig.from_toml


@dataclass
class Reviewer:
    """What jobs need: the database, settings, the App, the LLM and the analysis engine."""

    pool: AsyncConnectionPool
    settings: Settings
    github: GitHubApp
    llm: LLMGateway | None = None
    analyze: Analyzer = field(default_factory=default_analyzer)
    load_config: ConfigLoader = field(default_factory=default_config_loader)


async def handle_delivery(reviewer: Reviewer, delivery_id: str) -> str:
    """Run what one stored delivery asks for; returns the outcome (also stored)."""
    delivery = await store.load_delivery(reviewer.pool, delivery_id)
    if delivery is None:
        return "missing"  # pruned, or never committed
    if delivery["processed_at"] is not None:
        return f"already processed: {delivery['outcome']}"
    payload = delivery["payload"]
    work = classify(delivery["event"], payload)
    if work is None:
        outcome = "ignored"
    else:
        gh = reviewer.github.installation(work.installation_id)
        try:
            outcome = await run_work(reviewer, gh, work, payload, run_id=delivery_id)
        except InstallationGone as exc:
            logger.warning(
                "delivery %s for %s#%s waits: %s; the job will be retried later",
                delivery_id,
                work.repository,
                work.number,
                exc,
            )
            raise
    await store.finish_delivery(reviewer.pool, delivery_id, outcome)
    logger.info("delivery %s (%s): %s", delivery_id, delivery["event"], outcome)
    return outcome


async def run_work(
    reviewer: Reviewer,
    gh: InstallationClient,
    work: Work,
    payload: dict[str, Any],
    *,
    run_id: str,
) -> str:
    if work.kind in ("review", "incremental"):
        return await review_pull(reviewer, gh, work, run_id=run_id)
    if reviewer.llm is None:
        return f"skipped {work.kind}: no LLM configured"
    if work.kind == "describe":
        done = await commands.describe(gh, reviewer.llm, work.repository, work.number)
        return f"described; labels {', '.join(done['labels'])}"
    if work.kind == "ask":
        done = await commands.ask(
            gh, reviewer.llm, work.repository, work.number, work.question or ""
        )
        return f"answered in comment {done['comment_id']}"
    if work.kind == "followup" and work.comment_id is not None:
        finding = await store.finding_for_comment(
            reviewer.pool, work.repository_id, work.comment_id
        )
        if finding is None:
            return "ignored: not a reviewer thread"
        comment = payload.get("comment") or {}
        done = await commands.follow_up(
            gh,
            reviewer.llm,
            work.repository,
            work.number,
            root_id=work.comment_id,
            finding=finding.message,
            reply=work.question or "",
            diff_hunk=str(comment.get("diff_hunk") or ""),
        )
        return f"replied in thread {work.comment_id}: comment {done['comment_id']}"
    return "ignored"


# --- reviewing -------------------------------------------------------------------------------


async def review_pull(
    reviewer: Reviewer, gh: InstallationClient, work: Work, *, run_id: str
) -> str:
    settings, pool = reviewer.settings, reviewer.pool
    repo, number = work.repository, work.number
    pull = await gh.pull(repo, number)
    if pull.get("state") != "open":
        return "skipped: pull request is not open"
    head, base = pull["head"]["sha"], pull["base"]["sha"]
    state = await store.pull_state(pool, work.repository_id, number)
    if work.kind == "incremental" and state.last_reviewed_sha == head:
        return f"skipped: {head[:7]} already reviewed"
    # The installation's plan: each pull request reviewed counts once a month.
    billing = Billing(settings, pool)
    usage_key = f"reviewer:pr:{work.repository_id}:{number}:{clock.now():%Y-%m}"
    try:
        await check_entitlement(billing, "reviewer", str(work.installation_id), meter="prs",
                                counted_key=usage_key)  # fmt: skip
    except EntitlementDenied as exc:
        return await _quota_reached(reviewer, gh, work, state.summary_comment_id, exc)

    check_id = state.check_run_id if state.check_run_sha == head else None
    if check_id is None:
        check = await gh.create_check_run(
            repo,
            {
                "name": CHECK_NAME,
                "head_sha": head,
                "status": "in_progress",
                "external_id": run_id[:100],
            },
        )
        check_id = check["id"]
        await store.save_pull_state(
            pool, work.repository_id, number, repo, check_run_id=check_id, check_run_sha=head
        )

    pr_files = await gh.pull_files(repo, number)
    patches = {f["filename"]: PatchMap.parse(f.get("patch")) for f in pr_files}
    notes: list[str] = []
    since, targets, old_ref = None, pr_files, base
    if work.kind == "incremental" and state.last_reviewed_sha:
        targets, since = await _since_last_review(
            gh, repo, state.last_reviewed_sha, head, pr_files, notes
        )
        old_ref = since or base

    config_text = await gh.file_text(repo, CONFIG_PATH, base)
    config = reviewer.load_config(config_text or "")
    config_note = (
        f"Settings from `{CONFIG_PATH}` at the base commit `{base[:7]}`."
        if config_text is not None
        else f"Default settings (no `{CONFIG_PATH}` at the base commit)."
    )

    changes, skipped = await _file_changes(gh, repo, targets, head, old_ref, settings)
    report = reviewer.analyze(changes, config, reviewer.llm)
    if inspect.isawaitable(report):
        report = await report
    report.skipped = {**skipped, **report.skipped}

    earlier = await store.posted_findings(pool, work.repository_id, number)
    placement = place_findings(
        report.findings,
        patches,
        {e.key for e in earlier},
        max_comments=settings.reviewer_max_comments,
        threshold=settings.reviewer_reflection_threshold,
        left_side=since is None,
    )
    floor = request_changes_floor(settings.reviewer_request_changes_at)
    posted_review = False
    if placement.inline:
        posted_review = await _post_review(
            reviewer, gh, work, head, placement, patches, floor, run_id, notes
        )

    run = RunSummary(
        head,
        since,
        report,
        placement,
        settings.reviewer_max_comments,
        config_note,
        posted_review,
        notes,
        still_open=still_open(earlier, patches),
    )
    summary_id = await _upsert_summary(
        gh, repo, number, state.summary_comment_id, render_summary(run), reviewer.github.app_id
    )
    await _complete_check(gh, repo, check_id, run, floor)
    await store.save_pull_state(
        pool,
        work.repository_id,
        number,
        repo,
        last_reviewed_sha=head,
        summary_comment_id=summary_id,
    )
    await record_usage(billing, "reviewer", str(work.installation_id), "prs", 1, usage_key)
    return (
        f"reviewed {head[:7]}: {len(placement.kept)} findings, {len(placement.inline)} "
        f"inline, {len(report.skipped)} files not reviewed"
    )


async def _quota_reached(
    reviewer: Reviewer,
    gh: InstallationClient,
    work: Work,
    summary_id: int | None,
    denied: EntitlementDenied,
) -> str:
    """Say so in a summary comment instead of reviewing (a pull request reviewed before keeps
    its summary; the log says why); a comment that cannot be posted never fails the job."""
    logger.warning("installation %s: %s#%s not reviewed: %s", work.installation_id,
                   work.repository, work.number, denied.detail)  # fmt: skip
    if summary_id is not None:
        return f"skipped: {denied.code}"
    body = (
        f"{SUMMARY_MARKER}\n**ascent review** did not review this pull request: this "
        f"installation's plan has no reviews left this billing period "
        f"({denied.extensions.get('used')} of {denied.extensions.get('limit')}). "
        f"[Upgrade]({denied.extensions.get('upgrade_url')}) or wait for the next period."
    )
    try:
        comment_id = await _upsert_summary(
            gh, work.repository, work.number, summary_id, body, reviewer.github.app_id
        )
        await store.save_pull_state(reviewer.pool, work.repository_id, work.number,
                                    work.repository, summary_comment_id=comment_id)  # fmt: skip
    except Exception:
        logger.exception("could not post the quota notice on %s#%s", work.repository,
                         work.number)  # fmt: skip
    return f"skipped: {denied.code}"


async def _since_last_review(
    gh: InstallationClient,
    repo: str,
    last: str,
    head: str,
    pr_files: list[dict[str, Any]],
    notes: list[str],
) -> tuple[list[dict[str, Any]], str | None]:
    """The files changed since the last reviewed head, with patches relative to it."""
    try:
        comparison = await gh.compare(repo, last, head)
    except NotFound:
        notes.append(
            f"The last reviewed commit `{last[:7]}` is gone (force-push?); "
            "reviewed all changes again."
        )
        return pr_files, None
    if comparison.get("status") not in ("ahead", "identical"):
        notes.append(f"The branch was rewritten since `{last[:7]}`; reviewed all changes again.")
        return pr_files, None
    in_pull = {f["filename"]: f for f in pr_files}
    changed = [f for f in comparison.get("files") or [] if f.get("filename") in in_pull]
    if len(comparison.get("files") or []) >= 300:  # GitHub's compare lists at most 300 files
        notes.append("More than 300 files changed since the last review; reviewed all again.")
        return pr_files, None
    return changed, last


async def _file_changes(
    gh: InstallationClient,
    repo: str,
    files: list[dict[str, Any]],
    head: str,
    old_ref: str,
    settings: Settings,
) -> tuple[list[FileChange], dict[str, str]]:
    """FileChanges with texts, within the changed-line budget; the rest with a reason."""
    budget = settings.reviewer_max_changed_lines
    skipped: dict[str, str] = {}
    chosen: list[dict[str, Any]] = []
    for f in files:
        path, changes = f["filename"], int(f.get("additions", 0)) + int(f.get("deletions", 0))
        if path.endswith(GENERATED):
            skipped[path] = "lock file or generated bundle"
        elif not f.get("patch"):
            if changes == 0 and f.get("status") == "renamed":
                skipped[path] = "renamed without changes"
            elif changes == 0:
                skipped[path] = "binary file"
            else:
                skipped[path] = f"diff too large for GitHub to show ({changes} changed lines)"
        elif changes > budget:
            skipped[path] = (
                f"over this run's budget of {settings.reviewer_max_changed_lines} "
                f"changed lines ({changes} here)"
            )
        else:
            budget -= changes
            chosen.append(f)

    async def texts(f: dict[str, Any]) -> tuple[str | None, str | None]:
        path, status = f["filename"], f.get("status")
        old_path = f.get("previous_filename") or path
        limit = settings.reviewer_max_file_bytes
        new = None if status == "removed" else await gh.file_text(repo, path, head, max_bytes=limit)
        old = (
            None
            if status == "added"
            else await gh.file_text(repo, old_path, old_ref, max_bytes=limit)
        )
        return new, old

    fetched = await gather_limited([lambda f=f: texts(f) for f in chosen])
    result = [
        FileChange(
            path=f["filename"],
            status=f.get("status", "modified"),
            patch=f.get("patch"),
            previous_path=f.get("previous_filename"),
            additions=int(f.get("additions", 0)),
            deletions=int(f.get("deletions", 0)),
            head_text=new,
            base_text=old,
        )
        for f, (new, old) in zip(chosen, fetched, strict=True)
    ]
    return result, skipped


async def _post_review(
    reviewer: Reviewer,
    gh: InstallationClient,
    work: Work,
    head: str,
    placement: Placement,
    patches: dict[str, PatchMap],
    floor: Severity | None,
    run_id: str,
    notes: list[str],
) -> bool:
    repo, number = work.repository, work.number
    marker = f"<!-- ascent-reviewer:run:{run_id} -->"
    event = review_event([p.finding for p in placement.inline], floor)
    body = (
        f"ascent found {len(placement.inline)} thing{'s' if len(placement.inline) != 1 else ''}"
        f" to look at in `{head[:7]}`; the summary comment has the full picture.\n{marker}"
    )
    review = await _find_review(gh, repo, number, marker)
    if review is None:
        try:
            review = await gh.create_review(
                repo,
                number,
                commit_id=head,
                body=body,
                event=event,
                comments=[p.comment for p in placement.inline],
            )
        except Unprocessable as exc:
            # A push landed between reading the diff and posting: the lines moved. The next
            # synchronize delivery reviews the new head; keep the findings in the summary.
            logger.warning("review of %s#%s refused: %s", repo, number, exc)
            notes.append(
                "GitHub refused the inline comments (the diff changed meanwhile); "
                "they are listed below instead."
            )
            placement.outside_diff.extend(p.finding for p in placement.inline)
            placement.inline.clear()
            return False
        except GitHubUnavailable:
            review = await _find_review(gh, repo, number, marker)  # did GitHub take it anyway?
            if review is None:
                raise
    comment_ids = {}
    for comment in await gh.review_comments(repo, number, review["id"]):
        key = key_in(comment.get("body") or "")
        if key:
            comment_ids[key] = comment.get("id")
    await store.record_posted(
        reviewer.pool,
        work.repository_id,
        number,
        head,
        review["id"],
        [
            store.PostedFinding(
                key=p.key,
                path=p.finding.path,
                line=p.finding.line,
                side=p.finding.side,
                severity=int(p.finding.severity),
                category=p.finding.category,
                source=p.finding.source,
                rule=p.finding.rule,
                message=p.finding.message[:2000],
                anchor=_anchor(patches.get(p.finding.path), p.finding),
                comment_id=comment_ids.get(p.key),
            )
            for p in placement.inline
        ],
    )
    return True


def _anchor(patch: PatchMap | None, finding: Finding) -> str:
    line = patch.get(finding.side, finding.line) if patch else None
    return line.text.strip() if line is not None else ""


def still_open(earlier: list[store.PostedFinding], patches: dict[str, PatchMap]) -> list[Finding]:
    """Findings posted on earlier runs whose line is still in the diff, where it is now.
    An incremental run does not analyse old code again, so this is what keeps them counting
    in the check run until the line changes."""
    found = []
    for e in earlier:
        patch = patches.get(e.path)
        if patch is None or not e.anchor:
            continue
        lines = sorted(
            n
            for (side, n), line in patch.lines.items()
            if side == e.side and line.text.strip() == e.anchor
        )
        if lines:
            line = min(lines, key=lambda n: abs(n - e.line))
            found.append(
                Finding(
                    path=e.path,
                    line=line,
                    side=e.side,
                    severity=Severity(e.severity),
                    category=e.category,
                    message=e.message,
                    source=e.source,
                    rule=e.rule,
                )
            )
    return found


async def _find_review(
    gh: InstallationClient, repo: str, number: int, marker: str
) -> dict[str, Any] | None:
    for review in await gh.reviews(repo, number):
        if marker in (review.get("body") or ""):
            return review
    return None


async def _upsert_summary(
    gh: InstallationClient, repo: str, number: int, known_id: int | None, body: str, app_id: int
) -> int:
    if known_id is not None:
        try:
            await gh.update_issue_comment(repo, known_id, body)
            return known_id
        except NotFound:
            pass  # deleted by someone: find or create another
    for comment in await gh.issue_comments(repo, number):
        if SUMMARY_MARKER in (comment.get("body") or "") and _ours(comment, app_id):
            await gh.update_issue_comment(repo, comment["id"], body)
            return comment["id"]
    created = await gh.create_issue_comment(repo, number, body)
    return created["id"]


def _ours(comment: dict[str, Any], app_id: int) -> bool:
    """Written by this App (anyone can paste the marker into their own comment)."""
    app = comment.get("performed_via_github_app")
    if isinstance(app, dict):
        return app.get("id") == app_id
    return (comment.get("user") or {}).get("type") == "Bot"


async def _complete_check(
    gh: InstallationClient, repo: str, check_id: int, run: RunSummary, floor: Severity | None
) -> None:
    output = check_output(run)
    standing = run.placement.kept + run.still_open
    chunks = batches(annotations(standing))
    for chunk in chunks[:-1]:  # annotations append; GitHub takes 50 per request
        await gh.update_check_run(repo, check_id, {"output": {**output, "annotations": chunk}})
    await gh.update_check_run(
        repo,
        check_id,
        {
            "status": "completed",
            "conclusion": check_conclusion(standing, floor),
            "output": {**output, "annotations": chunks[-1]},
        },
    )
