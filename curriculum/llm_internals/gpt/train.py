"""Training: char-level Shakespeare, AdamW, warmup + cosine, clipping, eval, checkpoints."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from curriculum.llm_internals import shakespeare
from curriculum.llm_internals.gpt.model import GPT, GPTConfig


@dataclass
class TrainConfig:
    model: GPTConfig = field(default_factory=GPTConfig)
    batch_size: int = 32
    max_steps: int = 4000
    max_seconds: float = 600.0  # stop early when the time budget is spent
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 250
    eval_batches: int = 20
    seed: int = 1337
    threads: int = 1  # a second spinning thread is slower when another process holds a core
    # "time": the cosine runs over the time budget (whichever of steps or seconds ends first),
    # so a slow machine still anneals; "steps" is deterministic (the resume test needs it).
    schedule: str = "steps"


class CharData:
    """The plays as one string of character ids; the last 10% is the validation split."""

    def __init__(self, text: str | None = None) -> None:
        text = shakespeare.corpus() if text is None else text
        self.chars = sorted(set(text))
        self.stoi = {char: i for i, char in enumerate(self.chars)}
        # str.translate maps every character to chr(its id) in C; ids < 256 fit one byte each.
        table = str.maketrans({char: chr(i) for i, char in enumerate(self.chars)})
        as_bytes = text.translate(table).encode("latin-1")
        ids = torch.frombuffer(bytearray(as_bytes), dtype=torch.uint8).long()
        cut = int(0.9 * len(ids))
        self.train, self.val = ids[:cut], ids[cut:]

    def encode(self, text: str) -> list[int]:
        return [self.stoi[char] for char in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)

    def batch(self, split: str, batch_size: int, block: int, generator: torch.Generator):
        data = self.train if split == "train" else self.val
        starts = torch.randint(len(data) - block - 1, (batch_size,), generator=generator)
        x = torch.stack([data[s : s + block] for s in starts])
        y = torch.stack([data[s + 1 : s + block + 1] for s in starts])
        return x, y


class TokenData(CharData):
    """The same splits as BPE token ids (the ``bpe`` module's tokenizer): the model, the loop
    and sampling are unchanged; only the vocabulary and the unit of the loss differ."""

    def __init__(self, tokenizer, text: str | None = None) -> None:
        text = shakespeare.corpus() if text is None else text
        self.tokenizer = tokenizer
        self.chars = range(tokenizer.vocab_size)  # len() is the vocabulary size
        ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        self.chars_per_token = len(text) / len(ids)
        cut = int(0.9 * len(ids))
        self.train, self.val = ids[:cut], ids[cut:]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(list(ids))


def learning_rate(step: int, config: TrainConfig, elapsed: float = 0.0) -> float:
    """Linear warmup to ``lr``, then half a cosine down to ``min_lr`` at ``max_steps`` (or, with
    the time schedule, at ``max_seconds`` if that comes first)."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.max_steps - config.warmup))
    if config.schedule == "time":
        progress = max(progress, min(1.0, elapsed / config.max_seconds))
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: GPT, data: CharData, config: TrainConfig) -> dict[str, float]:
    """Mean loss over ``eval_batches`` fixed batches of each split."""
    model.eval()
    losses = {}
    for split in ("train", "val"):
        generator = torch.Generator().manual_seed(0)
        batches = (
            data.batch(split, config.batch_size, config.model.block_size, generator)
            for _ in range(config.eval_batches)
        )
        losses[split] = sum(model(x, y)[1].item() for x, y in batches) / config.eval_batches
    model.train()
    return losses


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def save_checkpoint(path: Path, model, optimizer, step, history, generator, config) -> None:
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "history": asdict(history),
            "generator": generator.get_state(),
            "config": asdict(config),
        },
        path,
    )


def train(
    config: TrainConfig,
    data: CharData,
    checkpoint: Path | None = None,
    resume: bool = False,
    stop_at: int | None = None,
    on_eval=None,
    build=GPT,
) -> tuple[GPT, History]:
    """Train; with ``resume`` continue exactly from ``checkpoint`` (weights, AdamW moments,
    step, data order). ``stop_at`` ends early at that step (to demonstrate resuming).
    ``build`` makes the model from ``config.model`` (the Mamba lesson passes its own)."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build(config.model)
    optimizer = model.configure_optimizer(config.lr, config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    history, step = History(), 0
    if resume and checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history, step = History(**state["history"]), state["step"]
    start = time.perf_counter() - (history.seconds[-1] if history.seconds else 0.0)
    try:
        while step < config.max_steps and (stop_at is None or step < stop_at):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, config, time.perf_counter() - start)
            x, y = data.batch("train", config.batch_size, config.model.block_size, generator)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            elapsed = time.perf_counter() - start
            out_of_time = elapsed > config.max_seconds
            if step % config.eval_every == 0 or step == config.max_steps or out_of_time:
                losses = evaluate(model, data, config)
                history.steps.append(step)
                history.train.append(losses["train"])
                history.val.append(losses["val"])
                history.seconds.append(elapsed)
                if on_eval is not None:
                    on_eval(step, losses, elapsed)
                if checkpoint is not None:
                    save_checkpoint(checkpoint, model, optimizer, step, history, generator, config)
            if out_of_time:
                break
    finally:
        torch.set_num_threads(previous_threads)
    return model, history
