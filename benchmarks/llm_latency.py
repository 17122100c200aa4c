"""Embedded LLM latency: time-to-first-token, generation and prompt-processing speed.

Everything goes through ``LLMGateway`` (so it includes the OpenAI client, HTTP and the
embedded llama.cpp server, exactly what a service sees), streaming with temperature 0:

* ``llm_ttft_p50`` (ms): from sending a short chat request (~50 prompt tokens) to the
  first text delta arriving; median of the runs.
* ``llm_generation_tokens_per_s``: a request that always runs to ``max_tokens=128``;
  ``(completion_tokens - 1) / (time of last delta - time of first delta)``, i.e. decode speed
  with the prompt's processing (which ends at the first token) left out; median of the runs.
  ``completion_tokens`` is the server's own count (the stream's final usage chunk).
* ``llm_prompt_tokens_per_s``: a ~500-token prompt with ``max_tokens=1``;
  ``prompt_tokens / time to first delta`` (the first token is sampled from the prompt's own
  logits, so the wait is prompt processing plus HTTP, ~10 ms); median of the runs.
  ``prompt_tokens`` counts the 4-5 chat-template tokens before the nonce that llama.cpp
  reuses from cache, so this and the server's figure agree to within a few per cent.

Every prompt starts with a fresh nonce, so llama.cpp's prompt cache cannot skip any of it
(identical requests otherwise come back in a few ms with ``cache_n`` = the whole prompt).
Both models' servers are started up front and the runs are interleaved (0.5B, 1.5B, 0.5B,
...), so a burst of load from elsewhere on the machine hits both alike. Baseline: the
0.5B model's figure from the same run; ratio = 1.5B / 0.5B. As a cross-check each line also
carries llama.cpp's own ``timings`` (``server_predicted_per_s``, ``server_prompt_per_s``):
medians over one extra non-streamed generation request and one extra non-streamed long-prompt
request per run (fresh nonces too).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from itertools import count
from typing import Any

from benchmarks._common import main, p50, result, settings
from benchmarks.embedding_throughput import product_sentences

logger = logging.getLogger("benchmarks.llm_latency")

MODELS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
BASELINE_MODEL = MODELS[0]
GEN_MAX_TOKENS = 128
CATALOG_LINES = 17  # product sentences in the long prompt: about 500 tokens with the template

_nonces = count()


def _nonce() -> str:
    # A different first token every request, so no cached prefix can be reused.
    return hashlib.sha256(str(next(_nonces)).encode()).hexdigest()[:12]


def short_prompt() -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": f"Request {_nonce()}. You are a helpful shopping assistant for an "
            "outdoor gear store. Answer briefly.",
        },
        {"role": "user", "content": "Which tent is best for two people on a windy ridge, and why?"},
    ]


def generation_prompt() -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"Request {_nonce()}. You are a helpful assistant."},
        {
            "role": "user",
            "content": "Write a detailed, step-by-step guide to choosing, pitching and caring "
            "for a backpacking tent. Cover at least ten steps.",
        },
    ]


def long_prompt() -> list[dict[str, str]]:
    catalog = "\n".join(f"- {line}" for line in product_sentences(CATALOG_LINES, seed=7))
    return [
        {
            "role": "system",
            "content": f"Request {_nonce()}. You are a shopping assistant. Use only this "
            f"catalogue:\n{catalog}",
        },
        {
            "role": "user",
            "content": "Which two products would you recommend to a commuter who cycles in "
            "the rain, and what do they cost?",
        },
    ]


@dataclass
class Sample:
    ttft_s: float
    decode_s: float
    prompt_tokens: int
    completion_tokens: int


async def stream_once(gateway, messages, max_tokens: int) -> Sample:
    prompt_before = gateway.usage.prompt_tokens
    completion_before = gateway.usage.completion_tokens
    start = time.perf_counter()
    first = last = None
    async for _delta in gateway.stream(messages, max_tokens=max_tokens, temperature=0):
        last = time.perf_counter()
        if first is None:
            first = last
    if first is None or last is None:
        raise RuntimeError(f"{gateway.model} streamed no text")
    return Sample(
        ttft_s=first - start,
        decode_s=last - first,
        prompt_tokens=gateway.usage.prompt_tokens - prompt_before,
        completion_tokens=gateway.usage.completion_tokens - completion_before,
    )


async def server_timings(gateway) -> dict[str, Any]:
    """llama.cpp's own ``timings``: decode speed from a generation request that runs to
    ``max_tokens``, prompt speed from a long-prompt request with ``max_tokens=1`` (both
    non-streamed, fresh nonces)."""
    client = await gateway.client()

    async def timed(messages, max_tokens: int) -> dict[str, Any]:
        response = await client.chat.completions.create(
            model=gateway.model, messages=messages, max_tokens=max_tokens, temperature=0
        )
        return dict((response.model_extra or {}).get("timings") or {})

    gen = await timed(generation_prompt(), GEN_MAX_TOKENS)
    prompt = await timed(long_prompt(), 1)
    return {
        "predicted_per_second": gen.get("predicted_per_second"),
        "predicted_n": gen.get("predicted_n"),
        "prompt_per_second": prompt.get("prompt_per_second"),
        "prompt_n": prompt.get("prompt_n"),
        "cache_n": prompt.get("cache_n"),
    }


@dataclass
class ModelRuns:
    model: str
    start_s: float = 0.0
    ttft: list[Sample] | None = None
    gen: list[Sample] | None = None
    pp: list[Sample] | None = None
    timings: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.ttft, self.gen, self.pp, self.timings = [], [], [], []

    def server(self, key: str) -> float | None:
        """Median of llama.cpp's own figure ``key`` over the cross-check requests."""
        values = [t[key] for t in self.timings or [] if t.get(key) is not None]
        if not values:
            return None
        return int(p50(values)) if all(isinstance(v, int) for v in values) else p50(values)


