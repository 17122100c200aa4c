"""Matrix multiplication three ways: textbook loops, cache-blocked loops, NumPy (BLAS).

C = A @ B costs 2 n m p floating-point operations (a multiply and an add per term), whatever
the method; what differs is how many of them run per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

Matrix = list[list[float]]


def matmul_naive(a: Matrix, b: Matrix) -> Matrix:
    """c[i][j] = sum_k a[i][k] * b[k][j], straight from the definition (i, j, k loops)."""
    n, m, p = len(a), len(b), len(b[0]) if b else 0
    c = [[0.0] * p for _ in range(n)]
    for i in range(n):
        for j in range(p):
            total = 0.0
            for k in range(m):
                total += a[i][k] * b[k][j]  # b[k][j] walks down a column: a new row each step
            c[i][j] = total
    return c


def matmul_blocked(a: Matrix, b: Matrix, block: int = 32) -> Matrix:
    """The same sum over block x block tiles, with the loops in i, k, j order inside a tile.

    Tiling keeps a tile of A, B and C hot in cache while it is reused `block` times; the i-k-j
    order reads B and writes C along rows. In C that is most of BLAS's speed-up; in Python the
    interpreter's ~50 ns per step swamps cache effects, and the gain comes from hoisting the
    row lookups (``row_c``, ``row_b``) out of the innermost loop.
    """
    n, m, p = len(a), len(b), len(b[0]) if b else 0
    c = [[0.0] * p for _ in range(n)]
    for i0 in range(0, n, block):
        for k0 in range(0, m, block):
            for j0 in range(0, p, block):
                j1 = min(j0 + block, p)
                for i in range(i0, min(i0 + block, n)):
                    row_a, row_c = a[i], c[i]
                    for k in range(k0, min(k0 + block, m)):
                        a_ik, row_b = row_a[k], b[k]
                        for j in range(j0, j1):
                            row_c[j] += a_ik * row_b[j]
    return c


def matmul_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy hands the work to BLAS (OpenBLAS here): vectorized, blocked, multi-threaded C."""
    return a @ b


def flops(n: int) -> int:
    """Floating-point operations of an n x n by n x n product."""
    return 2 * n**3


def seconds(multiply: Callable[[], object], min_total: float = 0.05, repeat: int = 3) -> float:
    """Best-of-``repeat`` time of one call, looping small cases until ``min_total`` seconds."""
    best = float("inf")
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            multiply()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_total:
                break
        best = min(best, elapsed / calls)
    return best


def random_pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)), rng.standard_normal((n, n))
