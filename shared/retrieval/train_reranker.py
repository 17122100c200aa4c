"""Fine-tune a cross-encoder reranker from the packaged MiniLM weights.

Plain PyTorch loops (no ``datasets``/``accelerate``), small enough for a laptop CPU. Two ways
to train:

- :func:`train_groups`: one query, its positive and its hard negatives per group. The default
  loss is listwise: a softmax over the group's scores with the positive as the target class
  (InfoNCE), which asks for exactly what reranking needs (the positive above these
  negatives) and gets a gradient from every negative on every step. ``loss="bce"`` scores
  each pair on its own instead (pointwise).
- :func:`train_cross_encoder`: independent (query, passage, label) pairs with binary
  cross-entropy.

Either way the result is a sentence-transformers CrossEncoder directory that
``CrossEncoderReranker`` loads and that can be published to the model registry.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch


class TrainingGroup(Protocol):
    query: str
    positive: str
    negatives: Sequence[str]


@dataclass(frozen=True)
class GroupTrainConfig:
    loss: Literal["listwise", "bce"] = "listwise"
    epochs: int = 1
    groups_per_batch: int = 8
    negatives: int = 7  # per group, at most
    learning_rate: float = 5e-5
    # The head is new and starts near zero; its small weights also scale down every gradient
    # that reaches the encoder. A larger rate for the head gets both moving sooner.
    head_learning_rate: float | None = None  # None: learning_rate
    warmup: float = 0.1  # share of the schedule spent warming up
    max_length: int = 128
    max_seconds: float | None = None  # the schedule also decays to 0 by this wall time
    clip: float = 1.0
    seed: int = 0
    threads: int | None = None


@dataclass(frozen=True)
class Step:
    step: int
    loss: float
    learning_rate: float
    seconds: float
    groups: int  # groups seen so far


def load_cross_encoder(base_dir: Path, *, max_length: int = 128, seed: int = 0):
    """MiniLM (or any BERT-style folder) as a one-logit CrossEncoder. From a bi-encoder the
    classification head is new: seeded, so "step 0" is the same model on every run."""
    from sentence_transformers import CrossEncoder

    torch.manual_seed(seed)
    return CrossEncoder(str(base_dir), num_labels=1, device="cpu", max_length=max_length,
                        local_files_only=True)  # fmt: skip


def save_untrained(base_dir: Path, out_dir: Path, *, seed: int = 0) -> Path:
    """The starting point of training, saved as a CrossEncoder: the baseline to beat."""
    model = load_cross_encoder(base_dir, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return out_dir


def _scores(model, queries: list[str], passages: list[str], max_length: int) -> torch.Tensor:
    features = model.tokenizer(queries, passages, padding=True, truncation=True,
                               max_length=max_length, return_tensors="pt")  # fmt: skip
    return model.model(**features).logits.squeeze(-1)


def _group_loss(model, batch: list[TrainingGroup], config: GroupTrainConfig) -> torch.Tensor:
    queries, passages, slots = [], [], []
    for row, group in enumerate(batch):
        for col, text in enumerate([group.positive, *group.negatives[: config.negatives]]):
            queries.append(group.query)
            passages.append(text)
            slots.append((row, col))
    flat = _scores(model, queries, passages, config.max_length)
    if config.loss == "bce":
        labels = torch.tensor([1.0 if col == 0 else 0.0 for _, col in slots])
        return torch.nn.functional.binary_cross_entropy_with_logits(flat, labels)
    # Groups may hold fewer negatives than others: missing slots get -inf, weight 0.
    width = 1 + max(len(g.negatives[: config.negatives]) for g in batch)
    logits = torch.full((len(batch), width), float("-inf"))
    rows, cols = zip(*slots, strict=True)
    logits = logits.index_put((torch.tensor(rows), torch.tensor(cols)), flat)
    return torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))


def _learning_rate(config: GroupTrainConfig, done: float) -> float:
    """Linear warmup, then linear decay to 0; ``done`` is the share of the run completed."""
    if done < config.warmup:
        return config.learning_rate * done / config.warmup
    return config.learning_rate * max(0.0, 1 - done) / max(1e-9, 1 - config.warmup)


def train_groups(
    groups: Sequence[TrainingGroup],
    *,
    base_dir: Path,
    out_dir: Path,
    config: GroupTrainConfig = GroupTrainConfig(),
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Train from ``base_dir`` on ``groups``; save a CrossEncoder to ``out_dir``. Stops after
    ``config.epochs`` or ``config.max_seconds``, whichever is first; the learning rate reaches
    0 at whichever of the two comes first. Returns the per-step history."""
    if not groups:
        raise ValueError("no training groups")
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    model = load_cross_encoder(base_dir, max_length=config.max_length, seed=config.seed)
    rng = random.Random(config.seed)  # noqa: S311 - shuffling, not security
    head = [p for n, p in model.model.named_parameters() if n.startswith("classifier.")]
    body = [p for n, p in model.model.named_parameters() if not n.startswith("classifier.")]
    head_rate = config.head_learning_rate or config.learning_rate
    optimiser = torch.optim.AdamW([{"params": body, "scale": 1.0},
                                   {"params": head, "scale": head_rate / config.learning_rate}],
                                  lr=config.learning_rate)  # fmt: skip
    steps_per_epoch = math.ceil(len(groups) / config.groups_per_batch)
    total = steps_per_epoch * config.epochs
    history: list[Step] = []
    start = time.perf_counter()
    model.model.train()
    try:
        for _ in range(config.epochs):
            order = list(groups)
            rng.shuffle(order)
            for first in range(0, len(order), config.groups_per_batch):
                elapsed = time.perf_counter() - start
                if config.max_seconds is not None and elapsed >= config.max_seconds:
                    break
                done = len(history) / total
                if config.max_seconds:
                    done = max(done, elapsed / config.max_seconds)
                lr = _learning_rate(config, done)
                for param_group in optimiser.param_groups:
                    param_group["lr"] = lr * param_group["scale"]
                batch = order[first : first + config.groups_per_batch]
                loss = _group_loss(model, batch, config)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.model.parameters(), config.clip)
                optimiser.step()
                optimiser.zero_grad()
                seen = (history[-1].groups if history else 0) + len(batch)
                history.append(Step(len(history) + 1, loss.item(), lr,
                                    time.perf_counter() - start, seen))  # fmt: skip
                if on_step:
                    on_step(history[-1])
    finally:
        torch.set_num_threads(previous_threads)
    model.model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return history


def train_cross_encoder(
    pairs: list[tuple[str, str, float]],
    *,
    base_dir: Path,
    out_dir: Path,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 3e-5,
    max_length: int = 256,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Train on ``pairs`` (label 1.0 = relevant) starting from ``base_dir`` (a BERT-style
    sentence-transformers folder); save a CrossEncoder to ``out_dir``. ``progress`` gets the
    number of pairs done after each batch."""
    if not pairs:
        raise ValueError("no training pairs")
    model = load_cross_encoder(base_dir, max_length=max_length, seed=seed)
    rng = random.Random(seed)  # noqa: S311 - shuffling, not security
    optimiser = torch.optim.AdamW(model.model.parameters(), lr=learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = list(pairs)
    model.model.train()
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            logits = _scores(model, [p[0] for p in batch], [p[1] for p in batch], max_length)
            loss = loss_fn(logits, torch.tensor([float(p[2]) for p in batch]))
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            if progress:
                progress(len(batch))
    model.model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return out_dir
