"""``ascent learn torch_compare``: our NumPy MLP against PyTorch, number for number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from curriculum.foundations._blas import blas_threads
from curriculum.foundations._report import Report, new_figure, track
from curriculum.foundations.datasets import mnist
from curriculum.foundations.torch_compare import equivalence as eq

DROPOUT_P = 0.35


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Compare layers, loss, gradients, Adam and dropout with PyTorch's; write the report."""
    report = Report(out, "PyTorch: the same network, the same numbers")
    report.text(
        f"PyTorch {torch.__version__}, CPU, one thread (as NumPy's BLAS here). The network of "
        "`mlp_numpy` is rebuilt from `nn.Linear`, `nn.ReLU` and `nn.Dropout` "
        "(`torch_compare/network.py`) and our weights are copied into it, transposed: our "
        "`Dense` computes x W + b with W of shape (in, out), `nn.Linear` computes x Wᵀ + b "
        "with `weight` of shape (out, in)."
    )
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    sections = (_gradients_section, _adam_section, _training_section, _dropout_section)
    try:
        with blas_threads(1):
            for section in track(progress, sections, "comparisons"):
                section(report, quick)
    finally:
        torch.set_num_threads(previous)
    return report.write()


def _gradients_section(report: Report, quick: bool) -> None:
    rows, worst = [], {}
    for label, check in (
        ("Dense + CE", eq.dense_cross_entropy),
        ("784-64-32-10", eq.whole_network),
    ):
        for dtype in (np.float64, np.float32):
            gaps = check(dtype)
            worst[f"{label} {dtype.__name__}"] = max(gaps.values())
            rows += [(label, dtype.__name__, name, f"{gap:.1e}") for name, gap in gaps.items()]
    report.section(
        "Loss and gradients: Dense + softmax-CE against nn.Linear + nn.CrossEntropyLoss",
        "Same weights, same batch; ours by the hand-written backward passes, PyTorch's by "
        "autograd. `nn.CrossEntropyLoss` is `log_softmax` followed by `nll_loss` (mean over the "
        "batch): the same fusion as our `SoftmaxCrossEntropy`, for the same reason (a "
        "separate softmax then log loses precision and can overflow). In float64 the two agree "
        "to the last bits; in float32 to a few units of float32's 1.2e-7 relative precision, "
        "the difference being only the order in which the matrix products add up.",
    )
    report.table(["check", "dtype", "quantity", "max |ours − torch|"], rows)
    report.results["gradients"] = worst
    bound, expected, std = eq.linear_init_bound()
    report.text(
        "Reading `torch/nn/modules/linear.py`: `forward` is `F.linear(x, weight, bias)`, one "
        "`addmm`; `reset_parameters` draws `kaiming_uniform_(a=√5)`, i.e. U(−1/√in, 1/√in) "
        f"(measured for 784 inputs: largest |w| {bound:.4f}, 1/√784 = {expected:.4f}, std "
        f"{std:.4f} = bound/√3). Our `Dense` draws He's N(0, 2/in), std "
        f"{np.sqrt(2 / 784):.4f}: 2.45× larger, the scale that keeps ReLU activations from "
        "shrinking layer after layer."
    )


def _adam_section(report: Report, quick: bool) -> None:
    steps = 200 if quick else 1000
    runs = {
        "float32": eq.adam_on_same_gradients(steps, np.float32),
        "float32, weight decay 0.01": eq.adam_on_same_gradients(steps, np.float32, 0.01),
        "float64": eq.adam_on_same_gradients(steps, np.float64),
    }
    report.section(
        "Adam, step for step",
        "Kingma & Ba (2015), Algorithm 1, is what `optimizers.Adam.step` does with g the "
        "gradient at step t:\n\n"
        "- m ← β₁ m + (1 − β₁) g  (first moment: a running mean of the gradient)\n"
        "- v ← β₂ v + (1 − β₂) g²  (second moment: a running mean of its square)\n"
        "- m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)  (both start at 0: this undoes the bias)\n"
        "- θ ← θ − α m̂ / (√v̂ + ε)  (a step of size ≈ α in each coordinate, whatever g's scale)\n\n"
        "with α = 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-8 as defaults; weight decay adds λθ to g "
        "first, as `torch.optim.Adam(weight_decay=λ)` does. Fed the same sequence of "
        f"{steps} gradients (500 coordinates, magnitudes 1e-6 to 1e2, lr 1e-2), ours and "
        "`torch.optim.Adam` keep the parameters equal to:",
    )
    report.table(
        ["dtype", f"max |θ_ours − θ_torch| over {steps} steps"],
        [(name, f"{gaps.max():.1e}") for name, gaps in runs.items()],
    )
    report.results["adam_max_gap"] = {name: float(gaps.max()) for name, gaps in runs.items()}
    figure, ax = new_figure()
    for name, gaps in runs.items():
        ax.semilogy(np.maximum(gaps, 1e-20), label=name)
    ax.axhline(1e-6, color="k", linestyle=":", label="1e-6")
    ax.set(xlabel="step", ylabel="max |θ_ours − θ_torch|", title="same gradients")
    ax.legend()
    report.figure(figure, "adam_steps", "Our Adam against torch.optim.Adam, step by step")


