"""Run one process, DDP and FSDP on the same configuration, tracked in MLflow, and sum up
the per-rank memory and the loss gaps."""

from __future__ import annotations

import statistics
from pathlib import Path

from rich.progress import Progress

from curriculum.foundations._report import track
from curriculum.mlops.fsdp.launch import default_ranks, launch
from curriculum.mlops.fsdp.train import STRATEGIES
from curriculum.mlops.tracking import tracked_run

STATE_KEYS = ("param_bytes", "grad_bytes", "optim_bytes")


def state_bytes(rank: dict) -> int:
    """Parameters + gradients + AdamW moments held by one rank."""
    return sum(rank[key] for key in STATE_KEYS)


def loss_gap(a: dict, b: dict) -> float:
    """Largest per-step difference between two runs' global-batch losses."""
    return max(abs(x - y) for x, y in zip(a["losses"], b["losses"], strict=True))


def summary(runs: dict[str, dict]) -> dict[str, float]:
    """Headline figures: per-rank memory of FSDP against DDP, loss gaps against one process."""
    ddp, fsdp = runs["ddp"]["ranks"], runs["fsdp"]["ranks"]
    figures = {
        "parameters": runs["single"]["parameters"],
        "ranks": len(fsdp),
        "ddp_state_bytes_per_rank": max(state_bytes(r) for r in ddp),
        "fsdp_state_bytes_per_rank": max(state_bytes(r) for r in fsdp),
        "ddp_peak_rss_per_rank": max(r["rss_peak"] for r in ddp),
        "fsdp_peak_rss_per_rank": max(r["rss_peak"] for r in fsdp),
        "loss_gap_ddp": loss_gap(runs["ddp"], runs["single"]),
        "loss_gap_fsdp": loss_gap(runs["fsdp"], runs["single"]),
    }
    figures["state_ratio"] = (
        figures["fsdp_state_bytes_per_rank"] / figures["ddp_state_bytes_per_rank"]
    )
    figures["peak_rss_ratio"] = figures["fsdp_peak_rss_per_rank"] / figures["ddp_peak_rss_per_rank"]
    for name, run in runs.items():
        # The first step includes one-off work (allocations, DDP's bucket setup).
        figures[f"{name}_step_seconds"] = statistics.median(run["step_seconds"][1:] or [0.0])
    return figures


def compare(
    options: dict[str, object], folder: Path, ranks: int | None = None,
    progress: Progress | None = None, experiment: str = "fsdp",
) -> tuple[dict[str, dict], dict[str, float]]:  # fmt: skip
    """Launch the three strategies one after another (so each has the cores to itself) and
    log the losses, memory and summary to one MLflow run."""
    ranks = ranks or default_ranks()
    with tracked_run(experiment, params={**options, "ranks": ranks}) as tracked:
        runs = {
            strategy: launch(strategy, options, folder, ranks)
            for strategy in track(progress, STRATEGIES, "single / DDP / FSDP")
        }
        for step, losses in enumerate(zip(*(runs[s]["losses"] for s in STRATEGIES), strict=True)):
            tracked.log_metrics({f"loss_{s}": v for s, v in zip(STRATEGIES, losses, strict=True)},
                                step=step)  # fmt: skip
        figures = summary(runs)
        tracked.log_metrics(figures)
        tracked.log_params({"backend": runs["fsdp"]["backend"], "device": runs["fsdp"]["device"]})
        tracked.log_artifact(folder, "runs")
        figures["mlflow_run_id"] = tracked.run_id
    return runs, figures
