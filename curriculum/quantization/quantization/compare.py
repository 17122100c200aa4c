"""One table: the float model against its quantized versions on the same data and machine."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from rich.progress import Progress
from torch import nn

from curriculum.quantization.quantization.bnb import to_bnb
from curriculum.quantization.quantization.evaluate import (
    Logits,
    linear_bytes,
    measure_speed,
    perplexity,
)
from curriculum.quantization.quantization.gptq import GPTQConfig
from curriculum.quantization.quantization.quant_linear import quantize_linears_rtn, storage_bytes
from curriculum.quantization.quantization.sequential import gptq_sequential, linear_names


@dataclass
class Subject:
    """A float model and everything needed to quantize and judge it."""

    name: str
    model: nn.Module  # the float reference; variants work on deep copies
    blocks: Callable[[nn.Module], Sequence[nn.Module]]
    block_prefix: str  # where the blocks' linears live, e.g. "model.layers."
    logits: Logits
    calibration: torch.Tensor  # (n, length) token ids
    evaluation: torch.Tensor  # (m, length), disjoint text
    speed_batch: torch.Tensor
    generate: Callable[[nn.Module, torch.Tensor, int], torch.Tensor] | None = None
    new_tokens: int = 16
    speed_repeats: int = 2

    def linears(self, model: nn.Module) -> list[str]:
        return [name for name in linear_names(model) if name.startswith(self.block_prefix)]


@dataclass
class Row:
    variant: str
    perplexity: float
    linear_bytes: int  # the blocks' linear layers as stored
    total_bytes: int  # every parameter and buffer
    forward_tokens_per_s: float
    generate_tokens_per_s: float | None
    quantize_seconds: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def rtn(bits: int, group: int | None) -> Callable[[Subject, nn.Module], dict]:
    def apply(subject: Subject, model: nn.Module) -> dict:
        quantize_linears_rtn(model, subject.linears(model), bits, group)
        return {}

    return apply


def gptq(config: GPTQConfig, batch: int = 4) -> Callable[[Subject, nn.Module], dict]:
    def apply(subject: Subject, model: nn.Module) -> dict:
        errors = gptq_sequential(
            model, subject.blocks(model), subject.calibration.split(batch), subject.logits, config
        )
        return {"mean_relative_output_error": sum(errors.values()) / len(errors)}

    return apply


def bnb(kind: str) -> Callable[[Subject, nn.Module], dict]:
    def apply(subject: Subject, model: nn.Module) -> dict:
        to_bnb(model, subject.linears(model), kind)
        return {}

    return apply


def measure(subject: Subject, name: str, model: nn.Module, seconds: float, extra: dict) -> Row:
    ppl = perplexity(model, subject.logits, subject.evaluation)
    speed = measure_speed(
        model,
        subject.logits,
        subject.speed_batch,
        subject.generate,
        subject.new_tokens,
        subject.speed_repeats,
    )
    return Row(
        variant=name,
        perplexity=ppl,
        linear_bytes=linear_bytes(model, (subject.block_prefix,)),
        total_bytes=storage_bytes(model) + _bnb_outside_parameters(model),
        forward_tokens_per_s=speed.forward_tokens_per_s,
        generate_tokens_per_s=speed.generate_tokens_per_s,
        quantize_seconds=seconds,
        extra=extra,
    )


def _bnb_outside_parameters(model: nn.Module) -> int:
    """bitsandbytes keeps scales as attributes of the weight, not as parameters or buffers."""
    from curriculum.quantization.quantization.bnb import bnb_bytes

    extra = 0
    for module in model.modules():
        if type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
            extra += bnb_bytes(module) - sum(
                p.numel() * p.element_size() for p in module.parameters()
            )
    return extra


def compare(
    subject: Subject,
    variants: dict[str, Callable[[Subject, nn.Module], dict] | None],
    progress: Progress | None = None,
    on_row: Callable[[Row], None] | None = None,
    on_model: Callable[[Row, nn.Module], None] | None = None,
) -> list[Row]:
    """Measure each variant (None: the float model itself) on a fresh copy of the model.

    ``on_model(row, model)`` sees each variant's model once measured, before it is dropped
    (e.g. to publish one)."""
    task = progress.add_task("variants", total=len(variants)) if progress else None
    rows = []
    for name, apply in variants.items():
        # A copy even for float32: transformers' GGUF loader leaves tensors that run several
        # times slower than the same weights copied, which would flatter every variant.
        model = copy.deepcopy(subject.model)
        start = time.perf_counter()
        extra = {} if apply is None else apply(subject, model)
        seconds = time.perf_counter() - start
        rows.append(measure(subject, name, model, seconds, extra))
        if on_row:
            on_row(rows[-1])
        if on_model:
            on_model(rows[-1], model)
        del model
        if progress is not None:
            progress.advance(task)
    return rows
