"""A review report as text (people), JSON (scripts) or SARIF 2.1.0 (code-scanning tools)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any
from urllib.parse import quote

from services.reviewer.model import Finding, ReviewReport, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "ascent-review"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def rule_id(finding: Finding) -> str:
    return f"{finding.source}/{finding.rule or finding.category}"


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "line": finding.line,
        "start_line": finding.start_line,
        "side": finding.side,
        "severity": finding.severity.name.lower(),
        "category": finding.category,
        "source": finding.source,
        "rule": finding.rule,
        "message": finding.message,
        "suggestion": finding.suggestion,
        "score": finding.score,
    }


def summary_counts(report: ReviewReport) -> dict[str, int]:
    counts = Counter(f.severity.name.lower() for f in report.findings)
    return {s.name.lower(): counts.get(s.name.lower(), 0) for s in reversed(Severity)}


def to_json(report: ReviewReport) -> str:
    return json.dumps(
        {
            "findings": [finding_dict(f) for f in report.findings],
            "counts": summary_counts(report),
            "reviewed": report.reviewed,
            "partial": report.partial,
            "skipped": report.skipped,
            "notes": report.notes,
        },
        indent=2,
    )


def to_text(report: ReviewReport) -> str:
    out: list[str] = []
    for f in report.findings:
        where = f"{f.path}:{f.start_line}-{f.line}" if f.start_line else f"{f.path}:{f.line}"
        side = "" if f.side == "RIGHT" else " (removed line)"
        tag = f"{f.source} {f.rule}" if f.rule else f.source
        out.append(f"{where}{side}: {f.severity.name} {f.category} [{tag}] {f.message}")
        if f.suggestion:
            out.append("    suggestion:")
            out += [f"      {line}" for line in f.suggestion.splitlines()]
    counts = summary_counts(report)
    total = len(report.findings)
    parts = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    out.append("")
    out.append(f"{total} finding(s)" + (f": {parts}" if parts else "") + ".")
    out.append(f"Reviewed fully: {len(report.reviewed)} file(s).")
    for path, why in sorted(report.partial.items()):
        out.append(f"Partly reviewed: {path}: {why}")
    for path, why in sorted(report.skipped.items()):
        out.append(f"Skipped: {path}: {why}")
    out += [f"Note: {note}" for note in report.notes]
    return "\n".join(out) + "\n"


def _fingerprint(finding: Finding) -> str:
    key = "|".join(map(str, (finding.path, finding.line, rule_id(finding), finding.message)))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def to_sarif(report: ReviewReport, *, version: str = "0.1.0") -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run. Removed-line (LEFT) findings point at the old file's
    line and say so in their properties."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for finding in report.findings:
        rid = rule_id(finding)
        if rid not in rules:
            rules[rid] = {
                "id": rid,
                "shortDescription": {"text": f"{finding.category} ({finding.source})"},
                "defaultConfiguration": {"level": _LEVEL[finding.severity]},
                "properties": {"tags": [finding.category, finding.source]},
            }
        region: dict[str, Any] = {"startLine": finding.start_line or finding.line}
        region["endLine"] = finding.line
        uri = quote(finding.path)
        result: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": list(rules).index(rid),
            "level": _LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                        "region": region,
                    }
                }
            ],
            "partialFingerprints": {"ascentFinding/v1": _fingerprint(finding)},
            "properties": {
                "severity": finding.severity.name.lower(),
                "category": finding.category,
                "source": finding.source,
                "side": finding.side,
                **({"score": finding.score} if finding.score is not None else {}),
            },
        }
        if finding.suggestion is not None and finding.side == "RIGHT":
            result["fixes"] = [
                {
                    "description": {"text": "Suggested replacement"},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                            "replacements": [
                                {
                                    "deletedRegion": dict(region),
                                    "insertedContent": {"text": finding.suggestion + "\n"},
                                }
                            ],
                        }
                    ],
                }
            ]
        results.append(result)
    notifications = [{"level": "note", "message": {"text": note}} for note in report.notes]
    notifications += [
        {"level": "note", "message": {"text": f"Partly reviewed {path}: {why}"}}
        for path, why in sorted(report.partial.items())
    ]
    notifications += [
        {"level": "note", "message": {"text": f"Skipped {path}: {why}"}}
        for path, why in sorted(report.skipped.items())
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": version,
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }
