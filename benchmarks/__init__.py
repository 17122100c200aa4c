"""Benchmarks: one script per figure, each printing JSON lines (see benchmarks/README.md).

Run them all with ``python -m benchmarks.run [names...] [--quick]``.
"""

BENCHMARKS = (
    "llm_latency",
    "embedding_throughput",
    "hnsw_recall",
    "hybrid_search",
    "ingestion",
    "shopbot_search",
    "shopbot_chat",
    "reviewer_webhook",
    "reviewer_review",
    "repurposer_pipeline",
    "curriculum_mnist",
    "curriculum_bpe",
    "curriculum_gpt",
    "curriculum_mamba",
    "curriculum_quantization",
    "curriculum_lora",
    "curriculum_reranker",
    "curriculum_serving",
    "curriculum_fsdp",
    "curriculum_lmeval",
)
