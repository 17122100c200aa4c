"""Our byte-level BPE against HF ``tokenizers`` (a Rust library) on the Shakespeare plays.

Both are trained on the first 34 plays with GPT-4's regex and the same vocabulary size (1,024)
and measured on the last 4 (473,606 bytes): encode throughput (ours cold: empty chunk cache;
warm: cache filled by a first pass; HF: one ``encode`` call), compression in bytes per token,
and the share of merged tokens both learned. Target: our throughput at least 1/5 of HF's.

``--quick``: 6 training plays, vocabulary 384, 200 kB of test text.
"""

from __future__ import annotations

from dataclasses import asdict

from benchmarks._common import main, result
from curriculum.llm_internals import shakespeare
from curriculum.llm_internals.bpe.compare import compare
from curriculum.llm_internals.bpe.lesson import HELD_OUT

TARGET_RATIO = 0.2


def run(quick: bool) -> list[dict]:
    names = list(shakespeare.plays())
    train_names = names[:-HELD_OUT][:6] if quick else names[:-HELD_OUT]
    test_text = shakespeare.corpus(names[-HELD_OUT:])
    if quick:
        test_text = test_text[:200_000]
    comparison, _ = compare(shakespeare.corpus(train_names), test_text, 384 if quick else 1024)
    figures = asdict(comparison)
    cold = comparison.ours_cold_encode_mb_s / comparison.hf_encode_mb_s
    return [
        result("bpe_encode_mb_per_s", comparison.ours_encode_mb_s, "MB/s",
               comparison.hf_encode_mb_s, cold_ratio=cold, target_ratio=TARGET_RATIO,
               target_met=bool(cold >= TARGET_RATIO), **figures),
        result("bpe_bytes_per_token", comparison.ours_bytes_per_token, "bytes/token",
               comparison.hf_bytes_per_token, merge_overlap=comparison.merge_overlap),
    ]  # fmt: skip


if __name__ == "__main__":
    main("curriculum_bpe", run)
