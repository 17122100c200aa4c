"""The serving lesson's parts: memory sampling, greedy agreement, a load test through the real
gateway and embedded llama.cpp on a tiny exported model, and the benchmark's result lines."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.curriculum_serving import serving_lines
from curriculum.finetuning.gguf_export import export_gguf
from curriculum.mlops.serving.measure import RssSampler, measure_model, serving_settings
from curriculum.mlops.serving.parity import agreement
from curriculum.mlops.serving.tiny import save_tiny_qwen2
from shared.config import Settings
from shared.models.registry import ArtifactRegistry, ModelRegistry


def test_agreement_counts_the_common_prefix():
    assert agreement([1, 2, 3, 4], [1, 2, 9, 4]) == 2
    assert agreement([1, 2], [1, 2, 3]) == 2
    assert agreement([5], [6]) == 0


def test_rss_sampler_sees_a_child_allocate():
    # The child allocates (and writes) 200 MB on "go", says "done", frees it and waits.
    code = (
        "import sys; sys.stdin.readline(); b = b'x' * 200_000_000; print('done', flush=True); "
        "del b; sys.stdin.readline()"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        with RssSampler(child.pid, interval=0.01) as rss:
            start = rss.peak
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "done"
            time.sleep(0.05)
        assert rss.peak - start > 150e6
        assert rss.current() < rss.peak
    finally:
        child.stdin.close()
        child.wait(timeout=10)


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory, data_home: Path) -> Settings:
    """A data home with a tiny random Qwen2 published as an ``llm`` artifact."""
    from curriculum.mlops.tracking import tracking_uri

    tokenizer = ModelRegistry(data_home / "models").path("qwen2.5-coder-0.5b")  # its tokenizer
    home = tmp_path_factory.mktemp("serving-home")
    save_tiny_qwen2(home / "hf")
    export_gguf(home / "hf", home / "export" / "model.gguf", "q8_0", tokenizer)
    ArtifactRegistry(home / "models").publish(
        "tiny-q8", home / "export", kind="llm", license="Apache-2.0", description="test"
    )
    settings = Settings(data_home=home, llm_threads=2)
    return settings.model_copy(update={"mlflow_tracking_uri": tracking_uri(settings)})


@pytest.mark.llm
def test_load_test_through_the_gateway(tiny_home):
    settings = serving_settings(tiny_home, (1, 2))
    assert settings.llm_parallel == 2
    result = asyncio.run(measure_model(settings, "tiny-q8", (1, 2), rounds=1, max_tokens=6))
    one, two = result.runs
    # ignore_eos: every request generates exactly max_tokens, whatever the model prefers.
    assert (one.requests, one.completion_tokens) == (1, 6)
    assert (two.requests, two.completion_tokens) == (2, 12)
    for run in result.runs:
        assert run.throughput_tok_s > 0 and run.ttft_p50_ms > 0 and run.inter_token_p50_ms > 0
        assert run.rss_peak_mb >= 0.9 * result.rss_idle_mb > 0
    assert result.load_s > 0
    # Its server was stopped afterwards (the session's shared server, if any, is left alone).
    assert not [p for p in psutil.Process().children(recursive=True)
                if "shared.models.llama_server" in " ".join(p.cmdline())
                and "tiny-q8" in " ".join(p.cmdline())]  # fmt: skip


def test_benchmark_lines_compare_with_f16():
    def runs(scale: float) -> list[dict]:
        return [{"concurrency": c, "requests": c, "completion_tokens": 8 * c,
                 "throughput_tok_s": scale * c, "ttft_p50_ms": 100 / scale,
                 "inter_token_p50_ms": 50 / scale, "rss_peak_mb": 1000 / scale}
                for c in (1, 2)]  # fmt: skip

    results = {
        "serving": {
            "f16": {"model": "m-f16", "rss_idle_mb": 900.0, "runs": runs(1.0)},
            "q4_0": {"model": "m-q4_0", "rss_idle_mb": 300.0, "runs": runs(2.0)},
        },
        "exports": {
            "f16": {"size_mb": 1200.0, "greedy_agreement": [16, 16]},
            "q4_0": {"size_mb": 400.0, "greedy_agreement": [16, 3]},
        },
    }
    lines = {(x["metric"], x["variant"]): x for x in serving_lines(results, vllm="skipped")}
    assert lines[("serving_throughput_c2", "q4_0")]["ratio"] == 2.0
    assert lines[("serving_throughput_c2", "f16")]["ratio"] == 1.0
    assert lines[("serving_ttft_p50_c1", "q4_0")]["ratio"] == 0.5
    assert lines[("serving_rss_idle", "q4_0")]["value"] == 300.0
    assert lines[("serving_gguf_size", "q4_0")]["ratio"] == pytest.approx(1 / 3, rel=1e-3)
    assert all(x["vllm"] == "skipped" for x in lines.values())
