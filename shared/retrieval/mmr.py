"""Maximal marginal relevance: trade relevance for diversity among near-duplicate hits."""

from __future__ import annotations

import numpy as np

from shared.retrieval.types import Hit


def mmr(query_vector: np.ndarray, hits: list[Hit], k: int, lambda_: float = 0.7) -> list[Hit]:
    """Pick ``k`` hits greedily by ``lambda * sim(query) - (1 - lambda) * max sim(picked)``.

    ``lambda_ = 1`` is plain relevance order; lower values push near-duplicates down.
    """
    if not hits or k <= 0:
        return []
    if any(h.vector is None for h in hits):
        raise ValueError("MMR needs hit vectors: search with with_vectors=True")
    vectors = np.stack([np.asarray(h.vector, dtype=np.float32) for h in hits])
    relevance = vectors @ np.asarray(query_vector, dtype=np.float32)
    chosen: list[int] = []
    max_sim_to_chosen = np.full(len(hits), -np.inf, dtype=np.float32)
    candidates = set(range(len(hits)))
    while candidates and len(chosen) < k:
        redundancy = np.where(np.isinf(max_sim_to_chosen), 0.0, max_sim_to_chosen)
        scores = lambda_ * relevance - (1 - lambda_) * redundancy
        best = max(candidates, key=lambda i: scores[i])
        chosen.append(best)
        candidates.remove(best)
        max_sim_to_chosen = np.maximum(max_sim_to_chosen, vectors @ vectors[best])
    return [hits[i] for i in chosen]
