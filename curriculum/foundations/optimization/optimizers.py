"""Gradient descent, momentum, RMSProp and Adam, updating a list of NumPy arrays in place.

With g the gradient, every method takes x <- x - lr * (direction); they differ in direction:

    GD        g
    momentum  v <- mu v + g                                 (a running sum: speeds up along
                                                             steady slopes, damps zig-zags)
    RMSProp   s <- rho s + (1 - rho) g^2;   g / (sqrt(s) + eps)   (per-coordinate step sizes)
    Adam      m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
              m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t);   m^ / (sqrt(v^) + eps)

Adam is Kingma & Ba (2015), Algorithm 1; the bias corrections undo the zero start of m and v.
``weight_decay`` adds wd * x to g first (L2 regularisation, as torch.optim.Adam does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Optimizer:
    """Holds per-parameter state; ``step`` applies one update to every array in place."""

    def __init__(self, params: Sequence[np.ndarray], lr: float) -> None:
        self.params = list(params)
        self.lr = lr

    def step(self, grads: Sequence[np.ndarray]) -> None:
        raise NotImplementedError


class GradientDescent(Optimizer):
    def step(self, grads: Sequence[np.ndarray]) -> None:
        for x, g in zip(self.params, grads, strict=True):
            x -= self.lr * g


class Momentum(Optimizer):
    """Heavy-ball momentum, in the form PyTorch's SGD uses (v accumulates raw gradients)."""

    def __init__(self, params: Sequence[np.ndarray], lr: float, momentum: float = 0.9) -> None:
        super().__init__(params, lr)
        self.momentum = momentum
        self.velocity = [np.zeros_like(x) for x in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        for x, g, v in zip(self.params, grads, self.velocity, strict=True):
            v *= self.momentum
            v += g
            x -= self.lr * v


class RMSProp(Optimizer):
    def __init__(
        self, params: Sequence[np.ndarray], lr: float, rho: float = 0.9, eps: float = 1e-8
    ) -> None:
        super().__init__(params, lr)
        self.rho, self.eps = rho, eps
        self.square = [np.zeros_like(x) for x in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        for x, g, s in zip(self.params, grads, self.square, strict=True):
            s *= self.rho
            s += (1 - self.rho) * g * g
            x -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    def __init__(
        self,
        params: Sequence[np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.t = 0
        self.m = [np.zeros_like(x) for x in self.params]
        self.v = [np.zeros_like(x) for x in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        self.t += 1
        correction1 = 1 - self.beta1**self.t
        correction2 = 1 - self.beta2**self.t
        for x, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if self.weight_decay:
                g = g + self.weight_decay * x
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            # Written as lr / c1 * m / (sqrt(v) / sqrt(c2) + eps): the same algebra as the
            # paper's m^ / (sqrt(v^) + eps), and the same float rounding as torch.optim.Adam.
            x -= (self.lr / correction1) * m / (np.sqrt(v) / np.sqrt(correction2) + self.eps)


def trajectory(
    make: type[Optimizer], grad, start: Sequence[float], steps: int, **settings: float
) -> np.ndarray:
    """Points visited by optimizer class ``make`` from ``start``: shape (steps + 1, dim)."""
    x = np.array(start, dtype=np.float64)
    optimizer = make([x], **settings)
    points = [x.copy()]
    for _ in range(steps):
        optimizer.step([grad(x)])
        points.append(x.copy())
    return np.array(points)
