"""What every lesson writes: PNG figures and a short Markdown report in one output folder."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.progress import Progress

T = TypeVar("T")


def new_figure(width: float = 6.4, height: float = 4.0, **subplots: Any):
    """A matplotlib Figure and its axes, off-screen (Agg): no pyplot global state, no display."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(**subplots)


def track(progress: Progress | None, items: Iterable[T], description: str) -> Iterator[T]:
    """Iterate over items, advancing a Rich progress bar when the caller shows one."""
    items = list(items)
    if progress is None:
        yield from items
        return
    task = progress.add_task(description, total=len(items))
    for item in items:
        yield item
        progress.advance(task)


def fmt(value: float, digits: int = 3) -> str:
    """A number for a table: significant digits, thousands separators for large values."""
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


class Report:
    """Markdown built section by section; figures are saved next to it as PNG files.

    ``results`` collects the headline figures; they are written as ``results.json`` beside the
    report, for tests and benchmarks to read back.
    """

    def __init__(self, out: Path, title: str) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.lines = [f"# {title}", ""]
        self.figures: list[Path] = []
        self.results: dict[str, Any] = {}

    def text(self, markdown: str) -> None:
        self.lines += [markdown.strip(), ""]

    def section(self, title: str, markdown: str = "") -> None:
        self.lines += [f"## {title}", ""]
        if markdown:
            self.text(markdown)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        def line(cells: Iterable[Any]) -> str:
            # A "|" inside a cell (|x|, a message) would end the cell: escape it.
            return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

        self.lines.append(line(headers))
        self.lines.append("|" + "|".join("---" for _ in headers) + "|")
        self.lines += [line(row) for row in rows]
        self.lines.append("")

    def figure(self, figure: Any, name: str, caption: str) -> Path:
        path = self.out / f"{name}.png"
        figure.savefig(path, dpi=110)
        self.figures.append(path)
        self.lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        return path

    def write(self) -> Path:
        path = self.out / "report.md"
        path.write_text("\n".join(self.lines).rstrip() + "\n")
        (self.out / "results.json").write_text(json.dumps(self.results, indent=2) + "\n")
        return path
