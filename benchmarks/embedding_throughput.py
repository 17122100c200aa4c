"""Embedding throughput: texts/s through ``Embedder.embed`` in batches vs one text per call.

The texts are product-like sentences built deterministically from word lists (so every run
embeds the same, all distinct, 9-24 word sentences). The on-disk cache is off: this times
the MiniLM forward passes, not SQLite. The backend is whatever the settings select
(``ASCENT_EMBEDDING_BACKEND``: onnx by default, or torch), reported as ``backend``.

Value: texts/s embedding N texts (2,000; 500 with ``--quick``) through ``embed(list)``, which
batches by ``settings.embedding_batch_size``. Baseline: texts/s calling ``embed([text])`` once
per text, on M other texts from the same generator (200; 50 with ``--quick``). Ratio: the
speed-up batching buys. The two run interleaved in five rounds (N/5 batched, then M/5 one by
one), so drifting load on a shared machine affects both alike.
"""

from __future__ import annotations

import logging
import random

from benchmarks._common import main, result, settings, timer

logger = logging.getLogger("benchmarks.embedding_throughput")

ROUNDS = 5

ADJECTIVES = (
    "lightweight", "waterproof", "ergonomic", "compact", "heavy-duty", "wireless", "foldable",
    "rechargeable", "insulated", "breathable", "adjustable", "stackable", "noise-cancelling",
    "eco-friendly", "handmade", "vintage", "minimalist", "portable", "non-stick", "shockproof",
)  # fmt: skip
MATERIALS = (
    "stainless steel", "bamboo", "recycled plastic", "merino wool", "organic cotton",
    "aluminium", "walnut wood", "silicone", "ceramic", "full-grain leather", "carbon fibre",
    "cast iron", "borosilicate glass", "nylon", "linen",
)  # fmt: skip
PRODUCTS = (
    "water bottle", "backpack", "desk lamp", "running shoe", "chef's knife", "yoga mat",
    "bluetooth speaker", "office chair", "rain jacket", "coffee grinder", "phone case",
    "camping tent", "frying pan", "mechanical keyboard", "travel mug", "sleeping bag",
    "standing desk", "bike helmet", "wall clock", "cutting board", "hiking sock", "tea kettle",
    "gaming mouse", "duvet cover", "plant pot",
)  # fmt: skip
FEATURES = (
    "a lifetime warranty", "USB-C charging", "a magnetic closure", "dishwasher-safe parts",
    "a 12-hour battery", "reflective trim", "a padded laptop sleeve", "three colour options",
    "a leak-proof lid", "memory-foam padding", "an anti-slip base", "a detachable strap",
    "quick-dry fabric", "a built-in timer", "tool-free assembly", "a two-year guarantee",
)  # fmt: skip
AUDIENCES = (
    "commuters", "home cooks", "students", "trail runners", "remote workers", "new parents",
    "campers", "gamers", "gardeners", "frequent flyers", "small kitchens", "cyclists",
)  # fmt: skip
TEMPLATES = (
    "{adj} {mat} {prod} with {feat}, ideal for {aud}.",
    "This {adj} {prod} is made from {mat} and comes with {feat}; priced at ${price}.",
    "Looking for a {prod} for {aud}? Our {adj} {mat} model ships with {feat}.",
    "Customer review: the {mat} {prod} is {adj} and the {feat} works great. {stars} stars.",
    "Bundle deal: {adj} {prod} plus {feat}, {mat} finish, only ${price} for {aud} (SKU {sku}).",
    "Q: Is the {adj} {prod} good for {aud}? A: Yes, the {mat} build and {feat} make it last.",
    "Back in stock: {mat} {prod}, {adj}, with {feat}. Free shipping over ${price}.",
)


def product_sentences(count: int, seed: int = 1234) -> list[str]:
    """``count`` distinct product-like sentences, the same ones for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        text = rng.choice(TEMPLATES).format(
            adj=rng.choice(ADJECTIVES),
            mat=rng.choice(MATERIALS),
            prod=rng.choice(PRODUCTS),
            feat=rng.choice(FEATURES),
            aud=rng.choice(AUDIENCES),
            price=f"{rng.randint(5, 400)}.{rng.choice(('00', '49', '95', '99'))}",
            stars=rng.randint(1, 5),
            sku=f"{rng.randint(10000, 99999)}",
        )
        if text not in seen:  # Embedder dedupes identical texts; keep them distinct
            seen.add(text)
            out.append(text)
    return out


def run(quick: bool) -> list[dict]:
    from shared.models.embeddings import Embedder

    n_batched, n_single = (500, 50) if quick else (2000, 200)
    conf = settings()
    pool = product_sentences(n_batched + n_single)  # all distinct
    texts, singles = pool[:n_batched], pool[n_batched:]
    embedder = Embedder(conf, cache=False)
    # Settings gained embedding_backend ("onnx" default, or "torch"); older trees lack it.
    backend = getattr(conf, "embedding_backend", "torch")

    logger.info("loading %s and warming up", embedder.model_name)
    with timer() as load_s:
        embedder.embed(product_sentences(2 * embedder.batch_size, seed=99))
        embedder.embed(["warm-up, one text"])

    # Interleave the two, a slice of each per round, so that load from elsewhere on a shared
    # machine lands on both alike instead of on whichever happened to run at the time.
    batched_chunk, single_chunk = n_batched // ROUNDS, n_single // ROUNDS
    batched_s = single_s = 0.0
    for r in range(ROUNDS):
        logger.info(
            "round %d/%d: %d texts in one embed() call (batches of %d), then %d one per call",
            r + 1, ROUNDS, batched_chunk, embedder.batch_size, single_chunk,
        )  # fmt: skip
        chunk = texts[r * batched_chunk : (r + 1) * batched_chunk]
        with timer() as elapsed:
            vectors = embedder.embed(chunk)
        batched_s += elapsed()
        assert vectors.shape == (len(chunk), embedder.dimensions), vectors.shape
        with timer() as elapsed:
            for text in singles[r * single_chunk : (r + 1) * single_chunk]:
                embedder.embed([text])
        single_s += elapsed()

    batched_rate = n_batched / batched_s
    single_rate = n_single / single_s
    mean_words = sum(len(t.split()) for t in texts) / len(texts)
    return [
        result(
            "embedding_batched_throughput",
            batched_rate,
            "texts/s",
            single_rate,
            benchmark="embedding_throughput",
            model=embedder.model_name,
            texts=n_batched,
            batch_size=embedder.batch_size,
            baseline_texts=n_single,
            baseline_desc="embed([text]) once per text",
            batched_seconds=batched_s,
            baseline_seconds=single_s,
            rounds=ROUNDS,
            backend=backend,
            **_threads(backend),
            mean_words_per_text=mean_words,
            model_load_seconds=load_s(),
            quick=quick,
        )
    ]


def _threads(backend: str) -> dict[str, int]:
    if backend != "torch":
        return {}
    import torch

    return {"torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    main("embedding_throughput", run)