def _training_section(report: Report, quick: bool) -> None:
    data = mnist()
    rows, steps = (5_000, 60) if quick else (50_000, 400)
    x, y = data.x_train[:rows], data.y_train[:rows]
    runs = {
        dtype.__name__: eq.train_side_by_side(x, y, steps, dtype)
        for dtype in (np.float64, np.float32)
    }
    report.section(
        "Training side by side",
        f"784-128-10 on MNIST, {steps} Adam steps of 128 images, both from the same weights on "
        "the same batches: ours (NumPy forward, hand-written backward, our Adam) and PyTorch's "
        "(autograd, `torch.optim.Adam`). In float64 the parameters stay equal to ~1e-14. In "
        "float32 they drift apart to a few 1e-6: the gradients differ in their last bits "
        "(summation order), and Adam divides by √v̂, which magnifies relative differences in "
        "coordinates whose gradients are tiny. The losses agree throughout (figure).",
    )
    report.table(
        ["dtype", "max parameter gap", "final loss, ours", "final loss, torch"],
        [
            (name, f"{c.gaps.max():.1e}", f"{c.losses[0][-1]:.6f}", f"{c.losses[1][-1]:.6f}")
            for name, c in runs.items()
        ],
    )
    report.results["side_by_side_max_gap"] = {name: float(c.gaps.max()) for name, c in runs.items()}
    figure, (ax_gap, ax_loss) = new_figure(11, 3.8, ncols=2)
    for name, c in runs.items():
        ax_gap.semilogy(c.gaps, label=name)
    ax_gap.set(xlabel="step", ylabel="max |parameter difference|", title="parameters")
    ax_gap.legend()
    ours, theirs = runs["float32"].losses
    ax_loss.plot(ours, label="ours (float32)")
    ax_loss.plot(theirs, "--", label="PyTorch (float32)")
    ax_loss.set(xlabel="step", ylabel="batch loss", title="loss", yscale="log")
    ax_loss.legend()
    report.figure(figure, "side_by_side", "Training ours and PyTorch's network together")


def _dropout_section(report: Report, quick: bool) -> None:
    p = DROPOUT_P
    rows_, units = (500, 1000) if quick else (2000, 1000)
    ours, theirs, identity = eq.dropout_statistics(p, rows_, units)
    report.section(
        "Dropout against nn.Dropout",
        "Srivastava et al. (2014): in training each unit is kept with probability 1 − p, "
        "r ~ Bernoulli(1 − p), y = r ⊙ x; at test time the paper scales the weights by 1 − p. "
        "Both our `Dropout` and `nn.Dropout` use the *inverted* form, y = r ⊙ x / (1 − p) in "
        "training and y = x at test time, which has the same expectation and needs nothing "
        f"at test time. Applied to a {rows_:,}×{units:,} matrix of ones with p = {p}:",
    )
    binomial_std = np.sqrt(p * (1 - p) / units)
    report.table(
        ["statistic", "ours", "nn.Dropout", "theory"],
        [
            ("fraction zeroed", f"{ours.zero_fraction:.4f}", f"{theirs.zero_fraction:.4f}", p),
            (
                "value of a kept unit",
                f"{ours.kept_value:.6f}",
                f"{theirs.kept_value:.6f}",
                f"1/(1 − p) = {1 / (1 - p):.6f}",
            ),
            ("mean", f"{ours.mean:.4f}", f"{theirs.mean:.4f}", "1"),
            (
                "variance",
                f"{ours.variance:.4f}",
                f"{theirs.variance:.4f}",
                f"p/(1 − p) = {p / (1 - p):.4f}",
            ),
            (
                "std of a row's zeroed fraction",
                f"{ours.per_row_zero_fraction.std():.4f}",
                f"{theirs.per_row_zero_fraction.std():.4f}",
                f"√(p(1 − p)/{units}) = {binomial_std:.4f}",
            ),
            ("evaluation mode is the identity", identity, identity, True),
        ],
    )
    report.results["dropout"] = {
        "ours_zero_fraction": ours.zero_fraction,
        "torch_zero_fraction": theirs.zero_fraction,
        "ours_variance": ours.variance,
        "torch_variance": theirs.variance,
        "eval_identity": identity,
    }
    figure, ax = new_figure()
    bins = np.linspace(p - 5 * binomial_std, p + 5 * binomial_std, 40)
    ax.hist(ours.per_row_zero_fraction, bins=bins, alpha=0.6, density=True, label="ours")
    ax.hist(theirs.per_row_zero_fraction, bins=bins, alpha=0.6, density=True, label="nn.Dropout")
    grid = np.linspace(bins[0], bins[-1], 200)
    normal = np.exp(-0.5 * ((grid - p) / binomial_std) ** 2) / (binomial_std * np.sqrt(2 * np.pi))
    ax.plot(grid, normal, "k", label="binomial (normal approx.)")
    ax.set(xlabel=f"fraction of a row's {units} units zeroed", ylabel="density")
    ax.legend()
    report.figure(figure, "dropout", "How many units each row loses: ours, PyTorch's, theory")