async def measure(models: tuple[str, ...], runs: int) -> dict[str, ModelRuns]:
    from shared.models.llm import LLMGateway

    conf = settings()
    gateways = {name: LLMGateway(conf, model=name) for name in models}
    out = {name: ModelRuns(name) for name in models}
    try:
        for name, gateway in gateways.items():
            logger.info("starting the embedded server for %s and warming up", name)
            start = time.perf_counter()
            await gateway.client()
            out[name].start_s = time.perf_counter() - start
            await stream_once(gateway, short_prompt(), 8)
            await stream_once(gateway, long_prompt(), 8)
        for run in range(runs):
            for name, gateway in gateways.items():
                logger.info("run %d/%d on %s", run + 1, runs, name)
                out[name].ttft.append(await stream_once(gateway, short_prompt(), 8))
                out[name].gen.append(
                    await stream_once(gateway, generation_prompt(), GEN_MAX_TOKENS)
                )
                out[name].pp.append(await stream_once(gateway, long_prompt(), 1))
                out[name].timings.append(await server_timings(gateway))
    finally:
        for gateway in gateways.values():
            await gateway.aclose()
    return out


def _gen_rate(sample: Sample) -> float:
    if sample.completion_tokens < 2 or sample.decode_s <= 0:
        raise RuntimeError(f"generation produced {sample.completion_tokens} tokens; cannot time")
    return (sample.completion_tokens - 1) / sample.decode_s


def summarize(runs: dict[str, ModelRuns], quick: bool) -> list[dict]:
    conf = settings()
    figures: dict[str, dict[str, float]] = {}
    for name, r in runs.items():
        figures[name] = {
            "ttft": p50([s.ttft_s * 1000 for s in r.ttft]),
            "gen": p50([_gen_rate(s) for s in r.gen]),
            "pp": p50([s.prompt_tokens / s.ttft_s for s in r.pp]),
        }
    base = figures[BASELINE_MODEL]
    lines = []
    for name, r in runs.items():
        common = {
            "benchmark": "llm_latency",
            "model": name,
            "baseline_model": BASELINE_MODEL,
            "runs": len(r.ttft),
            "server_threads": conf.llm_threads or os.cpu_count(),
            "server_start_seconds": r.start_s,
            "quick": quick,
        }
        ttfts = [s.ttft_s * 1000 for s in r.ttft]
        lines.append(
            result(
                "llm_ttft_p50",
                figures[name]["ttft"],
                "ms",
                base["ttft"],
                prompt_tokens=r.ttft[0].prompt_tokens,
                min_ms=min(ttfts),
                max_ms=max(ttfts),
                **common,
            )
        )
        lines.append(
            result(
                "llm_generation_tokens_per_s",
                figures[name]["gen"],
                "tokens/s",
                base["gen"],
                max_tokens=GEN_MAX_TOKENS,
                completion_tokens=[s.completion_tokens for s in r.gen],
                method="(completion_tokens-1)/(last delta - first delta), streamed",
                server_predicted_per_s=r.server("predicted_per_second"),
                server_predicted_n=r.server("predicted_n"),
                **common,
            )
        )
        lines.append(
            result(
                "llm_prompt_tokens_per_s",
                figures[name]["pp"],
                "tokens/s",
                base["pp"],
                prompt_tokens=r.pp[0].prompt_tokens,
                method="prompt_tokens / time to first delta, max_tokens=1, streamed",
                server_prompt_per_s=r.server("prompt_per_second"),
                server_prompt_n=r.server("prompt_n"),
                server_cache_n=r.server("cache_n"),
                **common,
            )
        )
    return lines


def run(quick: bool) -> list[dict]:
    from shared.models.llm import stop_embedded_servers

    models = MODELS[:1] if quick else MODELS
    try:
        runs = asyncio.run(measure(models, runs=3 if quick else 5))
    finally:
        stop_embedded_servers()
    return summarize(runs, quick)


if __name__ == "__main__":
    main("llm_latency", run)
