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
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
    Each line also gets ``cpu_other_share``: the fraction of the machine's CPU time, over the
    run, spent by processes other than this one, its children (the llama.cpp servers) and
    the embedded Postgres cluster under the data home. Above ~0.1 something else was
    competing for the cores and the timings, ratios included, are suspect.
    """
    before = CpuSnapshot.take()
    with contextlib.redirect_stdout(sys.stderr):
        lines = run(quick)
    other, own = CpuSnapshot.take().shares_since(before)
    for line in lines:
        line.setdefault("cpu_other_share", other)
        line.setdefault("cpu_own_share", own)
    return lines


@dataclass(frozen=True)
class CpuSnapshot:
    """Machine-wide busy CPU seconds and this process tree's own CPU seconds, at one instant."""

    wall: float
    busy: float
    own: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        import psutil

        t = psutil.cpu_times()
        # Busy = everything but idle, iowait and the hypervisor's steal (guest time is
        # already inside user).
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
        me = psutil.Process()
        own = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):  # children: once reaped
            usage = resource.getrusage(who)
            own += usage.ru_utime + usage.ru_stime
        for child in me.children(recursive=True):  # children still running
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                own += times.user + times.system
        return cls(time.monotonic(), busy, own + _cluster_cpu())

    def shares_since(self, earlier: CpuSnapshot) -> tuple[float, float]:
        """(others' share, own share) of the machine's CPU capacity between the two."""
        capacity = (self.wall - earlier.wall) * (os.cpu_count() or 1)
        if capacity <= 0:
            return 0.0, 0.0
        own = self.own - earlier.own
        other = max(0.0, (self.busy - earlier.busy) - own)
        return round(other / capacity, 3), round(own / capacity, 3)


def _cluster_cpu() -> float:
    """CPU seconds used so far by the embedded Postgres cluster under the data home.

    pg_ctl detaches the server, so it is not our child; the postmaster's own times plus
    those of the backends it has reaped plus those still running cover the whole cluster.
    A cluster that a benchmark starts and stops again is gone by the second snapshot, so
    its work then counts as someone else's.
    """
    import psutil

    try:
        pid = int((settings().postgres_dir / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for backend in postmaster.children():
            with contextlib.suppress(psutil.Error):
                times = backend.cpu_times()
                total += times.user + times.system
    except (OSError, ValueError, IndexError, psutil.Error):
        return 0.0
    return total


def main(name: str, run: Callable[[bool], list[Result]]) -> None:
    """``python -m benchmarks.<name> [--quick] [--data-home PATH]``."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    add_common_arguments(parser)
    args = parser.parse_args()
    apply_common_arguments(args)
    emit(call_quietly(run, args.quick))
