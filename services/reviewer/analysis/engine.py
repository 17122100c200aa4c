"""The review engine: diff maps, linters, then the LLM within a budget, then one report.

``review`` reads top to bottom: sort files out, lint every file that can be linted, plan the
LLM's reading by risk, run it round by round while the token budget lasts, keep only findings
GitHub can place, strip secrets, and say plainly in the report what was and was not reviewed.
It never raises for a missing linter or an unavailable model; those become notes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from services.reviewer.analysis.checkout import checkout
from services.reviewer.analysis.context import enclosing_context, estimate_tokens
from services.reviewer.analysis.diff import DiffMap, commentable, is_valid
from services.reviewer.analysis.linters import LINTERS, LinterRunner, LintResult
from services.reviewer.analysis.llm_review import (
    SYSTEM_PROMPT,
    JSONModel,
    UnitResult,
    apply_scores,
    drop_linter_duplicates,
    reflect,
    review_unit,
)
from services.reviewer.analysis.planner import Plan, ReviewUnit, plan_review, skip_reason
from services.reviewer.analysis.redact import Redactor
from services.reviewer.config import ReviewConfig
from services.reviewer.model import FileChange, Finding, ReviewReport

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)

DEFAULT_MAX_LLM_TOKENS = 60_000
_SYSTEM_TOKENS = estimate_tokens(SYSTEM_PROMPT) + 60


@dataclass
class _LLMRun:
    results: list[UnitResult] = field(default_factory=list)
    not_run: dict[int, str] = field(default_factory=dict)  # id(unit) -> why
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: str | None = None


class _Budget:
    """Tokens spent by this review: the gateway's own count when it keeps one, else ours."""

    def __init__(self, llm: Any, limit: int) -> None:
        self.llm = llm
        self.limit = limit
        usage = getattr(llm, "usage", None)
        self._start = getattr(usage, "total_tokens", None)
        self._estimated = 0

    def spent(self) -> int:
        usage = getattr(self.llm, "usage", None)
        if self._start is not None and usage is not None:
            return int(usage.total_tokens) - self._start
        return self._estimated

    def add_estimate(self, tokens: int) -> None:
        self._estimated += tokens


async def review(
    files: list[FileChange],
    config: ReviewConfig,
    llm: JSONModel | None,
    *,
    max_llm_tokens: int = DEFAULT_MAX_LLM_TOKENS,
    progress: ProgressCallback | None = None,
    unit_tokens: int = 1400,
    context_tokens: int = 450,
    max_output_tokens: int = 600,
    llm_timeout: float = 180.0,
    linter_timeout: float = 120.0,
    deadline_s: float | None = None,
) -> ReviewReport:
    """Review a pull request's files; never raises for a missing linter or model.

    ``llm`` is an ``LLMGateway`` (or anything with its ``json`` method); None means linters
    only. ``max_llm_tokens`` bounds prompt plus completion tokens of all LLM calls, reflection
    included; ``unit_tokens`` bounds the diff shown in one call and ``context_tokens`` the
    code around it. ``progress(stage, done, total)`` hears about each linter and LLM pass.
    ``deadline_s`` stops starting LLM calls after that many seconds (linters always finish).
    """
    started = time.monotonic()
    report = ReviewReport()
    report.notes += [f".ascent/review.toml: {e}" for e in config.errors]
    diffmaps = {f.path: commentable(f) for f in files}
    active = [f for f in files if skip_reason(f, diffmaps[f.path], config) is None]

    lint = await _lint(active, diffmaps, config, linter_timeout, progress)
    report.notes += lint.notes
    hits: dict[str, int] = {}
    for finding in lint.findings:
        hits[finding.path] = hits.get(finding.path, 0) + 1
    plan = plan_review(files, diffmaps, config, unit_tokens=unit_tokens, linter_hits=hits)
    report.skipped.update(plan.skipped)
    report.notes.append(f"Plan: {plan.describe()}.")

    redact = Redactor()
    heads = {f.path: (f.head_text or "").splitlines() for f in files}
    for path, lines in lint.flagged_lines.items():
        for number in lines:
            if 0 < number <= len(heads[path]):
                redact.learn_line(heads[path][number - 1])

    llm_run = _LLMRun()
    if not config.wants("llm"):
        report.notes.append("LLM review is turned off: linters only.")
    elif llm is None:
        report.notes.append("LLM unavailable (no model configured): linters only.")
    elif plan.units:
        deadline = started + deadline_s if deadline_s else None
        llm_run = await _run_llm(
            llm, plan, config, lint, redact,
            budget=_Budget(llm, max_llm_tokens), context_tokens=context_tokens,
            max_output_tokens=max_output_tokens, timeout=llm_timeout, deadline=deadline,
            progress=progress,
        )  # fmt: skip
        report.notes += llm_run.notes
    _coverage(report, plan, lint, llm_run, llm_used=config.wants("llm") and llm is not None)

    findings = lint.findings + llm_run.findings
    valid = [f for f in findings if is_valid(f, diffmaps)]
    if len(valid) < len(findings):  # a bug if it ever happens; never publish a stray line
        report.notes.append(f"{len(findings) - len(valid)} finding(s) off the diff were dropped.")
    cleaned = [
        replace(f, message=redact(f.message),
                suggestion=redact(f.suggestion) if f.suggestion else None)
        for f in valid
    ]  # fmt: skip
    kept = [f for f in cleaned if f.severity >= config.severity_threshold]
    if len(kept) < len(cleaned):
        report.notes.append(
            f"{len(cleaned) - len(kept)} finding(s) below severity "
            f"{config.severity_threshold.name.lower()} were left out."
        )
    report.findings = sorted(kept, key=lambda f: (f.path, f.line, -f.severity, f.source))
    return report


