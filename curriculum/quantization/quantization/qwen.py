"""Qwen2.5-Coder-0.5B as the real model to quantize, with Python source as its text.

The weights: the packaged Q4_K_M GGUF, dequantized to float32 by transformers. So the
"float" reference is itself a 4-bit K-quant model written out in float32 — every variant
below quantizes those weights again, and the GGUF Q4_K_M row equals the reference by
construction.

Text: the Python 3.11 standard library's top-level modules (installed with the interpreter,
fixed for a given version), sorted by name; even-indexed files are calibration text and
odd-indexed ones evaluation text, so the two never share a file. From each file one window
of tokens around its middle (past the license header and module docstring).
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from curriculum.quantization.quantization.compare import Row, Subject
from curriculum.quantization.quantization.evaluate import perplexity

MODEL = "qwen2.5-coder-0.5b"


def model_folder() -> Path:
    from shared.config import get_settings
    from shared.models.registry import ModelRegistry

    path = ModelRegistry(get_settings().models_dir).path(MODEL)  # the .gguf file itself
    return path.parent if path.is_file() else path


def load(folder: Path | None = None, gguf_file: str = "model.gguf"):
    """(model, tokenizer) from a GGUF, dequantized to float32. Nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # transformers reads it; no network here
    from transformers import AutoTokenizer

    from curriculum.finetuning.gguf_export import load_dequantized

    folder = folder or model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = load_dequantized(Path(folder) / gguf_file)
    return model.eval(), tokenizer


def stdlib_files() -> list[Path]:
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))


def windows(tokenizer, files: list[Path], count: int, length: int) -> torch.Tensor:
    """(count, length) token ids: the middle ``length`` tokens of the first ``count`` files
    long enough to have them."""
    rows = []
    for path in files:
        ids = tokenizer(path.read_text(encoding="utf-8", errors="replace"))["input_ids"]
        if len(ids) >= length:
            middle = (len(ids) - length) // 2
            rows.append(ids[middle : middle + length])
        if len(rows) == count:
            return torch.tensor(rows)
    raise ValueError(f"only {len(rows)} files hold {length} tokens")


def logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids, use_cache=False).logits


def generate(model: nn.Module, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    return model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=model.config.eos_token_id,
    )


def subject(
    calibration: int = 32, length: int = 256, evaluation: int = 4, eval_length: int = 512
) -> tuple[Subject, object]:
    model, tokenizer = load()
    files = stdlib_files()
    calibration_ids = windows(tokenizer, files[0::2], calibration, length)
    evaluation_ids = windows(tokenizer, files[1::2], evaluation, eval_length)
    return Subject(
        name="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF dequantized to float32)",
        model=model,
        blocks=lambda m: m.model.layers,
        block_prefix="model.layers.",
        logits=logits,
        calibration=calibration_ids,
        evaluation=evaluation_ids,
        speed_batch=evaluation_ids[:1, :128],
        generate=generate,
        new_tokens=8,
        speed_repeats=1,
    ), tokenizer


def gguf_rows(
    subject: Subject, folder: Path, dtypes: tuple[str, ...], reference_ppl: float
) -> Iterator[Row]:
    """llama.cpp's own block types: the packaged GGUF re-encoded by
    curriculum/finetuning/gguf_export.py (Q8_0: blocks of 32 int8 with a float16 scale;
    Q4_0: blocks of 32 4-bit codes with one float16 scale, symmetric), loaded back into
    transformers dequantized, scored on the same windows. Sizes are the files' bytes."""
    from curriculum.finetuning.gguf_export import quantize_gguf

    packaged = model_folder() / "model.gguf"
    yield _file_row("llama.cpp Q4_K_M (packaged = reference)", packaged, reference_ppl)
    for dtype in dtypes:
        path = quantize_gguf(packaged, folder / f"{dtype}.gguf", dtype)
        model, _ = load(folder, path.name)
        ppl = perplexity(model, subject.logits, subject.evaluation)
        del model
        yield _file_row(f"llama.cpp {dtype.upper()}", path, ppl)
        path.unlink()


def _file_row(name: str, path: Path, ppl: float) -> Row:
    return Row(
        variant=name,
        perplexity=ppl,
        linear_bytes=0,
        total_bytes=path.stat().st_size,
        forward_tokens_per_s=float("nan"),
        generate_tokens_per_s=None,
        quantize_seconds=0.0,
        extra={"file": path.name},
    )
