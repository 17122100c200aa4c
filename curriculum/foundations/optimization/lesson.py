"""``ascent learn optimization``: four optimizers on three losses; backprop checked numerically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure, track
from curriculum.foundations.optimization import objectives, two_layer
from curriculum.foundations.optimization.optimizers import (
    Adam,
    GradientDescent,
    Momentum,
    RMSProp,
    trajectory,
)

# Learning rates picked by hand per problem (the report says which): each is about the
# largest that stays stable, so the comparison is of methods, not of tuning effort.
SETTINGS = {
    "x²": {
        "GD": (GradientDescent, {"lr": 0.1}),
        "momentum": (Momentum, {"lr": 0.1, "momentum": 0.9}),
        "RMSProp": (RMSProp, {"lr": 0.1}),
        "Adam": (Adam, {"lr": 0.1}),
    },
    "Rosenbrock": {
        "GD": (GradientDescent, {"lr": 1e-3}),
        "momentum": (Momentum, {"lr": 2e-4, "momentum": 0.95}),
        "RMSProp": (RMSProp, {"lr": 1e-3}),
        "Adam": (Adam, {"lr": 0.02}),
    },
    "logistic": {
        "GD": (GradientDescent, {"lr": 0.05}),
        "momentum": (Momentum, {"lr": 0.01, "momentum": 0.9}),
        "RMSProp": (RMSProp, {"lr": 0.01}),
        "Adam": (Adam, {"lr": 0.05}),
    },
}


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Run every optimizer on x², Rosenbrock and a logistic loss; check the 2-layer gradients."""
    report = Report(out, "Optimization: gradient descent and its descendants")
    report.text(
        "`optimizers.py` implements gradient descent, heavy-ball momentum, RMSProp and Adam "
        "(updates in its docstring) on lists of NumPy arrays, the form `mlp_numpy` trains with. "
        "Every gradient below is derived by hand (`objectives.py`, `two_layer.py`)."
    )
    steps = {"x²": 200, "Rosenbrock": 1500 if quick else 5000, "logistic": 100 if quick else 300}
    sections = (_square_section, _rosenbrock_section, _logistic_section, _gradient_check_section)
    for section in track(progress, sections, "sections"):
        section(report, steps)
    return report.write()


def _settings_text(problem: str) -> str:
    return ", ".join(
        f"{name} " + " ".join(f"{k}={v:g}" for k, v in kw.items())
        for name, (_, kw) in SETTINGS[problem].items()
    )


def _paths(problem: str, grad, start, steps: int) -> dict[str, np.ndarray]:
    return {
        name: trajectory(make, grad, start, steps, **kw)
        for name, (make, kw) in SETTINGS[problem].items()
    }


def _square_section(report: Report, steps: dict[str, int]) -> None:
    n = steps["x²"]
    paths = _paths("x²", objectives.square_grad, [5.0], n)
    report.section(
        "f(x) = x²",
        "From x = 5. Gradient descent multiplies x by (1 − 2·lr) each step, so it converges "
        "for 0 < lr < 1, in one step at lr = 0.5, oscillating above 0.5 and diverging past 1 "
        "(right panel); at lr = 0.1 it shrinks x by 0.8 a step, the best of the four on a "
        "perfectly round bowl. Momentum at the same lr overshoots and spirals in (≈ √μ per "
        "step). RMSProp divides by the gradient's running size, so its steps stay ≈ lr: it "
        "walks to 0 and then hops around it, never settling without a decaying lr. Adam starts "
        "the same way, but its averaged gradient m cancels while it oscillates, so the steps "
        f"shrink and it converges, slowly. Settings: {_settings_text('x²')}.",
    )
    report.table(
        ["optimizer", f"|x| after {n} steps", "first step with |x| < 1e-3"],
        [
            (name, f"{abs(p[-1, 0]):.1e}", _first_below(np.abs(p[:, 0]), 1e-3))
            for name, p in paths.items()
        ],
    )
    report.results["square"] = {name: float(abs(p[-1, 0])) for name, p in paths.items()}
    figure, (ax, ax_lr) = new_figure(11, 3.8, ncols=2)
    for name, p in paths.items():
        ax.semilogy(np.abs(p[:, 0]) + 1e-300, label=name)
    ax.set(xlabel="step", ylabel="|x|", title="four optimizers", ylim=(1e-12, 50))
    ax.legend()
    for lr in (0.1, 0.5, 0.9, 1.02):
        path = trajectory(GradientDescent, objectives.square_grad, [5.0], 30, lr=lr)
        ax_lr.plot(path[:, 0], "o-", markersize=3, label=f"lr = {lr}")
    ax_lr.set(xlabel="step", ylabel="x", title="gradient descent, learning rates", ylim=(-12, 12))
    ax_lr.legend()
    report.figure(figure, "square", "x² : distance to the minimum, and GD's stability limit")


