"""The simplified Mamba against the GPT of equal size (0.84M vs 0.82M parameters).

Runs ``ascent learn mamba``'s lesson with the full budget: the chunked scan against the
sequential loop (largest relative gap, float32 and float64, outputs and gradients), each model
trained for 180 s of wall-clock time on 2 threads with the same recipe (validation loss; the
GPT's is the baseline), and forward tokens/s at sequence lengths 128 to 4096 with 8,192 tokens
per call, plus the growth exponent of time per sequence against length (1 = linear time).
The report and figures go to ``<data home>/learn-output/mamba``.

``--quick``: the lesson's quick mode (tiny models, 10 s each), a smoke test.
"""

from __future__ import annotations

import json
import logging

from benchmarks._common import main, result
from curriculum.llm_internals.mamba import lesson
from shared.config import get_settings

logger = logging.getLogger("benchmarks.curriculum_mamba")
TRAIN_SECONDS = 180.0
LENGTHS = [128, 256, 512, 1024, 2048, 4096]


def run(quick: bool) -> list[dict]:
    out = get_settings().data_home / "learn-output" / "mamba"
    lesson.run(out, quick=quick, train_seconds=TRAIN_SECONDS, lengths=None if quick else LENGTHS,
               threads=2)  # fmt: skip
    figures = json.loads((out / "results.json").read_text())
    logger.info("report: %s", out / "report.md")
    gpt, mamba = figures["gpt_train"], figures["mamba_train"]
    lines = [
        result("mamba_char_shakespeare_val_loss", mamba["val"], "nats/char", gpt["val"],
               parameters=mamba["parameters"], gpt_parameters=gpt["parameters"],
               steps=mamba["steps"], gpt_steps=gpt["steps"], seconds=mamba["seconds"]),
        result("mamba_scan_max_relative_gap_float32",
               figures["scan_max_relative_gap"]["torch.float32"], "relative", 1e-5,
               float64=figures["scan_max_relative_gap"]["torch.float64"],
               within_1e_5=figures["scan_max_relative_gap"]["torch.float32"] <= 1e-5),
        result("mamba_time_growth_exponent", figures["growth_exponent"]["mamba"], "exponent",
               figures["growth_exponent"]["gpt"], note="time per sequence ~ L^exponent"),
    ]  # fmt: skip
    for row in figures["throughput"]:
        lines.append(result(f"mamba_forward_tokens_per_s_L{row['length']}",
                            row["mamba_tokens_per_s"], "tokens/s", row["gpt_tokens_per_s"],
                            batch=row["batch"]))  # fmt: skip
    return lines


if __name__ == "__main__":
    main("curriculum_mamba", run)
