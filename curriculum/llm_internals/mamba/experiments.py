"""The measurements the Mamba lesson and its benchmark share: scan agreement, Mamba against the
GPT at equal parameter count (loss for equal training time), and throughput against length."""

from __future__ import annotations

import time
from dataclasses import replace

import torch
from torch.nn import functional as F

from curriculum.llm_internals.gpt.model import GPT, GPTConfig
from curriculum.llm_internals.gpt.train import CharData, TrainConfig, train
from curriculum.llm_internals.mamba.model import MambaConfig, MambaLM
from curriculum.llm_internals.mamba.scan import selective_scan, selective_scan_reference


def random_scan_inputs(batch, length, heads, head_dim, n, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return {
        "x": rand(batch, length, heads, head_dim),
        "delta": F.softplus(rand(batch, length, heads)),
        "A": -torch.rand(heads, generator=g, dtype=dtype) * 4,
        "B": rand(batch, length, n),
        "C": rand(batch, length, n),
        "D": rand(heads),
        "h0": rand(batch, heads, head_dim, n),
    }


def scan_gaps(inputs: dict, chunk: int) -> dict[str, float]:
    """Largest |chunked - sequential| in the outputs, the final state and every input's
    gradient, relative to the largest magnitude of the reference value."""
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    results = {}
    for name, scan in (("reference", selective_scan_reference), ("chunked", selective_scan)):
        kwargs = {"chunk": chunk} if name == "chunked" else {}
        y, h = scan(**leaves, **kwargs)
        (y.square().mean() + h.square().mean()).backward()
        results[name] = {"y": y.detach(), "h": h.detach()} | {
            f"d{k}": v.grad.clone() for k, v in leaves.items()
        }
        for v in leaves.values():
            v.grad = None
    return {
        key: ((results["chunked"][key] - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()
        for key, ref in results["reference"].items()
    }


def equal_size_models(vocab: int, block: int) -> tuple[GPTConfig, MambaConfig]:
    """The GPT of the gpt lesson (4 layers × 128) and a Mamba of 7 layers × 128: 0.82M and
    0.83M parameters (tied embeddings counted once in both)."""
    return (GPTConfig(vocab_size=vocab, block_size=block),
            MambaConfig(vocab_size=vocab, block_size=block))  # fmt: skip


def train_both(data: CharData, seconds: float, threads: int, on_eval=None, quick=False):
    """Train each model for the same wall-clock budget with the same recipe (AdamW, warmup,
    cosine over the budget, batches of 32 × 128 characters). Returns {name: (model, history)}."""
    gpt_config, mamba_config = equal_size_models(len(data.chars), 128)
    if quick:
        gpt_config = replace(gpt_config, block_size=32, n_layer=1, n_embd=32, n_head=2)
        mamba_config = replace(mamba_config, block_size=32, n_layer=1, d_model=32)
    results = {}
    for name, config, build in (("gpt", gpt_config, GPT), ("mamba", mamba_config, MambaLM)):
        recipe = TrainConfig(model=config, max_steps=20 if quick else 100_000,
                             max_seconds=seconds, schedule="time", threads=threads,
                             warmup=5 if quick else 100, eval_every=10 if quick else 100,
                             eval_batches=2 if quick else 20)  # fmt: skip
        callback = None if on_eval is None else (lambda *a, n=name: on_eval(n, *a))
        results[name] = train(recipe, data, on_eval=callback, build=build)
    return results


@torch.no_grad()
def throughput(lengths: list[int], tokens: int, threads: int, repeats: int = 2, quick=False):
    """Forward tokens/s of each (untrained, equal-size) model for sequences of each length,
    with batch × length = ``tokens`` so every point does the same number of tokens."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        for length in lengths:
            gpt_config, mamba_config = equal_size_models(79, length)
            if quick:
                gpt_config = replace(gpt_config, n_layer=1, n_embd=32, n_head=2)
                mamba_config = replace(mamba_config, n_layer=1, d_model=32)
            row = {"length": length, "batch": max(1, tokens // length)}
            for name, model in (("gpt", GPT(gpt_config)), ("mamba", MambaLM(mamba_config))):
                model.eval()
                ids = torch.randint(0, 79, (row["batch"], length))
                model(ids[:, :8])  # warm up allocations
                best = float("inf")
                for _ in range(repeats):
                    start = time.perf_counter()
                    model(ids)
                    best = min(best, time.perf_counter() - start)
                row[f"{name}_tokens_per_s"] = row["batch"] * length / best
            rows.append(row)
    finally:
        torch.set_num_threads(previous)
    return rows


def growth_exponent(lengths: list[int], seconds_per_sequence: list[float]) -> float:
    """Slope of log(time per sequence) against log(length) over the longer half: 1 is linear
    time, 2 quadratic."""
    half = len(lengths) // 2
    x = torch.tensor(lengths[half:], dtype=torch.float64).log()
    y = torch.tensor(seconds_per_sequence[half:], dtype=torch.float64).log()
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x * x).sum())
