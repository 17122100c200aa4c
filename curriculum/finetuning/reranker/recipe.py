"""What a reranker run does, as plain data: the lesson, the benchmark and the CLI share it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from shared.retrieval.train_reranker import GroupTrainConfig

PUBLISHED_NAME = "reranker-jeopardy"  # settings.reranker_model's default
QUICK_NAME = "reranker-jeopardy-quick"  # a smoke test must not replace the real one
BASE_MODEL = "all-minilm-l6-v2"


@dataclass(frozen=True)
class Recipe:
    name: str = PUBLISHED_NAME
    train_queries: int | None = None  # None: every training query
    corpus_documents: int | None = None  # None: the whole training corpus
    depth: int = 30  # hybrid hits mined per query (= RetrievalConfig.rerank_depth)
    train: GroupTrainConfig = field(default_factory=GroupTrainConfig)
    eval_queries: int | None = 100  # Jeopardy evaluation queries (None: all 300)
    eval_documents: int | None = None  # a reduced Jeopardy corpus, for quick runs
    eval_shop: bool = True
    baselines: bool = True  # also evaluate the untrained start (and any extra rerankers)
    command: str = "ascent learn reranker"

    def params(self) -> dict[str, object]:
        flat = {k: v for k, v in asdict(self).items() if k != "train"}
        flat.update({f"train.{k}": v for k, v in asdict(self.train).items()})
        return flat


# Sized for 2 shared CPU cores: the 4 hardest negatives per query (each group costs 1 + n
# passes) and a 12-minute budget that the learning-rate schedule is keyed to. 8e-5 for one
# epoch leaves the training loss near chance (1.55 against ln 5 = 1.61) yet ranks held-out
# clues better than 3e-4 (head 3e-3) for two epochs, whose loss fell to ~1.0: reranker-only
# nDCG@10 0.205 against 0.163 on Jeopardy, 0.215 against 0.172 on the shop (2026-12-05).
FULL = Recipe(
    train=GroupTrainConfig(
        epochs=1,
        groups_per_batch=8,
        negatives=4,
        learning_rate=8e-5,
        max_length=96,
        max_seconds=720.0,
        threads=2,
    ),
)
QUICK = Recipe(
    name=QUICK_NAME,
    train_queries=12,
    corpus_documents=80,
    depth=10,
    train=GroupTrainConfig(
        epochs=1,
        groups_per_batch=4,
        negatives=3,
        learning_rate=1e-4,
        warmup=0.2,
        max_length=64,
        threads=2,
    ),
    eval_queries=5,
    eval_documents=80,
    eval_shop=False,
    command="ascent learn reranker --quick",
)
