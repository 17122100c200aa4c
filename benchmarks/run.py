"""Run the benchmarks: ``python -m benchmarks.run [names...] [--quick] [--data-home PATH]``.

Every result goes to stdout as one JSON line; progress and logs go to stderr, so
``python -m benchmarks.run --quick > results.jsonl`` keeps only the results. The benchmarks
run one after another (never in parallel: they would skew each other's timings). One that
fails is reported on stderr and the rest still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from benchmarks import BENCHMARKS
from benchmarks._common import (
    add_common_arguments,
    apply_common_arguments,
    call_quietly,
    emit,
    machine,
)

logger = logging.getLogger("benchmarks.run")

BUSY_THRESHOLD = 0.1  # share of the machine's CPU used by others before we warn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {BENCHMARKS})"
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    apply_common_arguments(args)

    names = args.names or list(BENCHMARKS)
    logger.info("running %s%s on %s", ", ".join(names), " (quick)" if args.quick else "", machine())
    failed = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        logger.info("== %s", name)
        start = time.perf_counter()
        try:
            lines = call_quietly(module.run, args.quick)
        except Exception:
            logger.exception("benchmark %s failed", name)
            failed.append(name)
            continue
        emit(lines)
        logger.info("== %s done in %.1fs", name, time.perf_counter() - start)
        _warn_if_busy(name, lines)
    if failed:
        logger.error("failed: %s", ", ".join(failed))
        return 1
    return 0


def _warn_if_busy(name: str, lines: list[dict]) -> None:
    """Say so when other processes took a real share of the CPU during the benchmark."""
    other = max((line.get("cpu_other_share") or 0.0 for line in lines), default=0.0)
    if other > BUSY_THRESHOLD:
        logger.warning(
            "%s: other processes used %.0f%% of the machine's CPU meanwhile; treat these "
            "figures with suspicion and rerun on a quiet machine",
            name, 100 * other,
        )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
