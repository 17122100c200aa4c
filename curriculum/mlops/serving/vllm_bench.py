"""The GPU half of the lesson: vLLM serving a GPTQ or AWQ checkpoint. It needs CUDA and the
``vllm`` package; on a CPU machine it is skipped and the report says why."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path

from curriculum.mlops.serving.measure import PROMPTS


def unavailable_reason() -> str | None:
    """Why vLLM cannot run here, or None when it can."""
    import torch

    if not torch.cuda.is_available():
        return "CUDA is not available (torch.cuda.is_available() is False: CPU-only torch)"
    if importlib.util.find_spec("vllm") is None:
        return "the vllm package is not installed"
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # a broken CUDA stack raises anything
        return f"vllm does not import: {exc}"
    return None


def run_vllm(model_dir: Path, concurrencies: Sequence[int], max_tokens: int) -> list[dict]:
    """Offline-engine batches of 1, 2, 4... prompts (vLLM batches them continuously, as its
    server would); the quantization (GPTQ/AWQ) comes from the checkpoint's config."""
    from vllm import LLM, SamplingParams

    engine = LLM(model=str(model_dir), gpu_memory_utilization=0.5)
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    engine.generate(list(PROMPTS[:1]), params)  # warm-up (CUDA graphs, allocator)
    rows = []
    for concurrency in concurrencies:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(concurrency)]
        start = time.perf_counter()
        outputs = engine.generate(prompts, params)
        wall = time.perf_counter() - start
        tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
        rows.append({"model": str(model_dir), "concurrency": concurrency, "tokens": tokens,
                     "wall_s": wall, "throughput_tok_s": tokens / wall})  # fmt: skip
    return rows
