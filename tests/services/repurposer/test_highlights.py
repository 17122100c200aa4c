from itertools import pairwise

import pytest

from services.repurposer.highlights import find_highlights, score_candidates
from services.repurposer.model import Chapter, LoudnessProfile
from services.repurposer.sentences import sentences_from_text
from shared.config import Settings
from shared.models.llm import LLMGateway

FLAT = "The report covers the quarterly figures for the northern sales region."
LIVELY = [
    "Why did the booster land upright on a tiny ship?",
    "Everyone said it was impossible, and I was shocked!",
    "The whole control room started to scream with joy.",
    "It was the best day of my career.",
]


def steady(seconds: float, level: float = -20.0, step: float = 0.5) -> LoudnessProfile:
    return LoudnessProfile(step=step, values=[level] * int(seconds / step), integrated=level)


def five_second_sentences(texts):
    return sentences_from_text(texts, [(5.0 * i, 5.0 * i + 4.6) for i in range(len(texts))])


def check_shape(highlights, sentences, *, count, min_seconds, max_seconds):
    assert 0 < len(highlights) <= count
    starts = {s.start: s.index for s in sentences}
    ends = {s.end: s.index for s in sentences}
    for rank, h in enumerate(highlights):
        assert h.index == rank
        assert starts[h.start] == h.sentence_start and ends[h.end] == h.sentence_end
        assert min_seconds <= h.end - h.start <= max_seconds
        assert 0 <= h.score <= 100 and h.title and h.reasons
        assert h.text == " ".join(s.text for s in sentences[h.sentence_start : h.sentence_end + 1])
        assert {"duration", "words_per_second", "heuristic", "pace_score"} <= h.features.keys()
        parts = [v for k, v in h.features.items() if k.endswith("_score")]
        assert parts and all(0 <= v <= 1 for v in parts)
    assert [h.score for h in highlights] == sorted((h.score for h in highlights), reverse=True)
    spans = sorted((h.sentence_start, h.sentence_end) for h in highlights)
    for (_, end), (start, _) in pairwise(spans):
        assert start > end, spans


async def test_highlights_are_whole_sentences_within_bounds_without_overlap(talk_sentences):
    loud = steady(140)
    highlights = await find_highlights(talk_sentences, loudness=loud, count=5)
    check_shape(highlights, talk_sentences, count=5, min_seconds=15, max_seconds=60)
    assert len(highlights) >= 3  # greedy: long early picks may leave no room for a fifth
    assert all("energy_lu" in h.features for h in highlights)
    tight = await find_highlights(
        talk_sentences, loudness=None, count=3, min_seconds=20, max_seconds=30
    )
    check_shape(tight, talk_sentences, count=3, min_seconds=20, max_seconds=30)
    assert all("energy_lu" not in h.features for h in tight)


async def test_question_and_emotion_outrank_a_flat_stretch():
    sentences = five_second_sentences([FLAT] * 6 + LIVELY + [FLAT] * 6)
    highlights = await find_highlights(
        sentences, loudness=steady(90), count=2, min_seconds=15, max_seconds=20
    )
    best, other = highlights
    assert best.sentence_start == 6 and best.sentence_end == 9
    assert "Opens with a question" in best.reasons
    assert any(r.startswith("Emotional words: impossible, shocked") for r in best.reasons)
    assert best.score > other.score + 15
    assert best.features["intensity_hits"] >= 4 and other.features["intensity_hits"] == 0


async def test_louder_stretch_wins_when_the_words_are_alike():
    sentences = five_second_sentences([FLAT] * 12)
    values = [-24.0] * 120
    values[60:90] = [-17.0] * 30  # 30-45 s, 7 LU up
    profile = LoudnessProfile(step=0.5, values=values, integrated=-23.0)
    best = (
        await find_highlights(sentences, loudness=profile, count=1, min_seconds=10, max_seconds=15)
    )[0]
    assert best.start >= 30.0 and best.end <= 45.0
    assert best.features["energy_lu"] == pytest.approx(6.0)
    assert "Energy 6.0 LU above the talk's average" in best.reasons


def test_a_dangling_opening_is_penalised():
    BOUNDS = {"min_seconds": 10, "max_seconds": 15}  # three sentences
    texts = [
        "And that is why the engines relight on the way down to slow it.",
        "So the engines relight on the way down to slow the booster.",
    ] + [FLAT] * 4
    sentences = five_second_sentences(texts)
    by_start = {c.first: c for c in score_candidates(sentences, loudness=None, **BOUNDS)}
    plain = score_candidates(five_second_sentences([FLAT] * 6), loudness=None, **BOUNDS)[0]
    assert by_start[0].scores["self_contained"] < plain.scores["self_contained"]
    assert by_start[0].heuristic < plain.heuristic
    assert any("“and”" in r for r in by_start[0].reasons)
    assert any("“so”" in r for r in by_start[1].reasons)


async def test_clips_stay_inside_known_chapters(talk_sentences):
    chapters = [
        Chapter(index=i, start=0, end=0, title="", sentence_start=8 * i, sentence_end=8 * i + 7)
        for i in range(4)
    ]
    highlights = await find_highlights(talk_sentences, loudness=None, count=3, chapters=chapters)
    assert len(highlights) == 3
    for h in highlights:
        assert h.sentence_start // 8 == h.sentence_end // 8, (h.sentence_start, h.sentence_end)
    crossing = [
        c
        for c in score_candidates(talk_sentences, loudness=None, chapters=chapters)
        if c.first < 8 <= c.last
    ]
    assert crossing and all("Runs from one chapter into the next" in c.reasons for c in crossing)


async def test_too_short_a_talk_has_no_highlights():
    sentences = five_second_sentences(LIVELY[:2])
    assert await find_highlights(sentences, loudness=None) == []


@pytest.mark.llm
async def test_llm_rates_the_shortlist(talk_sentences, data_home, llm_base_url):
    # A few tokens a second on a shared CPU: one long attempt rather than three timed-out ones.
    gateway = LLMGateway(Settings(data_home=data_home, llm_base_url=llm_base_url,
                                  llm_timeout=400, llm_max_retries=0))  # fmt: skip
    try:
        highlights = await find_highlights(
            talk_sentences, loudness=None, gateway=gateway, count=2, max_seconds=25
        )
    finally:
        await gateway.aclose()
    check_shape(highlights, talk_sentences, count=2, min_seconds=15, max_seconds=25)
    assert gateway.usage.requests == 4  # the shortlist is twice the count
    for h in highlights:
        assert 0 <= h.features["llm_hook"] <= 10
        assert any(r.startswith("LLM: ") for r in h.reasons)
        assert 1 <= len(h.title.split()) <= 8
