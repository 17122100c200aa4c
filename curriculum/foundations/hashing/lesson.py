"""``ascent learn hashing``: twenty problems, each checked against brute force and timed."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.progress import Progress

from curriculum.foundations._report import Report, fmt, new_figure, track
from curriculum.foundations.hashing.catalog import PROBLEMS, Args, Problem


def seconds_per_call(solve: Callable, args: Args, budget: float, repeat: int = 3) -> float:
    """Best over ``repeat`` rounds of the mean time per call, each round ~``budget`` seconds."""
    best = math.inf
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            solve(*args)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= budget / repeat:
                break
        best = min(best, elapsed / calls)
    return best


def agreement(problem: Problem, cases: int, seed: int = 0) -> int:
    """How many of ``cases`` random inputs (sizes 0..40) get the oracle's answer."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
    return sum(problem.check(problem.make_input(rng, rng.randint(0, 40))) for _ in range(cases))


def scaling(problem: Problem, sizes: list[int], budget: float, oracle_limit: float):
    """Seconds per call at each size, fast and oracle; the oracle stops once it gets too slow."""
    rng = random.Random(1)  # noqa: S311 - seeded test data, not secrets
    fast, slow = [], []
    for n in sizes:
        args = problem.timing_input(rng, n)
        fast.append(seconds_per_call(problem.solve, args, budget))
        if problem.timed_oracle and (not slow or slow[-1] < oracle_limit):
            slow.append(seconds_per_call(problem.oracle, args, budget, repeat=1))
    return fast, slow


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Exponent k of time ~ n^k: least squares on the larger half of the sizes (log-log)."""
    half = max(2, len(seconds) // 2)
    x, y = np.log(sizes[: len(seconds)][-half:]), np.log(seconds[-half:])
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Check all twenty against their oracles, time both over n, write figures and report."""
    report = Report(out, "Arrays & hashing: twenty problems in linear time")
    report.text(
        "Each problem is solved in one or two passes with a dict or set "
        "(`curriculum/foundations/hashing/problems.py`) and checked against a brute-force "
        "oracle that tries every candidate (`brute_force.py`). The tests add property-based "
        "checks (hypothesis) against the same oracles."
    )
    cases = 200 if quick else 2000
    sizes = [32, 64, 128, 256] if quick else [64, 128, 256, 512, 1024, 2048, 4096]
    budget, oracle_limit = (0.003, 0.005) if quick else (0.03, 0.3)

    rows, curves = [], []
    for problem in track(progress, PROBLEMS, "problems"):
        agreed = agreement(problem, cases)
        fast, slow = scaling(problem, sizes, budget, oracle_limit)
        common = len(slow) - 1
        speedup = slow[common] / fast[common] if slow else float("nan")
        curves.append((problem, fast, slow))
        rows.append(
            (
                problem.name,
                problem.time,
                problem.space,
                problem.oracle_time,
                f"{agreed}/{cases}",
                fmt(slope(sizes, fast), 2),
                fmt(slope(sizes, slow), 2) if len(slow) > 2 else "–",
                f"{fmt(speedup, 3)}× at n={sizes[common]:,}" if slow else "–",
            )
        )
        report.results[problem.name] = {
            "agree": agreed,
            "cases": cases,
            "fast_exponent": slope(sizes, fast),
            "speedup": speedup,
            "speedup_n": sizes[common] if slow else None,
        }

    total = sum(r["agree"] for r in report.results.values())
    report.section(
        "Correctness and cost",
        f"**{total:,} of {cases * len(PROBLEMS):,}** random inputs (sizes 0–40) got the "
        "oracle's answer. The exponents are least-squares slopes of log time over log n on the "
        "larger half of the sizes (1 = linear, 2 = quadratic); the oracle stops growing n once "
        f"one call takes {oracle_limit * 1e3:g} ms. Timing inputs have no early exit (no "
        "duplicate, no pair, the missing positive is n + 1). Sudoku is a fixed 9×9 board and "
        "happy number's n is its digit count, so their exponents say little.",
    )
    report.table(
        ["problem", "time", "space", "oracle", "agree", "n^k, ours", "n^k, oracle", "speedup"],
        rows,
    )

    figure, axes = new_figure(13, 10, nrows=4, ncols=5)
    for ax, (problem, fast, slow) in zip(axes.flat, curves, strict=True):
        ax.loglog(sizes, fast, "o-", markersize=3, label="hash / one pass")
        if slow:
            ax.loglog(sizes[: len(slow)], slow, "s--", markersize=3, label="brute force")
        ax.set_title(problem.name, fontsize=9)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    figure.supxlabel("input size n")
    figure.supylabel("seconds per call")
    report.figure(figure, "scaling", "Time per call against input size, log-log")
    return report.write()