def _rosenbrock_section(report: Report, steps: dict[str, int]) -> None:
    n = steps["Rosenbrock"]
    start = [-1.5, 2.0]
    paths = _paths("Rosenbrock", objectives.rosenbrock_grad, start, n)
    report.section(
        "Rosenbrock's valley",
        "f(x, y) = (1 − x)² + 100(y − x²)², from (−1.5, 2); the minimum is at (1, 1) at the end "
        "of a long, curved, nearly flat valley. Plain GD must keep lr ≤ 1e-3 for the steep "
        "walls and then crawls along the floor; momentum (effective step lr / (1 − μ) = 4e-3) "
        "rolls along it; RMSProp's per-coordinate steps stay about lr in size and end up "
        f"hopping across the floor; Adam's averaged steps settle. Settings: "
        f"{_settings_text('Rosenbrock')}.",
    )
    rows = []
    for name, p in paths.items():
        distance = np.linalg.norm(p - [1.0, 1.0], axis=1)
        where = f"({p[-1, 0]:.4f}, {p[-1, 1]:.4f})"
        f_end = f"{objectives.rosenbrock(p[-1]):.1e}"
        rows.append((name, f_end, where, _first_below(distance, 1e-3)))
    report.table(["optimizer", f"f after {n} steps", "where", "first step within 1e-3"], rows)
    report.results["rosenbrock"] = {
        name: float(objectives.rosenbrock(p[-1])) for name, p in paths.items()
    }
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    values = (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2
    _trajectory_figure(
        report, "rosenbrock", xs, ys, np.log10(values + 1e-3), paths, (1.0, 1.0),
        "Rosenbrock: paths over log₁₀ f, and f against step",
        {name: [objectives.rosenbrock(q) for q in p] for name, p in paths.items()},
    )  # fmt: skip


def _logistic_section(report: Report, steps: dict[str, int]) -> None:
    n = steps["logistic"]
    loss = objectives.two_blobs()
    start = [-2.0, 1.5]
    paths = _paths("logistic", loss.grad, start, n)
    best = trajectory(GradientDescent, loss.grad, start, 20_000, lr=0.02)[-1]
    optimum = loss(best)
    report.section(
        "A logistic-regression loss",
        "Mean cross-entropy of p = σ(w·x) on 200 points of two overlapping classes, one "
        "feature 5× wider than the other: the loss surface is a long, narrow bowl (condition "
        f"number ≈ 25), so one learning rate cannot suit both directions. Optimum (20,000 GD "
        f"steps): L = {optimum:.6f} at w = ({best[0]:.3f}, {best[1]:.3f}). Settings: "
        f"{_settings_text('logistic')}.",
    )
    report.table(
        ["optimizer", f"L − L* after {n} steps"],
        [(name, f"{loss(p[-1]) - optimum:.1e}") for name, p in paths.items()],
    )
    report.results["logistic"] = {name: float(loss(p[-1]) - optimum) for name, p in paths.items()}
    w1, w2 = np.meshgrid(np.linspace(-2.5, 2.5, 150), np.linspace(-0.5, 2.0, 150))
    grid = np.stack([w1.ravel(), w2.ravel()], axis=1)
    z = loss.x @ grid.T
    values = np.mean(np.logaddexp(0.0, z) - loss.y[:, None] * z, axis=0).reshape(w1.shape)
    _trajectory_figure(
        report, "logistic", w1, w2, values, paths, tuple(best),
        "Logistic loss: paths in weight space, and L − L* against step",
        {name: [loss(q) - optimum + 1e-16 for q in p] for name, p in paths.items()},
    )  # fmt: skip


def _trajectory_figure(report, name, xs, ys, values, paths, target, caption, curves) -> None:
    figure, (ax, ax_curve) = new_figure(12, 4.5, ncols=2)
    ax.contour(xs, ys, values, levels=30, cmap="Greys", linewidths=0.6)
    for label, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], ".-", markersize=2, linewidth=1, label=label)
    ax.plot(*target, "r*", markersize=14, label="minimum")
    ax.legend(fontsize=8)
    for label, curve in curves.items():
        ax_curve.semilogy(curve, label=label)
    ax_curve.set(xlabel="step", ylabel="loss (gap)")
    ax_curve.legend(fontsize=8)
    report.figure(figure, name, caption)


