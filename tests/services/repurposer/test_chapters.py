from itertools import pairwise

import numpy as np
import pytest

from services.repurposer.chapters import (
    clean_title,
    depth_scores,
    find_boundaries,
    keywords,
    segment_chapters,
)
from services.repurposer.samples import TOPICS
from services.repurposer.sentences import sentences_from_text
from shared.config import Settings
from shared.models.embeddings import Embedder
from shared.models.llm import LLMGateway

PER_TOPIC = len(next(iter(TOPICS.values())))
TRUE_BOUNDARIES = [PER_TOPIC * i for i in range(1, len(TOPICS))]  # sentences opening a topic


@pytest.fixture(scope="module")
def embedder(data_home):
    return Embedder(Settings(data_home=data_home), cache=False)


def test_depth_is_measured_from_the_peaks_on_both_sides():
    depth = depth_scores(np.array([0.9, 0.5, 0.2, 0.6, 0.4, 0.7]))
    assert depth[2] == pytest.approx((0.9 - 0.2) + (0.6 - 0.2))
    assert depth[4] == pytest.approx((0.6 - 0.4) + (0.7 - 0.4))
    assert depth[0] == depth[1] == depth[3] == 0.0


def test_minimum_chapter_length_is_enforced():
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(4, 16))
    # Four sharply different blocks of 5 sentences, 3 s each: 15 s per block.
    vectors = np.repeat(topics, 5, axis=0) + rng.normal(scale=0.05, size=(20, 16))
    spans = [(3.0 * i, 3.0 * i + 2.5) for i in range(20)]
    assert find_boundaries(vectors, spans, window=3, min_chapter_seconds=10) == [5, 10, 15]
    wide = find_boundaries(vectors, spans, window=3, min_chapter_seconds=25)
    assert len(wide) == 1 and wide[0] in (5, 10, 15)  # only one cut keeps both sides >= 25 s
    assert find_boundaries(vectors, spans, window=3, min_chapter_seconds=10, max_chapters=2) in (
        [5], [10], [15],
    )  # fmt: skip


async def test_topic_changes_of_the_sample_talk_are_found(talk_sentences, embedder):
    chapters = await segment_chapters(talk_sentences, embedder, min_chapter_seconds=20)
    starts = [c.sentence_start for c in chapters[1:]]
    near = [b for b in TRUE_BOUNDARIES if any(abs(b - s) <= 2 for s in starts)]
    assert len(near) >= 2, (starts, TRUE_BOUNDARIES)
    assert len(chapters) <= 6
    # Chapters tile the talk: contiguous sentence ranges, times from their sentences.
    assert chapters[0].sentence_start == 0 and chapters[-1].sentence_end == len(talk_sentences) - 1
    for a, b in pairwise(chapters):
        assert b.sentence_start == a.sentence_end + 1
    for c in chapters:
        assert c.start == talk_sentences[c.sentence_start].start
        assert c.end == talk_sentences[c.sentence_end].end
        assert c.end - c.start >= 20
        assert c.title and len(c.title.split()) <= 8 and c.summary


async def test_a_long_talk_gets_a_bounded_number_of_chapters(talk_sentences, embedder):
    # The script 6 times over (about 14 minutes): valleys between every topic, but at most
    # one chapter per 30 s and never more than 20.
    texts = [s.text for s in talk_sentences] * 6
    long_talk = sentences_from_text(texts, [(4.3 * i, 4.3 * i + 4.0) for i in range(len(texts))])
    chapters = await segment_chapters(long_talk, embedder, min_chapter_seconds=20)
    assert 6 <= len(chapters) <= 20
    few = await segment_chapters(long_talk, embedder, max_chapters=3)
    assert len(few) == 3


async def test_keyword_titles_name_each_topic(talk_sentences, embedder):
    chapters = await segment_chapters(talk_sentences, embedder)
    titles = " ".join(c.title.lower() for c in chapters)
    for word in ("coffee", "booster", "tomatoes", "sleep"):
        assert word in titles, titles


async def test_unreachable_llm_falls_back_to_keyword_titles(talk_sentences, embedder, data_home):
    dead = LLMGateway(
        Settings(data_home=data_home, llm_base_url="http://127.0.0.1:9/v1", llm_max_retries=0)
    )
    chapters = await segment_chapters(talk_sentences, embedder, gateway=dead)
    plain = await segment_chapters(talk_sentences, embedder)
    assert [c.title for c in chapters] == [c.title for c in plain]
    await dead.aclose()


def test_keywords_prefer_words_rare_elsewhere():
    texts = ["the grind and the water and the grind", "the water of the ocean"]
    assert keywords(texts[0], reference=texts, count=1) == ["grind"]
    assert clean_title('"A very long title that goes on and on forever."') == (
        "A very long title that goes on and"
    )


@pytest.mark.llm
async def test_llm_titles_chapters(talk_sentences, embedder, data_home, llm_base_url):
    # A few tokens a second on a shared CPU: one long attempt rather than three timed-out ones.
    gateway = LLMGateway(Settings(data_home=data_home, llm_base_url=llm_base_url,
                                  llm_timeout=400, llm_max_retries=0))  # fmt: skip
    try:
        chapters = await segment_chapters(talk_sentences, embedder, gateway=gateway)
    finally:
        await gateway.aclose()
    assert gateway.usage.requests == len(chapters)
    plain = await segment_chapters(talk_sentences, embedder)
    for chapter, fallback in zip(chapters, plain, strict=True):
        assert 1 <= len(chapter.title.split()) <= 8
        assert chapter.summary and chapter.summary != fallback.summary  # written, not extracted
