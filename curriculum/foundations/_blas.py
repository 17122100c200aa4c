"""BLAS thread control for timings.

OpenBLAS threads spin while they wait for each other. When another process holds one of the
two cores, a 2-thread product can run 100× slower than a 1-thread one (measured here: 0.26
against 47 GFLOP/s at n = 128), so timings that must mean something use one thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def blas_threads(limit: int | None = 1) -> Iterator[None]:
    """Cap NumPy's BLAS (and torch's OpenMP) at ``limit`` threads inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit):
        yield
