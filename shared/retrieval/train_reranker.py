"""Fine-tune a cross-encoder reranker from the packaged MiniLM weights.

A plain PyTorch loop over (query, passage, label) pairs with binary cross-entropy: small,
dependency-free (no ``datasets``/``accelerate``), and fast enough on a laptop CPU for a few
thousand pairs. The result is a sentence-transformers CrossEncoder directory that
``CrossEncoderReranker`` loads, and that can be published to the model registry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import torch


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
    from sentence_transformers import CrossEncoder

    if not pairs:
        raise ValueError("no training pairs")
    torch.manual_seed(seed)
    rng = random.Random(seed)  # noqa: S311 - shuffling, not security
    model = CrossEncoder(str(base_dir), num_labels=1, device="cpu", max_length=max_length,
                         local_files_only=True)  # fmt: skip
    optimiser = torch.optim.AdamW(model.model.parameters(), lr=learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = list(pairs)
    model.model.train()
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            features = model.tokenizer(
                [p[0] for p in batch], [p[1] for p in batch], padding=True, truncation=True,
                max_length=max_length, return_tensors="pt",
            )  # fmt: skip
            logits = model.model(**features).logits.squeeze(-1)
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
