"""FSDP2 on 2 CPU ranks (gloo, launched by torchrun) against one process: the same losses, and
each rank holding only its shard of the state."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.llm_internals.gpt.model import GPTConfig
from curriculum.mlops.fsdp.compare import state_bytes
from curriculum.mlops.fsdp.launch import launch
from curriculum.mlops.fsdp.train import RunConfig, train
from shared.config import get_settings

# float64: summation order changes the loss by ~1e-16, so any real difference in what the
# ranks compute (a wrong slice, a sum instead of a mean, a missed reduction) stands out.
TINY = {"layers": 2, "heads": 2, "width": 32, "context": 16, "global_batch": 4, "steps": 6,
        "max_chars": 5_000, "dtype": "float64", "threads": 1}  # fmt: skip


@pytest.fixture(scope="module")
def single() -> dict:
    model = GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32)
    config = RunConfig(strategy="single", model=model, global_batch=4, steps=6,
                       max_chars=5_000, dtype="float64", threads=1)  # fmt: skip
    return train(config)


def test_fsdp_ranks_follow_one_process_and_hold_half_the_state(single, tmp_path):
    fsdp = launch("fsdp", TINY, tmp_path, ranks=2, timeout=300)
    assert fsdp["world_size"] == 2 and fsdp["backend"] == "gloo"
    assert fsdp["parameters"] == single["parameters"]
    for a, b in zip(fsdp["losses"], single["losses"], strict=True):
        assert abs(a - b) < 1e-9
    assert single["losses"][-1] < single["losses"][0]  # it trains

    full = single["ranks"][0]
    shards = fsdp["ranks"]
    for key in ("param_bytes", "grad_bytes", "optim_bytes"):
        # The two shards partition each tensor: together exactly the model, each about half.
        assert sum(rank[key] for rank in shards) == full[key]
        assert all(rank[key] < 0.6 * full[key] for rank in shards)
    assert all(state_bytes(rank) < state_bytes(full) for rank in shards)


def test_ddp_ranks_follow_one_process_and_hold_everything(single, tmp_path):
    ddp = launch("ddp", TINY, tmp_path, ranks=2, timeout=300)
    for a, b in zip(ddp["losses"], single["losses"], strict=True):
        assert abs(a - b) < 1e-9
    assert all(state_bytes(rank) == state_bytes(single["ranks"][0]) for rank in ddp["ranks"])


@pytest.mark.slow
def test_lesson_writes_report(tmp_path, monkeypatch):
    monkeypatch.setenv("ASCENT_DATA_HOME", str(tmp_path / "home"))  # MLflow's store
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["fsdp", "--quick", "--out", str(tmp_path / "out")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Memory per rank" in report and (tmp_path / "out" / "memory.png").is_file()
