"""Greedy decoding in transformers and in llama.cpp, token id for token id.

Both sides get the same prompt token ids (no tokenizer in between), decode greedily and return
the new ids, so any difference comes from the weights and the arithmetic, not from text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx

from shared.models.llama_server import EmbeddedLLMServer, ServerOptions


def transformers_greedy(model, prompt_ids: Sequence[int], n_tokens: int) -> list[int]:
    """The ``n_tokens`` ids a transformers causal LM picks greedily after ``prompt_ids``."""
    import torch

    with torch.no_grad():
        out = model.generate(
            torch.tensor([list(prompt_ids)]),
            attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
            max_new_tokens=n_tokens,
            min_new_tokens=n_tokens,  # as llama.cpp's ignore_eos: compare whole sequences
            do_sample=False,
            pad_token_id=0,
        )
    return out[0, len(prompt_ids) :].tolist()


def llama_cpp_greedy(
    gguf_path: Path, prompts: Sequence[Sequence[int]], n_tokens: int, *, ctx: int = 1024,
    threads: int = 0,
) -> list[list[int]]:  # fmt: skip
    """Serve ``gguf_path`` with the embedded llama.cpp server and decode each prompt greedily
    through its raw ``/completion`` endpoint (token ids in, token ids out)."""
    server = EmbeddedLLMServer(
        ServerOptions(model_path=Path(gguf_path), ctx=ctx, parallel=1, threads=threads)
    )
    server.start()
    try:
        root = server.base_url.removesuffix("/v1")
        return [_complete(root, prompt, n_tokens) for prompt in prompts]
    finally:
        server.stop()


def _complete(root: str, prompt: Sequence[int], n_tokens: int) -> list[int]:
    body = {
        "prompt": list(prompt),
        "n_predict": n_tokens,
        "temperature": 0.0,
        "top_k": 1,
        "ignore_eos": True,
        "cache_prompt": False,
        "return_tokens": True,
    }
    response = httpx.post(f"{root}/completion", json=body, timeout=300)
    response.raise_for_status()
    return response.json()["tokens"]


def agreement(reference: Sequence[int], other: Sequence[int]) -> int:
    """How many leading tokens two greedy decodes share (after the first difference the
    contexts differ, so later positions are not comparable)."""
    count = 0
    for a, b in zip(reference, other, strict=False):
        if a != b:
            break
        count += 1
    return count
