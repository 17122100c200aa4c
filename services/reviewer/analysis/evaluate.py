"""Precision and recall of the review engine on the labelled evaluation set.

    python -m services.reviewer.analysis.evaluate --out results.json            # linters + LLM
    python -m services.reviewer.analysis.evaluate --no-llm                      # linters only
    python -m services.reviewer.analysis.evaluate --model qwen2.5-coder-0.5b    # quick smoke

A finding matches a label when it is in the same file within ±2 lines. Precision counts
findings that match some label; recall counts labels some finding matches. Clean cases have
no labels, so everything found there lowers precision.

Two engine runs per case give four rows: the LLM alone without self-reflection (run A); and
everything with self-reflection (run B), from which the linter rows and the LLM-after-
reflection rows are read (linter findings never depend on the LLM). The LLM's first-pass
answers are cached between the runs, so run B's first pass costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from services.reviewer.analysis.engine import review
from services.reviewer.config import ANALYZERS, ReviewConfig
from services.reviewer.evalset import Case, Label, load_cases
from services.reviewer.model import Finding, Severity

TOLERANCE = 2
LINTER_NAMES = frozenset(a for a in ANALYZERS if a != "llm")


@dataclass
class Score:
    findings: int = 0
    matched_findings: int = 0
    labels: int = 0
    matched_labels: int = 0

    @property
    def precision(self) -> float:
        return self.matched_findings / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        return self.matched_labels / self.labels if self.labels else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Score) -> None:
        self.findings += other.findings
        self.matched_findings += other.matched_findings
        self.labels += other.labels
        self.matched_labels += other.matched_labels

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
            "findings": self.findings,
            "true_positive_findings": self.matched_findings,
            "labels": self.labels,
            "labels_found": self.matched_labels,
        }


def _hits(finding: Finding, label: Label, tolerance: int) -> bool:
    return (
        finding.path == label.path
        and finding.side == "RIGHT"
        and abs(finding.line - label.line) <= tolerance
    )


def score(
    findings: Sequence[Finding], labels: Sequence[Label], tolerance: int = TOLERANCE
) -> Score:
    return Score(
        findings=len(findings),
        matched_findings=sum(1 for f in findings if any(_hits(f, lb, tolerance) for lb in labels)),
        labels=len(labels),
        matched_labels=sum(1 for lb in labels if any(_hits(f, lb, tolerance) for f in findings)),
    )


class CachingLLM:
    """Wraps a gateway: identical structured requests are answered once."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.cache: dict[str, Any] = {}
        self.hits = 0

    @property
    def usage(self) -> Any:
        return self.llm.usage

    async def health(self) -> None:
        await self.llm.health()

    async def json(self, messages: Sequence[dict[str, Any]], schema: Any, **kwargs: Any) -> Any:
        key = hashlib.sha256(
            json.dumps([schema.__name__, list(messages)], sort_keys=True).encode()
        ).hexdigest()
        if key in self.cache:
            self.hits += 1
            return self.cache[key]
        answer = await self.llm.json(messages, schema, **kwargs)
        self.cache[key] = answer
        return answer


def _only(findings: Iterable[Finding], sources: Iterable[str]) -> list[Finding]:
    wanted = set(sources)
    return [f for f in findings if f.source in wanted]


async def evaluate(
    cases: Sequence[Case], llm: Any | None, *, reflection_threshold: float = 5.0
) -> dict[str, Any]:
    modes = ["linters"] + (["llm", "llm+reflection", "linters+llm+reflection"] if llm else [])
    totals = {m: Score() for m in modes}
    per_case: dict[str, dict[str, Any]] = {}
    cached = CachingLLM(llm) if llm is not None else None
    started = time.monotonic()
    base = ReviewConfig(severity_threshold=Severity.INFO, reflection_threshold=reflection_threshold)
    for i, case in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {case.id}", file=sys.stderr, flush=True)
        files = list(case.files)
        results: dict[str, list[Finding]] = {}
        if cached is None:
            report = await review(files, replace(base, analyzers=LINTER_NAMES), None)
            results["linters"] = report.findings
        else:
            raw = await review(
                files, replace(base, analyzers=frozenset({"llm"}), reflection_threshold=0), cached
            )
            both = await review(files, base, cached)
            results["llm"] = raw.findings
            results["linters"] = _only(both.findings, LINTER_NAMES)
            results["llm+reflection"] = _only(both.findings, {"llm"})
            results["linters+llm+reflection"] = both.findings
        per_case[case.id] = {"origin": case.origin, "labels": [lb.__dict__ for lb in case.labels]}
        for mode in modes:
            s = score(results[mode], case.labels)
            totals[mode].add(s)
            per_case[case.id][mode] = {
                **s.as_dict(),
                "found": [
                    {"line": f.line, "source": f.source, "rule": f.rule, "category": f.category,
                     "message": f.message[:160]}
                    for f in results[mode]
                ],
            }  # fmt: skip
    return {
        "cases": len(cases),
        "labels": sum(len(c.labels) for c in cases),
        "tolerance_lines": TOLERANCE,
        "reflection_threshold": reflection_threshold,
        "seconds": round(time.monotonic() - started, 1),
        "llm_tokens": getattr(getattr(llm, "usage", None), "total_tokens", 0),
        "llm_cache_hits": cached.hits if cached else 0,
        "modes": {m: totals[m].as_dict() for m in modes},
        "per_case": per_case,
    }


def markdown_table(result: dict[str, Any]) -> str:
    rows = [
        "| mode | precision | recall | F1 | findings | labels found |",
        "|---|---|---|---|---|---|",
    ]
    for mode, s in result["modes"].items():
        rows.append(
            f"| {mode} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} | "
            f"{s['findings']} | {s['labels_found']}/{s['labels']} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the full results as JSON here")
    parser.add_argument("--no-llm", action="store_true", help="linters only")
    parser.add_argument("--model", help="LLM model name (default: ASCENT_LLM_MODEL)")
    parser.add_argument(
        "--only", help="comma-separated texts: evaluate only cases whose id contains one"
    )
    parser.add_argument("--reflection-threshold", type=float, default=5.0)
    args = parser.parse_args(argv)
    wanted = [w.strip() for w in (args.only or "").split(",") if w.strip()]
    cases = [c for c in load_cases() if not wanted or any(w in c.id for w in wanted)]

    async def run() -> dict[str, Any]:
        llm = None
        if not args.no_llm:
            from shared.config import get_settings
            from shared.models.llm import LLMGateway, stop_embedded_servers

            llm = LLMGateway(get_settings(), model=args.model)
        try:
            result = await evaluate(cases, llm, reflection_threshold=args.reflection_threshold)
        finally:
            if llm is not None:
                await llm.aclose()
                stop_embedded_servers()
        if llm is not None:
            result["model"] = llm.model
        return result

    result = asyncio.run(run())
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(markdown_table(result))
    print(
        f"\n{result['cases']} cases, {result['labels']} labels, ±{TOLERANCE} lines, "
        f"{result['seconds']}s" + (f", model {result['model']}" if "model" in result else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
