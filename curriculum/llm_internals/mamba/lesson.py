"""``ascent learn mamba``: the selective scan checked against its sequential definition, a
small Mamba LM against the GPT of equal size, and throughput against sequence length."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure
from curriculum.llm_internals.gpt.train import CharData
from curriculum.llm_internals.mamba.experiments import (
    growth_exponent,
    random_scan_inputs,
    scan_gaps,
    throughput,
    train_both,
)
from curriculum.llm_internals.mamba.scan import selective_scan, selective_scan_reference

SCAN_SHAPES = (
    (1, 1, 1, 1, 1, 4),
    (2, 37, 3, 4, 5, 8),
    (2, 128, 4, 8, 16, 32),
    (3, 100, 2, 16, 8, 16),
)


def run(out: Path, quick: bool = False, progress: Progress | None = None,
        train_seconds: float = 120.0, lengths: list[int] | None = None,
        threads: int = 1) -> Path:  # fmt: skip
    """The benchmark (benchmarks/curriculum_mamba.py) calls this with a longer budget."""
    report = Report(out, "Mamba (simplified) from scratch")
    report.text(
        "A selective state-space model: per head a scalar decay A < 0, an input-dependent step "
        "Δ, input-dependent B and C, zero-order-hold discretization exp(ΔA) (Mamba-2's "
        "simplification of Mamba's per-state A). The scan is written twice: a sequential loop "
        "(the definition) and a chunked form (a masked matmul inside chunks, a short pass over "
        "chunk states between them) that the model uses."
    )
    task = progress.add_task("mamba", total=4) if progress else None
    _scan_section(report)
    _advance(progress, task)
    _scan_speed_section(report, quick)
    _advance(progress, task)
    data = CharData()
    _training_section(report, data, 10.0 if quick else train_seconds, threads, quick)
    _advance(progress, task)
    lengths = lengths or ([32, 64, 128] if quick else [128, 256, 512, 1024, 2048])
    _scaling_section(report, lengths, 1024 if quick else 8192, threads, quick)
    _advance(progress, task)
    return report.write()


def _advance(progress, task) -> None:
    if progress is not None:
        progress.advance(task)


def _scan_section(report: Report) -> None:
    rows, worst = [], {}
    for dtype in (torch.float64, torch.float32):
        for batch, length, heads, head_dim, n, chunk in SCAN_SHAPES:
            inputs = random_scan_inputs(batch, length, heads, head_dim, n, dtype=dtype)
            gaps = scan_gaps(inputs, chunk)
            worst[str(dtype)] = max(worst.get(str(dtype), 0.0), *gaps.values())
            gradient = max(v for k, v in gaps.items() if k.startswith("d"))
            rows.append((str(dtype).removeprefix("torch."), f"{batch}×{length}", heads,
                         head_dim, n, chunk, f"{gaps['y']:.1e}", f"{gaps['h']:.1e}",
                         f"{gradient:.1e}"))  # fmt: skip
    report.section(
        "Chunked scan against the sequential loop",
        "Largest difference relative to the largest reference value, for the outputs y, the "
        "final state and the gradients of every input (x, Δ, A, B, C, D, h0), with a non-zero "
        "initial state and lengths that are not multiples of the chunk.",
    )
    report.table(["dtype", "batch×L", "heads", "head dim", "n", "chunk", "y", "state",
                  "worst gradient"], rows)  # fmt: skip
    report.results["scan_max_relative_gap"] = worst


def _scan_speed_section(report: Report, quick: bool) -> None:
    rows = []
    for length in [64, 256] if quick else [64, 256, 1024, 4096]:
        inputs = random_scan_inputs(4, length, 8, 32, 32, dtype=torch.float32)
        inputs.pop("h0")
        times = {}
        for name, scan in (("sequential", selective_scan_reference), ("chunked", selective_scan)):
            start = time.perf_counter()
            scan(**inputs)
            times[name] = time.perf_counter() - start
        rows.append((length, f"{times['sequential'] * 1e3:.1f}", f"{times['chunked'] * 1e3:.1f}",
                     f"{times['sequential'] / times['chunked']:.1f}×"))  # fmt: skip
    report.section(
        "Scan speed",
        "Forward time of one scan (batch 4, 8 heads of 32, n = 32, float32, ms). The loop "
        "costs one Python step per position; the chunked form does L/32 steps of matmuls.",
    )
    report.table(["L", "sequential ms", "chunked ms", "speed-up"], rows)


def _training_section(report: Report, data: CharData, seconds: float, threads: int, quick):
    results = train_both(data, seconds, threads, quick=quick)
    figure, axis = new_figure(6.4, 4.0)
    rows = []
    for name, (model, history) in results.items():
        axis.plot(history.seconds, history.val, "o-", markersize=3, label=f"{name} validation")
        rows.append((name, f"{model.num_parameters():,}", history.steps[-1],
                     f"{history.seconds[-1]:.0f}", f"{history.train[-1]:.3f}",
                     f"{history.val[-1]:.3f}",
                     f"{history.steps[-1] / history.seconds[-1]:.2f}"))  # fmt: skip
        report.results[f"{name}_train"] = {
            "parameters": model.num_parameters(), "steps": history.steps[-1],
            "seconds": history.seconds[-1], "train": history.train[-1], "val": history.val[-1],
        }  # fmt: skip
    axis.set_xlabel("seconds of training")
    axis.set_ylabel("validation loss (nats per character)")
    axis.legend()
    report.section(
        "Mamba against the GPT at equal size",
        f"Both trained on the Shakespeare characters for {seconds:.0f} s of wall-clock time "
        f"with {threads} thread(s), the same recipe (AdamW, warmup, cosine over the time "
        "budget, batches of 32 × 128 characters) and the same data order.",
    )
    report.table(["model", "parameters", "steps", "seconds", "train", "val", "steps/s"], rows)
    report.figure(figure, "mamba_vs_gpt", "validation loss against training time")
    mamba = results["mamba"][0]
    generator = torch.Generator().manual_seed(0)
    sample = mamba.generate(torch.tensor([data.encode("ROMEO:\n")]), 40 if quick else 300,
                            temperature=0.8, generator=generator)[0].tolist()  # fmt: skip
    report.section(
        "Sample (recurrent decoding, temperature 0.8)",
        "Generation feeds one token at a time through each layer's state: the conv window "
        "and the (heads × head dim × n) SSM state, the same size at token 10 and 10,000, "
        f"where a GPT's KV cache grows with the context.\n\n```\n{data.decode(sample)}\n```",
    )


def _scaling_section(report: Report, lengths: list[int], tokens: int, threads: int, quick):
    rows = throughput(lengths, tokens, threads, quick=quick)
    per_sequence = {
        name: [r["length"] / r[f"{name}_tokens_per_s"] for r in rows] for name in ("gpt", "mamba")
    }
    exponents = {name: growth_exponent(lengths, t) for name, t in per_sequence.items()}
    figure, axis = new_figure(6.4, 4.0)
    for name in ("gpt", "mamba"):
        axis.plot(lengths, [r[f"{name}_tokens_per_s"] for r in rows], "o-", label=name)
    axis.set_xscale("log", base=2)
    axis.set_xlabel("sequence length")
    axis.set_ylabel("forward tokens per second")
    axis.legend()
    report.section(
        "Throughput against sequence length",
        f"Forward passes of the untrained equal-size models over {tokens} tokens per call "
        f"(batch × length fixed), best of 2, {threads} thread(s). Growth of the time per "
        f"sequence with length over the longer half: GPT L^{exponents['gpt']:.2f}, Mamba "
        f"L^{exponents['mamba']:.2f} (1 = linear time).",
    )
    report.table(
        ["L", "batch", "GPT tokens/s", "Mamba tokens/s"],
        [(r["length"], r["batch"], f"{r['gpt_tokens_per_s']:,.0f}",
          f"{r['mamba_tokens_per_s']:,.0f}") for r in rows],
    )  # fmt: skip
    report.figure(figure, "throughput", "forward tokens/s against sequence length")
    report.results["throughput"] = rows
    report.results["growth_exponent"] = exponents