async def _lint(
    files: list[FileChange],
    diffmaps: dict[str, DiffMap],
    config: ReviewConfig,
    timeout: float,
    progress: ProgressCallback | None,
) -> LintResult:
    enabled = [name for name in LINTERS if config.wants(name)]
    if not enabled or not files:
        return LintResult()

    def run() -> LintResult:
        with checkout(files) as tree:
            done = 0

            def step(name: str) -> None:
                nonlocal done
                if progress:
                    progress(f"lint: {name}", done, len(enabled))
                done += 1

            result = LinterRunner(tree, diffmaps, timeout=timeout).run(enabled, step)
            if progress:
                progress("lint", len(enabled), len(enabled))
            for path, why in sorted(tree.skipped.items()):
                result.notes.append(f"Linters did not read {path}: {why}.")
            result.unread.update(tree.skipped)
            return result

    return await asyncio.to_thread(run)


def _unit_cost(unit: ReviewUnit, context_tokens: int, max_output: int, reflection: bool) -> int:
    cost = _SYSTEM_TOKENS + unit.tokens + context_tokens + max_output
    if reflection:  # the reflection call shows the diff again, plus the comments
        cost += unit.tokens + 250 + 120
    return cost


async def _run_llm(
    llm: JSONModel,
    plan: Plan,
    config: ReviewConfig,
    lint: LintResult,
    redact: Redactor,
    *,
    budget: _Budget,
    context_tokens: int,
    max_output_tokens: int,
    timeout: float,
    deadline: float | None,
    progress: ProgressCallback | None,
) -> _LLMRun:
    run = _LLMRun()
    units = plan.units
    health = getattr(llm, "health", None)
    if health is not None:
        try:
            await asyncio.wait_for(health(), timeout=min(timeout, 600))
        except Exception as exc:  # whatever the cause, the review goes on
            run.unavailable = str(exc)[:200] or type(exc).__name__
    if run.unavailable:
        run.notes.append(f"LLM unavailable ({run.unavailable}): linters only.")
        for unit in units:
            run.not_run[id(unit)] = "LLM unavailable"
        return run

    reflection = config.reflection_threshold > 0
    heads = {f.file.path: f.file.head_text for f in plan.files}
    maps = {f.file.path: f.diffmap for f in plan.files}
    pending_reflection = 0  # tokens the reflection of findings so far will still cost
    done = 0
    # Units in plan order (round-robin over files, riskiest first). Each pass takes what the
    # budget still allows, charged at a cautious estimate; the next pass re-checks against
    # what was really spent, so cautious estimates do not leave budget unused.
    queue = list(units)
    pass_no = 0
    while queue:
        pass_no += 1
        batch: list[ReviewUnit] = []
        later: list[ReviewUnit] = []
        reserved = 0
        for unit in queue:
            cost = _unit_cost(unit, context_tokens, max_output_tokens, reflection)
            if run.unavailable:
                run.not_run[id(unit)] = "LLM became unreachable"
            elif deadline is not None and time.monotonic() > deadline:
                run.not_run[id(unit)] = "time limit reached"
            elif budget.spent() + pending_reflection + reserved + cost > budget.limit:
                later.append(unit)
            else:
                batch.append(unit)
                reserved += cost
        if not batch:
            for unit in later:
                run.not_run[id(unit)] = "token budget exhausted"
            break
        stage = f"llm: pass {pass_no}"
        if progress:
            progress(stage, done, len(units))

        async def one(unit: ReviewUnit, stage: str = stage) -> UnitResult:
            start, end = unit.span
            context = enclosing_context(heads.get(unit.path), unit.path, start, end,
                                        max_tokens=context_tokens)  # fmt: skip
            result = await review_unit(
                llm, unit, maps[unit.path], context, language=config.language,
                instructions=config.instructions, redact=redact, max_tokens=max_output_tokens,
                timeout=timeout,
            )  # fmt: skip
            nonlocal done
            done += 1
            if progress:
                progress(stage, done, len(units))
            return result

        results = await asyncio.gather(*(one(u) for u in batch))
        for unit, result in zip(batch, results, strict=True):
            budget.add_estimate(_unit_cost(unit, context_tokens, max_output_tokens, False))
            if result.findings and reflection:
                pending_reflection += unit.tokens + 370
            if result.unavailable:
                run.unavailable = result.error
        run.results += results
        queue = later

    raw = [f for r in run.results for f in r.findings]
    moved = sum(r.moved for r in run.results)
    dropped = sum(r.dropped for r in run.results)
    failed = [r for r in run.results if r.error]
    calls = len(run.results)
    if failed:
        reasons = sorted({r.error or "" for r in failed})
        run.notes.append(f"{len(failed)} of {calls} LLM call(s) failed: {'; '.join(reasons)[:300]}")
    findings, duplicates = drop_linter_duplicates(raw, lint.findings)
    if reflection and findings:
        findings = await _reflect(llm, findings, run, config, redact, timeout, progress)
    run.findings = findings
    run.notes.append(
        f"LLM: {calls} call(s), {len(raw)} comment(s) placed ({moved} moved to the nearest "
        f"added line, {dropped} dropped off the diff or empty), {len(duplicates)} repeated a "
        f"linter finding, {len(findings)} kept."
    )
    return run


