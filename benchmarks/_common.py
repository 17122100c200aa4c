"""Helpers shared by the benchmark scripts: result lines, percentiles, settings and the CLI.

Every result is one JSON object with ``metric``, ``value``, ``unit``, ``baseline`` and ``ratio``
(``value / baseline``), plus any context keys. The baseline is always measured in the same run
as the value, so the ratio stays meaningful on a noisy shared machine where absolute times
drift from one run to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("benchmarks")

Result = dict[str, Any]


def result(metric: str, value: float, unit: str, baseline: float, **context: Any) -> Result:
    """One result line; ``ratio`` is ``value / baseline`` (None when the baseline is 0)."""
    ratio = value / baseline if baseline else None
    line: Result = {
        "metric": metric,
        "value": _round(value),
        "unit": unit,
        "baseline": _round(baseline),
        "ratio": _round(ratio) if ratio is not None else None,
    }
    line.update({key: _round(v) if isinstance(v, float) else v for key, v in context.items()})
    return line


def _round(value: float) -> float:
    """Four significant digits: enough for timings that drift by several percent anyway."""
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.4g}")


def percentile(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


def p50(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


@contextlib.contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """``with timer() as elapsed: ...`` then ``elapsed()`` is the block's wall time in seconds."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def settings(**overrides: Any):
    """Settings for a benchmark: the usual environment, ``ASCENT_DATA_HOME`` included.

    ``--data-home`` on the command line sets ``ASCENT_DATA_HOME`` before this is called, so the
    embedded Postgres, the assembled models and the llama.cpp logs all live there.
    """
    from shared.config import Settings

    return Settings(**overrides)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # One line per health poll and request drowns the progress messages.
    for noisy in ("httpx", "httpx2", "openai", "sentence_transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer runs, for a smoke test"
    )
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        help="ASCENT_DATA_HOME for the run (default: the Settings() default, which honours "
        "ASCENT_DATA_HOME); e.g. /tmp/ascent-bench keeps benchmarks off your real data",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def apply_common_arguments(args: argparse.Namespace) -> None:
    configure_logging(args.verbose)
    if args.data_home is not None:
        os.environ["ASCENT_DATA_HOME"] = str(args.data_home.absolute())


def emit(lines: Sequence[Result], stream=None) -> None:
    stream = stream or sys.stdout
    for line in lines:
        stream.write(json.dumps(line) + "\n")
    stream.flush()


def call_quietly(run: Callable[[bool], list[Result]], quick: bool) -> list[Result]:
    """Call ``run`` with anything a library prints to stdout sent to stderr instead.

    stdout carries only JSON lines, so it can be piped straight into ``jq`` or a file.
    Each line also gets the machine's 1-minute load average before and after the run: on a
    shared machine a load above the core count means someone else's work skewed the timings.
    """
    before = _load()
    with contextlib.redirect_stdout(sys.stderr):
        lines = run(quick)
    after = _load()
    for line in lines:
        line.setdefault("load_1m_before", before)
        line.setdefault("load_1m_after", after)
    return lines


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


def main(name: str, run: Callable[[bool], list[Result]]) -> None:
    """``python -m benchmarks.<name> [--quick] [--data-home PATH]``."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    add_common_arguments(parser)
    args = parser.parse_args()
    apply_common_arguments(args)
    emit(call_quietly(run, args.quick))
