"""Load tests through the LLM gateway (streaming): time to first token, time between tokens,
throughput at 1, 2, 4... concurrent requests, and the llama.cpp server's resident memory."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import psutil

from shared.config import Settings
from shared.models.llm import LLMGateway, stop_embedded_servers

PROMPTS = (
    "Write a Python function that checks whether a string is a palindrome.",
    "Explain what a SQL LEFT JOIN returns, with a short example.",
    "Write a bash one-liner that counts the lines of every .py file in a folder.",
    "What does Python's functools.lru_cache do? Show a small example.",
)


@dataclass(frozen=True)
class RequestTiming:
    ttft_s: float  # request sent -> first text delta
    deltas: int  # streamed text chunks (llama.cpp sends one per token)
    total_s: float

    @property
    def inter_token_s(self) -> float | None:
        if self.deltas < 2:
            return None
        return (self.total_s - self.ttft_s) / (self.deltas - 1)


@dataclass(frozen=True)
class LoadResult:
    model: str
    concurrency: int
    requests: int
    completion_tokens: int
    wall_s: float
    throughput_tok_s: float  # completion tokens / wall time, all requests together
    ttft_p50_ms: float
    ttft_max_ms: float
    inter_token_p50_ms: float
    rss_peak_mb: float

    def as_dict(self) -> dict:
        return asdict(self)


class RssSampler:
    """Peak resident set size of one process, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def current(self) -> int:
        return self.process.memory_info().rss

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.current())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def server_pid(model: str) -> int:
    """The embedded llama.cpp server this process started for ``model``."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmd = child.cmdline()
            if "shared.models.llama_server" in cmd and cmd[cmd.index("--alias") + 1] == model:
                return child.pid
    raise RuntimeError(f"no embedded llama.cpp server for {model!r} among our children")


async def timed_request(gateway: LLMGateway, prompt: str, max_tokens: int) -> RequestTiming:
    start = time.perf_counter()
    stamps = []
    # Greedy, and ignore_eos so that every request generates exactly max_tokens: the models
    # then do the same amount of work whatever they would have answered. No prompt cache: the
    # few prompts repeat, and a cached prompt would reduce time to first token to one step.
    extra = {"ignore_eos": True, "cache_prompt": False}
    async for _ in gateway.stream([{"role": "user", "content": prompt}], max_tokens=max_tokens,
                                  temperature=0.0, extra_body=extra):  # fmt: skip
        stamps.append(time.perf_counter())
    if not stamps:
        raise RuntimeError(f"{gateway.model} streamed nothing for {prompt!r}")
    return RequestTiming(stamps[0] - start, len(stamps), stamps[-1] - start)


async def load_test(
    gateway: LLMGateway, pid: int, concurrency: int, rounds: int, max_tokens: int,
    prompts: Sequence[str] = PROMPTS,
) -> LoadResult:  # fmt: skip
    """``concurrency`` clients, each sending ``rounds`` requests one after another."""
    before = gateway.usage.completion_tokens

    async def client(index: int) -> list[RequestTiming]:
        return [
            await timed_request(gateway, prompts[(index + r) % len(prompts)], max_tokens)
            for r in range(rounds)
        ]

    with RssSampler(pid) as rss:
        start = time.perf_counter()
        per_client = await asyncio.gather(*(client(i) for i in range(concurrency)))
        wall = time.perf_counter() - start
    timings = [t for batch in per_client for t in batch]
    tokens = gateway.usage.completion_tokens - before
    gaps = [t.inter_token_s for t in timings if t.inter_token_s is not None]
    return LoadResult(
        model=gateway.model, concurrency=concurrency, requests=len(timings),
        completion_tokens=tokens, wall_s=wall, throughput_tok_s=tokens / wall,
        ttft_p50_ms=1000 * statistics.median(t.ttft_s for t in timings),
        ttft_max_ms=1000 * max(t.ttft_s for t in timings),
        inter_token_p50_ms=1000 * statistics.median(gaps) if gaps else float("nan"),
        rss_peak_mb=rss.peak / 1e6,
    )  # fmt: skip


@dataclass(frozen=True)
class ModelResult:
    model: str
    rss_idle_mb: float  # after loading and one warm-up request
    load_s: float  # gateway start: server process, model load, health check
    runs: list[LoadResult]


async def measure_model(
    settings: Settings, model: str, concurrencies: Sequence[int], rounds: int, max_tokens: int
) -> ModelResult:
    """Start the embedded server for ``model`` through the gateway, load-test it, stop it."""
    gateway = LLMGateway(settings, model=model)
    try:
        start = time.perf_counter()
        await gateway.health()
        load_s = time.perf_counter() - start
        pid = server_pid(model)
        await timed_request(gateway, PROMPTS[0], 8)  # warm-up: first-call allocations
        idle = psutil.Process(pid).memory_info().rss / 1e6
        runs = [await load_test(gateway, pid, c, rounds, max_tokens) for c in concurrencies]
    finally:
        await gateway.aclose()
        stop_embedded_servers([model])  # only ours: others may share this process
    return ModelResult(model, idle, load_s, runs)


def serving_settings(settings: Settings, concurrencies: Sequence[int]) -> Settings:
    """As many server slots and gateway permits as the highest concurrency tested, so that the
    concurrent requests really run in parallel inside llama.cpp (continuous batching)."""
    top = max(concurrencies)
    return settings.model_copy(update={"llm_parallel": top, "llm_concurrency": top,
                                       "llm_ctx": 1024 * top})  # fmt: skip
