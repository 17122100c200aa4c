"""FSDP2 against DDP on 2 CPU ranks (gloo): per-rank memory, loss agreement, step time.

The curriculum GPT (8 layers, 8 heads, width 512, context 64: ~25M parameters) trained for
20 steps on Shakespeare with AdamW, global batch 8, in three separate launches of
``curriculum/mlops/fsdp/train.py``: one process, ``torchrun`` DDP, ``torchrun`` FSDP2
(``fully_shard`` per block plus the root); one thread per process. Baseline, in the same run:
DDP on the same ranks. Lines:

- ``fsdp_state_bytes_per_rank``: parameters + gradients + AdamW moments held by the largest
  rank, counted from its local tensors (a DTensor's local shard); expected ratio ~1/N.
- ``fsdp_peak_rss_per_rank``: peak resident memory over the training steps (VmHWM, reset
  after setup; glibc's mmap threshold fixed at 64 KiB so RSS follows the live tensors,
  see ``launch.py``).
- ``fsdp_loss_gap``: the largest per-step loss difference to one process on the same global
  batch (baseline: DDP's gap); float32 rounding, ~1e-6, unless a loss spike amplifies it
  (FSDP sums the clipping norm shard by shard, ~1e-5 relative off one process's sum);
  ``grad_norm_gap`` is that relative difference at step 0, where the weights are identical.
- ``fsdp_step_seconds``: median step time (2 shared cores: indicative only).

``--quick``: a 2-layer, 64-wide GPT for 10 steps (~1 minute).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks._common import main, result
from curriculum.mlops.fsdp.compare import compare

FULL = {"layers": 8, "heads": 8, "width": 512, "context": 64, "global_batch": 8, "steps": 20,
        "threads": 1}  # fmt: skip
QUICK = {"layers": 2, "heads": 2, "width": 64, "context": 64, "global_batch": 8, "steps": 10,
         "max_chars": 200_000, "threads": 1}  # fmt: skip


def run(quick: bool) -> list[dict]:
    options = QUICK if quick else FULL
    with tempfile.TemporaryDirectory() as folder:
        runs, f = compare(options, Path(folder), experiment="fsdp-benchmark")
    context = {"parameters": f["parameters"], "ranks": f["ranks"], "steps": options["steps"],
               "backend": runs["fsdp"]["backend"], "mlflow_run_id": f["mlflow_run_id"]}  # fmt: skip
    return [
        result(
            "fsdp_state_bytes_per_rank",
            f["fsdp_state_bytes_per_rank"],
            "bytes",
            f["ddp_state_bytes_per_rank"],
            **context,
        ),
        result(
            "fsdp_peak_rss_per_rank",
            f["fsdp_peak_rss_per_rank"],
            "bytes",
            f["ddp_peak_rss_per_rank"],
            **context,
        ),
        result(
            "fsdp_loss_gap",
            f["loss_gap_fsdp"],
            "nats",
            f["loss_gap_ddp"],
            tolerance=1e-4,
            grad_norm_gap=_norm_gap(runs),
            within=bool(f["loss_gap_fsdp"] <= 1e-4),
            **context,
        ),
        result(
            "fsdp_step_seconds",
            f["fsdp_step_seconds"],
            "s",
            f["ddp_step_seconds"],
            single_step_seconds=f["single_step_seconds"],
            **context,
        ),
    ]


def _norm_gap(runs: dict[str, dict]) -> float:
    single, fsdp = runs["single"]["grad_norms"][0], runs["fsdp"]["grad_norms"][0]
    return abs(fsdp - single) / single


if __name__ == "__main__":
    main("curriculum_fsdp", run)
