"""``ascent learn makemore``: name models from bigram counts to a WaveNet-style MLP."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure, track
from curriculum.llm_internals.makemore import data
from curriculum.llm_internals.makemore import models as m


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Train the five models on the plays' proper nouns; table, statistics plots, samples."""
    report = Report(out, "makemore: names, from counts to a hierarchical MLP")
    train, val, test = data.split()
    report.text(
        f"Data: {len(data.names()):,} proper nouns from the plays (`makemore/data.py`: words "
        "capitalized mid-sentence or in speaker tags that never occur in lowercase), split "
        f"{len(train)} / {len(val)} / {len(test)} train / validation / test. The set is small "
        "(Karpathy's names.txt has 32,000), so the bigger models overfit: the validation "
        "column is the one that counts. Losses are mean negative log-likelihood per character "
        "(nats; uniform over 27 symbols = 3.30)."
    )
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    steps = 1500 if quick else 6000
    rows, results, curves = [], {}, {}
    try:
        for name in track(
            progress, ["bigram", "bigram net", "trigram", "MLP", "WaveNet"], "models"
        ):
            start = time.perf_counter()
            train_loss, val_loss, extra = _train(name, train, val, steps, report, curves)
            seconds = time.perf_counter() - start
            rows.append((name, f"{train_loss:.3f}", f"{val_loss:.3f}", extra, f"{seconds:.1f}"))
            results[name] = {"train": train_loss, "val": val_loss, "seconds": seconds}
    finally:
        torch.set_num_threads(previous)
    report.section("Train and validation loss per model")
    report.table(["model", "train loss", "val loss", "details", "seconds"], rows)
    report.results["losses"] = results
    figure, ax = new_figure()
    for name, losses in curves.items():
        smooth = torch.tensor(losses).unfold(0, 100, 100).mean(1)
        ax.plot(torch.arange(len(smooth)) * 100, smooth, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (mean of 100 steps)")
    ax.legend()
    report.figure(figure, "learning_curves", "minibatch training loss")
    return report.write()


def _train(name, train, val, steps, report, curves):
    if name in ("bigram", "trigram"):
        block = 1 if name == "bigram" else 2
        smoothing = 1.0 if name == "bigram" else 0.1
        x, y = data.examples(train, block)
        table = m.count_model(x, y, smoothing)
        return (
            m.count_loss(table, x, y),
            m.count_loss(table, *data.examples(val, block)),
            f"counts + {smoothing} smoothing",
        )
    if name == "bigram net":
        x, y = data.examples(train, 1)
        net = m.BigramNet()
        net.fit(x, y, 300)
        with torch.no_grad():
            return (
                net.loss(x, y).item(),
                net.loss(*data.examples(val, 1)).item(),
                "27×27 weights, 300 full-batch GD steps",
            )
    block = 3 if name == "MLP" else 8
    model = m.mlp(block) if name == "MLP" else m.wavenet(block, hidden=64)
    x, y = data.examples(train, block)
    if name == "MLP":
        _statistics_section(report, model, x, y)
    curves[name] = m.fit(model, x, y, steps)
    if name == "WaveNet":
        samples = m.sample(model, block, 12)
        report.section("Samples from the WaveNet model", ", ".join(samples))
        report.results["samples"] = samples
    size = sum(p.numel() for p in model.parameters())
    return (
        m.evaluate(model, x, y),
        m.evaluate(model, *data.examples(val, block)),
        f"context {block}, {size:,} parameters, {steps} SGD steps",
    )


def _statistics_section(report: Report, model: m.Sequential, x, y) -> None:
    """Activation and gradient histograms of the tanh layers at initialization."""
    generator = torch.Generator().manual_seed(1)
    index = torch.randint(0, len(x), (256,), generator=generator)
    logits = model(x[index])
    for layer in model.layers:
        if isinstance(layer, m.Tanh):
            layer.out.retain_grad()
    F.cross_entropy(logits, y[index]).backward()
    figure, axes = new_figure(10, 3.6, nrows=1, ncols=2)
    rows = []
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, m.Tanh):
            continue
        out, grad = layer.out.detach(), layer.out.grad
        saturated = (out.abs() > 0.97).float().mean().item()
        rows.append((i, f"{out.mean():+.3f}", f"{out.std():.3f}", f"{saturated:.1%}"))
        rows[-1] += (f"{grad.std():.2e}",)
        for ax, values in ((axes[0], out), (axes[1], grad)):
            counts, edges = torch.histogram(values.flatten(), bins=50)
            ax.plot((edges[:-1] + edges[1:]) / 2, counts, label=f"layer {i} (tanh)")
    axes[0].set_title("activations at init")
    axes[1].set_title("gradients at init")
    for ax in axes:
        ax.legend()
    for parameter in model.parameters():
        parameter.grad = None
    report.section(
        "MLP at initialization: activation and gradient statistics",
        "Linear weights drawn with std (5/3)/√fan_in (the gain for tanh), then our "
        "hand-written BatchNorm, then tanh. BatchNorm recentres and rescales each unit over "
        "the batch, so the tanh inputs stay near unit variance: few units saturate (|tanh| > "
        "0.97, where the gradient 1 − tanh² vanishes) and the gradients of both layers have "
        "the same scale.",
    )
    report.table(["layer", "mean", "std", "saturated", "gradient std"], rows)
    report.figure(figure, "mlp_statistics", "tanh activations and their gradients at init")
