"""A pull request of the whole evaluation set reviewed end to end with the embedded 1.5B model.

The PR is built from the reviewer's labelled evaluation set (buggy changes: bandit-style
security issues, pylint-style bugs, hand-written mistakes), taking whole cases until 300
changed lines or the set runs out (the whole set is 209 changed lines in 41 files: many small
files, so more LLM calls than one 300-line change would need). The review is the engine a
GitHub job runs: diff maps, ruff, bandit, detect-secrets and semgrep on the changed files, the
LLM review per hunk with context, the self-reflection pass, and the report. GitHub's API round
trips are not included (against the fake server they take milliseconds; against GitHub they
depend on the network).

Measured: seconds from start to report, with the embedded Qwen2.5-Coder-1.5B (2 slots).
Baseline: the same PR with the LLM off (linters only). Context: tokens, files, findings.
"""

from __future__ import annotations

import asyncio
import logging
import time

from benchmarks._common import main, result, settings

logger = logging.getLogger("benchmarks.reviewer_review")
MODEL = "qwen2.5-coder-1.5b"
TARGET_LINES = 300


def _pull_request(target: int):
    from services.reviewer.evalset import load_cases

    files, lines = [], 0
    for case in load_cases():
        for change in case.files:
            rows = (change.patch or "").splitlines()
            added = sum(row.startswith(("+", "-")) and not row.startswith(("+++", "---"))
                        for row in rows)  # fmt: skip
            files.append(change)
            lines += added
        if lines >= target:
            break
    return files, lines


async def _review(files, llm):
    from services.reviewer.analysis.engine import review
    from services.reviewer.config import ReviewConfig

    start = time.perf_counter()
    report = await review(files, ReviewConfig(), llm)
    return time.perf_counter() - start, report


def run(quick: bool) -> list[dict]:
    from shared.models.llm import LLMGateway, stop_embedded_servers

    files, lines = _pull_request(100 if quick else TARGET_LINES)
    try:
        linters_s, linters_report = asyncio.run(_review(files, None))
        llm = LLMGateway(settings(llm_model=MODEL))

        async def with_model():
            await llm.chat([{"role": "user", "content": "hi"}], max_tokens=1)  # start + warm
            usage_before = llm.usage.total_tokens
            elapsed, report = await _review(files, llm)
            await llm.aclose()
            return elapsed, report, llm.usage.total_tokens - usage_before

        elapsed, report, tokens = asyncio.run(with_model())
    finally:
        stop_embedded_servers()
    by_source: dict[str, int] = {}
    for finding in report.findings:
        by_source[finding.source] = by_source.get(finding.source, 0) + 1
    context = {"model": MODEL, "changed_lines": lines, "files": len(files), "tokens": tokens,
               "findings": by_source, "linter_findings": len(linters_report.findings),
               "partial": len(report.partial), "skipped": len(report.skipped)}  # fmt: skip
    return [result("review_pr_s", elapsed, "s", linters_s, **context)]


if __name__ == "__main__":
    main("reviewer_review", run)
