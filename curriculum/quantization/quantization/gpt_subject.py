"""The curriculum's char-level GPT (curriculum/llm_internals/gpt) as a small model to quantize:
trained here for a few steps on the plays' training split, calibrated on training windows and
scored on validation windows."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from curriculum.llm_internals.gpt.model import GPTConfig
from curriculum.llm_internals.gpt.train import CharData, TrainConfig, train
from curriculum.quantization.quantization.compare import Subject


def _windows(data: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """``count`` evenly spaced windows over the split (deterministic, non-overlapping)."""
    stride = (len(data) - length) // count
    return torch.stack([data[i * stride : i * stride + length] for i in range(count)])


def logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return model(ids)[0]


def generate(model: nn.Module, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    return model.generate(prompt, new_tokens, top_k=1)  # greedy


def subject(config: TrainConfig, calibration: int = 32, evaluation: int = 32) -> Subject:
    data = CharData()
    config = replace(config, model=replace(config.model, vocab_size=len(data.chars)))
    model, history = train(config, data)
    length = config.model.block_size
    return Subject(
        name=f"char-level GPT, {model.num_parameters():,} parameters, "
        f"{history.steps[-1]} steps (val loss {history.val[-1]:.3f})",
        model=model.eval(),
        blocks=lambda m: m.blocks,
        block_prefix="blocks.",
        logits=logits,
        calibration=_windows(data.train, calibration, length),
        evaluation=_windows(data.val, evaluation, length),
        speed_batch=_windows(data.val, 8, length),
        generate=generate,
        new_tokens=length - 33,
    )


TINY = TrainConfig(
    model=GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=64), max_steps=100, eval_every=100
)
SMALL = TrainConfig(max_steps=1500, max_seconds=90.0, eval_every=500, schedule="time")