def _gradient_check_section(report: Report, steps: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    net = two_layer.TwoLayerNet.random(5, 6, 3)
    _, analytic = net.loss_and_grads(x, y)
    rows, worst = [], 0.0
    for name, param in net.params().items():
        numeric = two_layer.numerical_gradient(lambda: net.loss(x, y), param)
        error = two_layer.relative_error(analytic[name], numeric)
        worst = max(worst, error)
        gap = f"{np.max(np.abs(analytic[name] - numeric)):.1e}"
        rows.append((name, "×".join(map(str, param.shape)), gap, f"{error:.1e}"))
    report.section(
        "A two-layer network's gradients, by hand",
        "X → tanh(XW₁ + b₁) = H → HW₂ + b₂ = Z → softmax → cross-entropy. The chain rule, "
        "from the loss back (derivation in `two_layer.py`):\n\n"
        "- ∂L/∂Z = (P − Y)/n (softmax and cross-entropy together: the log cancels the exp)\n"
        "- ∂L/∂W₂ = Hᵀ ∂L/∂Z, ∂L/∂b₂ = Σ_rows ∂L/∂Z, ∂L/∂H = ∂L/∂Z W₂ᵀ\n"
        "- ∂L/∂A = ∂L/∂H ⊙ (1 − H²) (tanh′ = 1 − tanh²)\n"
        "- ∂L/∂W₁ = Xᵀ ∂L/∂A, ∂L/∂b₁ = Σ_rows ∂L/∂A\n\n"
        "Checked entry by entry against central differences (f(p + ε) − f(p − ε)) / 2ε with "
        f"ε = 1e-6, batch of 8, 5-6-3 network, float64. Worst relative error: **{worst:.1e}**.",
    )
    report.table(["parameter", "shape", "max |analytic − numeric|", "relative error"], rows)
    report.results["gradient_check_worst_relative_error"] = worst

    epsilons = np.logspace(-1, -12, 23)
    errors = [
        two_layer.relative_error(
            analytic["W1"], two_layer.numerical_gradient(lambda: net.loss(x, y), net.w1, eps)
        )
        for eps in epsilons
    ]
    figure, ax = new_figure()
    ax.loglog(epsilons, errors, "o-")
    ax.set(xlabel="ε", ylabel="relative error, ∂L/∂W₁", title="finite-difference step size")
    ax.invert_xaxis()
    report.figure(
        figure,
        "finite_difference_eps",
        "Truncation error (∝ ε²) falls as ε shrinks until rounding (∝ 1/ε) takes over",
    )


def _first_below(values: np.ndarray, threshold: float) -> str:
    hits = np.flatnonzero(values < threshold)
    return str(int(hits[0])) if hits.size else "never"
