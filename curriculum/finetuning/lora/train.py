"""Fine-tune Qwen2.5-Coder-0.5B with our LoRA: load the packaged GGUF dequantized, train the
adapters on the instruction set (loss on the answer tokens only), track the run in MLflow."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from curriculum.finetuning.lora.data import Example
from curriculum.finetuning.lora.lora import ATTENTION, MLP, inject_lora, parameter_counts
from shared.config import Settings, get_settings
from shared.models.registry import ModelRegistry

BASE_MODEL = "qwen2.5-coder-0.5b"


@dataclass(frozen=True)
class TrainConfig:
    r: int = 16
    alpha: float = 32
    dropout: float = 0.05
    targets: tuple[str, ...] = ATTENTION + MLP
    lr: float = 3e-4
    warmup: int = 3  # optimizer steps
    grad_accum: int = 4  # examples per optimizer step (batch 1 each)
    max_len: int = 640  # tokens; longer examples are skipped, never cut
    max_steps: int = 60  # optimizer steps
    # Budget: 15 minutes of 2 cores, counted as this process's CPU time, so that a machine
    # shared with other jobs slows the run down instead of shortening it; a wall-clock cap
    # bounds the wait. Whichever runs out first ends training; the schedule follows it.
    max_cpu_seconds: float = 1800.0
    max_seconds: float = 900.0
    threads: int = 2
    seed: int = 0
    # The frozen base in bfloat16 (this CPU has AVX512-BF16: matmuls ~2.5x faster than
    # float32); the adapters and AdamW stay float32.
    base_dtype: str = "bfloat16"


def load_tokenizer(settings: Settings | None = None):
    """The packaged model's tokenizer, saved as HF files once (reading it out of the GGUF takes
    tens of seconds each time)."""
    from transformers import AutoTokenizer

    settings = settings or get_settings()
    cache = settings.data_home / "cache" / f"{BASE_MODEL}-tokenizer"
    if (cache / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(cache)
    gguf = ModelRegistry(settings.models_dir).path(BASE_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(cache)
    return tokenizer


def load_base_model(settings: Settings | None = None, dtype: torch.dtype = torch.float32):
    """Qwen2.5-Coder-0.5B-Instruct, dequantized from the packaged Q4_K_M GGUF."""
    from curriculum.finetuning.gguf_export import load_dequantized

    settings = settings or get_settings()
    return load_dequantized(ModelRegistry(settings.models_dir).path(BASE_MODEL), dtype)


def tiny_model(vocab_size: int):
    """A random Qwen2 with the real vocabulary: the quick mode's stand-in for the 0.5B."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True,
    )  # fmt: skip
    return Qwen2ForCausalLM(config)


def encode(example: Example, tokenizer) -> tuple[list[int], int]:
    """(token ids of the whole chat, number of prompt tokens). The answer ends with the chat
    template's end-of-turn token, so the model learns to stop."""
    prompt = tokenizer.apply_chat_template(
        example.messages, add_generation_prompt=True, tokenize=False
    )
    full = tokenizer.apply_chat_template(
        [*example.messages, {"role": "assistant", "content": example.target}], tokenize=False
    )
    if not full.startswith(prompt):
        raise ValueError("the chat template does not extend the prompt with the answer")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :].rstrip("\n"), add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, len(prompt_ids)


def answer_loss(
    model: nn.Module, ids: list[int], prompt_len: int, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of the answer tokens (their mean, or ``reduction="sum"``). The vocabulary
    projection (151k x 896, a fifth of the model) runs only on the answer positions, not the
    whole prompt."""
    tokens = torch.tensor([ids])
    hidden = model.model(input_ids=tokens).last_hidden_state[0, prompt_len - 1 : -1]
    logits = model.lm_head(hidden)
    return nn.functional.cross_entropy(logits.float(), tokens[0, prompt_len:], reduction=reduction)


def batch_loss_backward(model: nn.Module, batch: list[tuple[list[int], int]]) -> float:
    """Backpropagate the mean cross-entropy over every answer token of ``batch``, one example
    at a time (activations of one example in memory); returns that mean.

    Every answer token weighs the same. A mean per example would give each of the 7 tokens
    of an empty review ({"comments":[]}) ten times the weight of a token of a 60-token
    finding, so the token that decides "finding or not" would be pulled towards "not" by the
    few clean examples: the first full run learned to answer every diff with no comments."""
    answer_tokens = sum(len(ids) - prompt_len for ids, prompt_len in batch)
    total = 0.0
    for ids, prompt_len in batch:
        loss = answer_loss(model, ids, prompt_len, reduction="sum") / answer_tokens
        loss.backward()
        total += loss.item()
    return total


def learning_rate(step: int, elapsed: float, cpu: float, config: TrainConfig) -> float:
    """Linear warmup, then cosine to 10%, along whichever budget runs out first: steps, CPU
    seconds or wall seconds."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = max(step / config.max_steps, elapsed / config.max_seconds,
                   cpu / config.max_cpu_seconds)  # fmt: skip
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclass
class History:
    steps: list[int]
    loss: list[float]
    seconds: list[float]
    cpu_seconds: list[float] = field(default_factory=list)
    examples_seen: int = 0
    skipped_long: int = 0


def train(
    model: nn.Module,
    tokenizer,
    examples: list[Example],
    config: TrainConfig,
    log: Callable[[dict[str, float], int], None] = lambda metrics, step: None,
    on_step: Callable[[int], None] = lambda step: None,
) -> History:
    """Inject LoRA into ``model`` and train it in place; returns the loss per optimizer step."""
    torch.manual_seed(config.seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    model.to(getattr(torch, config.base_dtype))
    inject_lora(model, config.targets, r=config.r, alpha=config.alpha, dropout=config.dropout,
                dtype=torch.float32)  # fmt: skip
    encoded = [encode(e, tokenizer) for e in examples]
    usable = [(ids, n) for ids, n in encoded if len(ids) <= config.max_len]
    history = History([], [], [], skipped_long=len(encoded) - len(usable))
    if not usable:
        raise ValueError(f"no example fits in {config.max_len} tokens")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    model.train()
    start, cpu_start = time.perf_counter(), time.process_time()
    cursor = 0
    try:
        for step in range(config.max_steps):
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            if elapsed >= config.max_seconds or cpu >= config.max_cpu_seconds:
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, elapsed, cpu, config)
            batch = [usable[(cursor + i) % len(usable)] for i in range(config.grad_accum)]
            cursor += config.grad_accum
            total = batch_loss_backward(model, batch)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - start
            history.steps.append(step + 1)
            history.loss.append(total)
            history.seconds.append(seconds)
            history.cpu_seconds.append(time.process_time() - cpu_start)
            log({"train_loss": total, "lr": optimizer.param_groups[0]["lr"]}, step + 1)
            on_step(step + 1)
    finally:
        torch.set_num_threads(previous_threads)
    history.examples_seen = cursor
    model.eval()
    return history


def describe(model: nn.Module) -> dict[str, float]:
    trainable, total = parameter_counts(model)
    return {"trainable": trainable, "total": total, "percent": 100 * trainable / total}


def config_params(config: TrainConfig) -> dict:
    return {k: (",".join(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}


def save_merged(model: nn.Module, tokenizer, folder: Path) -> Path:
    """Fold the adapters into the weights and save a stock transformers checkpoint."""
    from curriculum.finetuning.lora.lora import strip_lora

    model.float()  # merge in float32: the adapters' update is not rounded to bfloat16
    strip_lora(model)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
