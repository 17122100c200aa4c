"""The comparison table and plot, shared by the lesson and the benchmark."""

from __future__ import annotations

import math

from curriculum.foundations._report import Report, new_figure
from curriculum.quantization.quantization.compare import Row

HEADERS = [
    "variant",
    "perplexity",
    "vs float",
    "block linears, MB",
    "all weights, MB",
    "forward tok/s",
    "generate tok/s",
    "quantize s",
]


def _number(value: float | None, digits: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, digits)


def cells(rows: list[Row]) -> list[list[str]]:
    reference = rows[0].perplexity
    out = []
    for row in rows:
        change = (row.perplexity / reference - 1) * 100
        out.append([
            row.variant,
            _number(row.perplexity, ".3f"),
            "—" if row is rows[0] else f"{change:+.1f}%",
            _number(row.linear_bytes / 1e6 if row.linear_bytes else None, ".2f"),
            _number(row.total_bytes / 1e6, ".1f"),
            _number(row.forward_tokens_per_s, ".0f"),
            _number(row.generate_tokens_per_s, ".1f"),
            _number(row.quantize_seconds, ".1f") if row.quantize_seconds else "—",
        ])  # fmt: skip
    return out


def add_comparison(report: Report, rows: list[Row], name: str, caption: str) -> None:
    report.table(HEADERS, cells(rows))
    figure, axis = new_figure(7, 4)
    for row in rows:
        if row.linear_bytes:
            axis.scatter(row.linear_bytes / 1e6, row.perplexity)
            axis.annotate(row.variant, (row.linear_bytes / 1e6, row.perplexity), fontsize=7)
    axis.set_xlabel("block linear layers as stored, MB")
    axis.set_ylabel("perplexity (held-out)")
    report.figure(figure, name, caption)
    report.results[name] = [row.as_dict() for row in rows]
