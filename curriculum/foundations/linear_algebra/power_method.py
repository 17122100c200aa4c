"""Top-k singular triplets by the power method with deflation.

Repeatedly applying A^T A to a vector multiplies its component along v_i by s_i^2, so the
direction of the largest singular value wins: after t steps the error shrinks like
(s_2 / s_1)^(2t). Then *deflation* subtracts the layer found, A <- A - s_1 u_1 v_1^T, so that
the next run finds s_2, and so on. Close singular values (ratio near 1) converge slowly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerResult:
    u: np.ndarray  # m x k
    s: np.ndarray  # k
    vt: np.ndarray  # k x n
    iterations: np.ndarray  # steps taken for each singular value


def top_singular_triplet(
    a: np.ndarray, v: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, float, np.ndarray, int]:
    """(u, s, v, steps) for the largest singular value of ``a``, starting from ``v``."""
    v = v / np.linalg.norm(v)
    sigma, step = 0.0, 0
    while step < max_iter:
        step += 1
        u = a @ v
        u /= np.linalg.norm(u)
        w = a.T @ u  # = A^T A v / |A v|: one power step on A^T A
        sigma = float(np.linalg.norm(w))
        w /= sigma
        converged = np.linalg.norm(w - v) < tol
        v = w
        if converged:
            break
    return a @ v / sigma, sigma, v, step


def power_svd(
    a: np.ndarray, k: int, tol: float = 1e-10, max_iter: int = 20_000, seed: int = 0
) -> PowerResult:
    """The k largest singular values and vectors of ``a``, one at a time with deflation."""
    rng = np.random.default_rng(seed)
    residual = np.array(a, dtype=np.float64)
    us, ss, vs, steps = [], [], [], []
    for _ in range(k):
        u, s, v, taken = top_singular_triplet(
            residual, rng.standard_normal(a.shape[1]), tol, max_iter
        )
        residual -= s * np.outer(u, v)  # deflation: remove the layer just found
        us.append(u)
        ss.append(s)
        vs.append(v)
        steps.append(taken)
    return PowerResult(np.column_stack(us), np.array(ss), np.vstack(vs), np.array(steps))


def predicted_steps(s: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Steps for the error to fall below ``tol`` if it shrinks by (s_{i+1} / s_i)^2 each step."""
    ratio = (s[1:] / s[:-1]) ** 2
    return np.log(tol) / np.log(np.clip(ratio, 1e-300, 1 - 1e-15))
