"""``ascent learn collections``: CPython's test suite and a benchmark against the C versions."""

from __future__ import annotations

import platform
from pathlib import Path

from rich.progress import Progress

from curriculum.foundations._report import Report, fmt, new_figure, track
from curriculum.foundations.collections import bench, cpython_suite

# Every failure we expect, by test name: behaviour that only the C implementation can have.
C_SPECIFIC = {
    "test_sizeof": "`sys.getsizeof` must equal the C struct plus its 64-slot blocks, byte for byte",
    "test_field_repr": "the field descriptor's repr must name the C type `_tuplegetter`",
}


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Run CPython's tests against our classes, time both, write figures and report.md."""
    report = Report(out, "collections from scratch, checked by CPython's own tests")
    report.text(
        "`deque` (ring buffer), `Counter`, `OrderedDict` (dict + linked list), `defaultdict` "
        "and `namedtuple`, re-implemented in `curriculum/foundations/collections/`, then run "
        f"through the regression tests that ship with this interpreter "
        f"(CPython {platform.python_version()}, package `test`), unchanged."
    )
    classes = cpython_suite.test_classes()
    results = [
        cpython_suite.run_class(suite, cls)
        for suite, cls in track(progress, classes, "CPython test classes")
    ]
    _suite_section(report, results)

    n = 2_000 if quick else 20_000
    timings = [
        bench.time_case(case, n, repeat=2 if quick else 5)
        for case in track(progress, bench.CASES, "benchmark vs C")
    ]
    _bench_section(report, timings, n, quick)
    return report.write()


def _suite_section(report: Report, results: list[cpython_suite.ClassResult]) -> None:
    statuses = ("pass", "fail", "error", "skip")
    total = {s: sum(r.count(s) for r in results) for s in statuses}
    report.results["cpython_tests"] = {
        f"{r.suite}.{r.test_class}": {s: r.count(s) for s in statuses}
        | {"failed": [o.test for o in r.outcomes if o.status in ("fail", "error")]}
        for r in results
    }
    ran = total["pass"] + total["fail"] + total["error"]
    report.section(
        "CPython's tests",
        f"**{total['pass']} of {ran} tests pass** ({total['fail']} fail, {total['error']} "
        f"errors, {total['skip']} skipped by the suite itself), in {len(results)} test classes.",
    )
    report.table(
        ["suite", "test class", "pass", "fail", "error", "skip"],
        [(r.suite, r.test_class, *(r.count(status) for status in statuses)) for r in results],
    )
    problems = [
        (r.test_class, o) for r in results for o in r.outcomes if o.status in ("fail", "error")
    ]
    if problems:
        report.text("Every failure, and why:")
        report.table(
            ["class", "test", "category", "message"],
            [
                (
                    cls,
                    o.test,
                    C_SPECIFIC.get(o.test, "**not C-specific: a bug of ours**"),
                    o.message.splitlines()[0],
                )
                for cls, o in problems
            ],
        )
    skipped = [(r.test_class, o) for r in results for o in r.outcomes if o.status == "skip"]
    if skipped:
        report.text(
            "Skipped by the suite: "
            + "; ".join(f"`{cls}.{o.test}` ({o.message})" for cls, o in skipped)
            + "."
        )

    figure, ax = new_figure(7, 0.35 * len(results) + 1)
    labels = [f"{r.suite}.{r.test_class}" for r in results]
    left = [0] * len(results)
    for status, colour in (("pass", "tab:green"), ("fail", "tab:red"), ("error", "tab:orange")):
        counts = [r.count(status) for r in results]
        ax.barh(labels, counts, left=left, color=colour, label=status)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("tests")
    ax.legend(loc="lower right")
    report.figure(figure, "cpython_tests", "CPython's tests per class, run against our classes")


def _bench_section(report: Report, timings: list[bench.Timing], n: int, quick: bool) -> None:
    report.section(
        "Speed against the standard library",
        f"n = {n:,}; best of {'2' if quick else '5'} interleaved runs each; ratios above 1 "
        "mean ours is slower. `Counter` and `namedtuple` are Python in CPython too, helped by "
        "a C counting loop (`_count_elements`) and a C field getter (`_tuplegetter`).",
    )
    report.results["ours_over_stdlib"] = {f"{t.container}: {t.operation}": t.ratio for t in timings}
    report.table(
        ["class", "operation", "ours (ms)", "stdlib (ms)", "ours / stdlib", "stdlib is"],
        [
            (
                t.container,
                t.operation,
                fmt(t.ours_s * 1e3),
                fmt(t.stdlib_s * 1e3),
                f"{fmt(t.ratio, 2)}×",
                bench.STDLIB_KIND[t.container],
            )
            for t in timings
        ],
    )
    figure, ax = new_figure(7, 0.32 * len(timings) + 1)
    ax.barh([f"{t.container}: {t.operation}" for t in timings], [t.ratio for t in timings])
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("time, ours / standard library (log scale; 1 = as fast)")
    report.figure(figure, "speed_ratio", "How much slower (or faster) each operation is")

    size = 20_000 if quick else 1_000_000
    positions = [k * (size - 1) // 8 for k in range(9)]
    ours_cost = bench.index_cost(bench.OURS, size)
    c_cost = bench.index_cost(bench.STDLIB, size)
    figure, ax = new_figure()
    ax.plot(positions, [s * 1e9 for s in ours_cost], "o-", label="ours (ring buffer)")
    ax.plot(positions, [s * 1e9 for s in c_cost], "s-", label="CPython (linked 64-slot blocks)")
    ax.set_xlabel(f"index i in a deque of {size:,}")
    ax.set_ylabel("ns per d[i]")
    ax.legend()
    report.figure(
        figure,
        "deque_index_cost",
        "Indexing: O(1) in a ring buffer; the C deque walks blocks from the nearer end",
    )
