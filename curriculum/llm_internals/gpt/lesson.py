"""``ascent learn gpt``: a char-level GPT on Shakespeare; resume, sampling, KV cache."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure
from curriculum.llm_internals.gpt.model import GPT, GPTConfig
from curriculum.llm_internals.gpt.train import (
    CharData,
    TokenData,
    TrainConfig,
    learning_rate,
    train,
)

TINY = GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=64)


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Train briefly (the full run is benchmarks/curriculum_gpt.py), then sample and time.

    ``progress`` is accepted for the CLI; training reports through the table instead."""
    report = Report(out, "GPT from scratch")
    data = CharData()
    config = TrainConfig(max_steps=1500, max_seconds=240.0, eval_every=250)
    if quick:
        config = TrainConfig(model=TINY, max_steps=100, eval_every=50, eval_batches=5)
    config = replace(config, model=replace(config.model, vocab_size=len(data.chars)))
    report.text(
        f"Characters of the 38 plays ({len(data.train):,} train / {len(data.val):,} validation "
        f"ids, {len(data.chars)} symbols). Model: {config.model}. AdamW (decay on matrices "
        f"only), warmup {config.warmup} steps then cosine to {config.min_lr}, gradient norm "
        f"clipped at {config.grad_clip}, batches of {config.batch_size}, one thread. This "
        "lesson trains briefly; `benchmarks/curriculum_gpt.py` is the full 10-minute run."
    )
    model, history = train(config, data)
    _training_section(report, config, history)
    _resume_section(report, data, 20 if quick else 40)
    _sampling_section(report, model, data, 40 if quick else 300)
    _cache_section(report, model, data)
    _bpe_section(report, quick)
    return report.write()


def _bpe_section(report: Report, quick: bool) -> None:
    """The same code on BPE tokens from the ``bpe`` module."""
    from curriculum.llm_internals import shakespeare
    from curriculum.llm_internals.bpe.tokenizer import Tokenizer

    text = shakespeare.corpus()
    vocab = 320 if quick else 1024
    tokenizer = Tokenizer.train(text[:300_000] if quick else text[:2_000_000], vocab)
    data = TokenData(tokenizer, text[:400_000] if quick else text)
    base = TINY if quick else GPTConfig()
    config = TrainConfig(model=replace(base, vocab_size=tokenizer.vocab_size),
                         max_steps=40 if quick else 600, max_seconds=120.0, schedule="time",
                         eval_every=20 if quick else 200, eval_batches=5)  # fmt: skip
    model, history = train(config, data)
    per_char = history.val[-1] / data.chars_per_token
    generator = torch.Generator().manual_seed(0)
    ids = model.generate(torch.tensor([data.encode("ROMEO:\n")]), 60, temperature=0.8,
                         generator=generator)[0].tolist()  # fmt: skip
    report.section(
        "The same GPT on BPE tokens",
        f"`TokenData` swaps the characters for the ids of a {vocab}-token BPE trained by the "
        f"`bpe` module ({data.chars_per_token:.2f} characters per token); model, loop and "
        f"sampling are unchanged. After {history.steps[-1]} steps ({history.seconds[-1]:.0f} "
        f"s): validation {history.val[-1]:.3f} nats per token = {per_char:.3f} per character "
        f"(each step now covers {data.chars_per_token:.1f}× more text).\n\n```\n"
        f"{data.decode(ids)}\n```",
    )
    report.results["bpe"] = {"vocab": vocab, "val_per_token": history.val[-1],
                             "val_per_char": per_char, "steps": history.steps[-1]}  # fmt: skip


def _training_section(report: Report, config: TrainConfig, history) -> None:
    figure, axes = new_figure(10, 3.6, nrows=1, ncols=2)
    axes[0].plot(history.steps, history.train, "o-", label="train")
    axes[0].plot(history.steps, history.val, "x--", label="validation")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss (nats per character)")
    axes[0].legend()
    if config.schedule == "time":  # the rate followed the clock: read it at each evaluation
        pairs = zip(history.steps, history.seconds, strict=True)
        axes[1].plot(history.steps, [learning_rate(s, config, sec) for s, sec in pairs], "o-")
    else:
        axes[1].plot([learning_rate(s, config) for s in range(config.max_steps)])
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("learning rate")
    report.section("Training", "Loss estimated on 20 fixed batches of each split.")
    rows = zip(history.steps, history.train, history.val, history.seconds, strict=True)
    report.table(
        ["step", "train", "val", "seconds"],
        [(s, f"{t:.3f}", f"{v:.3f}", f"{sec:.0f}") for s, t, v, sec in rows],
    )
    report.figure(figure, "training", "losses and the warmup + cosine schedule")
    report.results["final"] = {
        "step": history.steps[-1],
        "train": history.train[-1],
        "val": history.val[-1],
        "seconds": history.seconds[-1],
    }


def _resume_section(report: Report, data: CharData, steps: int) -> None:
    config = TrainConfig(
        model=replace(TINY, vocab_size=len(data.chars)), max_steps=steps, eval_every=10
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ckpt.pt"
        straight, _ = train(config, data)
        train(config, data, checkpoint=path, stop_at=steps // 2)
        resumed, _ = train(config, data, checkpoint=path, resume=True)
    gap = max(
        (a - b).abs().max().item()
        for a, b in zip(straight.parameters(), resumed.parameters(), strict=True)
    )
    report.section(
        "Checkpoint and resume",
        "A checkpoint holds the weights, AdamW's moments, the step (for the schedule), the "
        f"data sampler's random state and the history. {steps} steps straight against "
        f"{steps // 2} steps, stop, reload, {steps // 2} more: largest weight difference "
        f"{gap:.1e}.",
    )
    report.results["resume_max_gap"] = gap


def _sampling_section(report: Report, model: GPT, data: CharData, length: int) -> None:
    prompt = torch.tensor([data.encode("ROMEO:\n")])
    rows = []
    for label, kwargs in (
        ("temperature 1.0", {}),
        ("temperature 0.7, top-k 20", {"temperature": 0.7, "top_k": 20}),
        ("top-p 0.9", {"top_p": 0.9}),
    ):
        generator = torch.Generator().manual_seed(0)
        ids = model.generate(prompt, length, generator=generator, **kwargs)[0].tolist()
        rows.append(f"**{label}**\n\n```\n{data.decode(ids)}\n```")
    report.section("Samples", "\n\n".join(rows))


def _cache_section(report: Report, model: GPT, data: CharData) -> None:
    model.eval()
    prompt = torch.tensor([data.encode("\n")])
    new = model.config.block_size - 2
    times, outputs = {}, {}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    for use_cache in (False, True):
        times[use_cache] = float("inf")
        for _ in range(3):  # best of 3
            generator = torch.Generator().manual_seed(0)
            start = time.perf_counter()
            outputs[use_cache] = model.generate(
                prompt, new, use_cache=use_cache, generator=generator
            )
            times[use_cache] = min(times[use_cache], time.perf_counter() - start)
    torch.set_num_threads(previous)
    same = bool((outputs[False] == outputs[True]).all())
    speedup = times[False] / times[True]
    report.section(
        "KV cache",
        f"Generating {new} tokens (the whole context): without a cache each step re-runs the "
        "full prefix, O(T²) work for T tokens; with it each step computes q, k, v for the new "
        "token only and attends to the stored keys and values. "
        f"{times[False]:.2f} s without, {times[True]:.2f} s with: {speedup:.1f}× faster, "
        f"{'identical' if same else 'DIFFERENT'} tokens for the same random seed.",
    )
    report.results["kv_cache"] = {"speedup": speedup, "same_tokens": same}