async def _reflect(
    llm: JSONModel,
    findings: list[Finding],
    run: _LLMRun,
    config: ReviewConfig,
    redact: Redactor,
    timeout: float,
    progress: ProgressCallback | None,
) -> list[Finding]:
    units = [r.unit for r in run.results if r.error is None]
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    kept: list[Finding] = []
    dropped: list[Finding] = []
    unscored = 0
    for i, (path, group) in enumerate(sorted(by_path.items())):
        if progress:
            progress("self-reflection", i, len(by_path))
        try:
            scores = await reflect(llm, group, [u for u in units if u.path == path],
                                   redact=redact, timeout=timeout)  # fmt: skip
        except Exception as exc:  # an unscored finding is kept, and said so
            kept += group
            unscored += len(group)
            run.notes.append(f"Self-reflection failed for {path} ({str(exc)[:120]}).")
            continue
        keep, drop = apply_scores(group, scores, config.reflection_threshold)
        kept += keep
        dropped += drop
    if progress:
        progress("self-reflection", len(by_path), len(by_path))
    run.notes.append(
        f"Self-reflection dropped {len(dropped)} of {len(findings)} LLM finding(s) scored "
        f"below {config.reflection_threshold:g}/10"
        + (f"; {unscored} kept unscored" if unscored else "")
        + "."
    )
    return kept


def _coverage(
    report: ReviewReport, plan: Plan, lint: LintResult, run: _LLMRun, *, llm_used: bool
) -> None:
    """Fill ``reviewed`` and ``partial``: what each analysed file got, in plain words."""
    unread = lint.unread
    reviewed_units: dict[str, list[ReviewUnit]] = {}
    failed_units: dict[str, list[tuple[ReviewUnit, str]]] = {}
    for result in run.results:
        if result.error is None:
            reviewed_units.setdefault(result.unit.path, []).append(result.unit)
        else:
            failed_units.setdefault(result.unit.path, []).append((result.unit, result.error))
    for file_plan in plan.files:
        path = file_plan.file.path
        gaps: list[str] = []
        if path in unread:
            gaps.append(f"linters could not read it ({unread[path]})")
        if llm_used and not run.unavailable:
            if file_plan.llm_skip:
                gaps.append(f"not reviewed by the LLM: {file_plan.llm_skip}")
            elif file_plan.units:
                gaps += _llm_gaps(file_plan.units, reviewed_units.get(path, []),
                                  failed_units.get(path, []), run.not_run)  # fmt: skip
        if gaps:
            report.partial[path] = "; ".join(gaps)
        else:
            report.reviewed.append(path)


def _llm_gaps(
    units: Sequence[ReviewUnit],
    reviewed: Sequence[ReviewUnit],
    failed: Sequence[tuple[ReviewUnit, str]],
    not_run: dict[int, str],
) -> list[str]:
    if len(reviewed) == len(units):
        return []
    missing: dict[str, list[str]] = {}
    for unit, error in failed:
        missing.setdefault(f"LLM call failed: {error}", []).append(unit.describe())
    for unit in units:
        if id(unit) in not_run:
            missing.setdefault(not_run[id(unit)], []).append(unit.describe())
    details = "; ".join(f"{', '.join(spans)} ({why})" for why, spans in missing.items())
    if not reviewed:
        return [f"not reviewed by the LLM: {details}; linters ran"]
    done = ", ".join(u.describe() for u in sorted(reviewed, key=lambda u: u.span))
    return [f"LLM reviewed {done}; not reviewed: {details}; linters ran on all added lines"]
