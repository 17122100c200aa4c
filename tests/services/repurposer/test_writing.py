import re

import pytest

from services.repurposer import prompts
from services.repurposer.highlights import find_highlights
from services.repurposer.model import ASSET_KINDS, Asset, Chapter
from services.repurposer.quotes import TranscriptIndex, find_verbatim, ground_quotations
from services.repurposer.samples import TOPICS
from services.repurposer.sentences import sentences_from_text
from services.repurposer.writing import (
    SPECS,
    TWEET_LIMIT,
    Material,
    fit,
    regenerate,
    write_asset,
)
from shared.config import Settings
from shared.models.llm import LLMGateway

QUOTED = re.compile(r"“([^”]+)”")


@pytest.fixture(scope="module")
def script():
    lines = [line for topic in TOPICS.values() for line in topic]
    return sentences_from_text(lines, [(4.0 * i, 4.0 * i + 3.6) for i in range(len(lines))])


def topic_chapters(sentences):
    """The sample script's true chapters: 8 sentences per topic, titled by topic."""
    return [
        Chapter(index=i, start=sentences[8 * i].start, end=sentences[8 * i + 7].end, title=name,
                sentence_start=8 * i, sentence_end=8 * i + 7)
        for i, name in enumerate(TOPICS)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def chapters(script):
    return topic_chapters(script)


@pytest.fixture
async def highlights(script, chapters):
    return await find_highlights(script, loudness=None, count=3, chapters=chapters)


def assert_grounded(asset: Asset, sentences) -> None:
    """Every quote the asset claims, and every quotation in its body, was said verbatim."""
    for quote in asset.quotes:
        found = find_verbatim(quote.text, sentences)
        assert found is not None and found.text == quote.text, quote
        assert found.start == quote.start and quote.text in asset.body
    for inner in QUOTED.findall(asset.body):
        if len(inner.split()) >= 4:
            assert find_verbatim(inner, sentences) is not None, inner


# -- quotes ----------------------------------------------------------------------------------


def test_exact_quote_is_found_with_its_time(script):
    quote = find_verbatim("The answer is mostly water temperature", script)
    assert quote is not None
    assert quote.text == "The answer is mostly water temperature"
    assert quote.start == script[2].start  # the sentence's first word


def test_matching_ignores_case_punctuation_and_spacing_but_keeps_the_transcripts_text(script):
    quote = find_verbatim('  the SWEET spot -- for most   "light" roasts', script)
    assert quote is not None and quote.text == "the sweet spot for most light roasts."
    # The time is the matched word's, not the sentence's: words are 0.36 s apart here.
    words = script[7].words
    assert quote.start == pytest.approx(words[4].start) and quote.start > script[7].start
    across = find_verbatim("in under a minute. a coarse grind needs more time", script)
    assert across is not None
    assert across.text == "in under a minute. A coarse grind needs more time"
    assert across.start < script[4].start


def test_paraphrases_inventions_and_elisions_are_rejected(script):
    index = TranscriptIndex(script)
    paraphrase = "Ninety-two degrees is the best temperature for light roasts"
    assert find_verbatim(paraphrase, script) is None
    assert find_verbatim("Coffee is the most popular drink in the world", script) is None
    assert find_verbatim("The answer is ... the grind", script) is None
    assert find_verbatim("mostly water", script) is None  # too short to prove anything
    # A paraphrase is replaced by the sentence it paraphrases; an invention by nothing.
    closest = index.verify(paraphrase)
    assert closest is not None and closest.text == script[7].text
    assert index.verify("Coffee is the most popular drink in the world") is None


def test_quotations_inside_text_are_grounded(script):
    text = (
        'She said "why does THE same coffee taste so different" and then “The best coffee '
        "is brewed at ninety two degrees for light roasts” before “Cats are faster than "
        'rockets in the morning”, a "fun" talk.'
    )
    grounded, quotes = ground_quotations(text, TranscriptIndex(script))
    assert "“Why does the same coffee taste so different”" in grounded
    assert f"“{script[7].text}”" in grounded  # the paraphrase became the real sentence
    assert "Cats are faster than rockets in the morning," in grounded  # no longer quoted
    assert "“Cats" not in grounded and '"fun"' in grounded
    assert [q.text for q in quotes] == [
        "Why does the same coffee taste so different",
        script[7].text,
    ]


def test_fit_cuts_at_words_and_drops_cut_quotations():
    assert fit("short", 10) == "short"
    cut = fit("He said “the first landing made the room scream” and more", 30)
    assert len(cut) <= 30 and cut.endswith("…") and "“" not in cut


def test_thread_is_numbered_once_and_fits(script):
    material = Material.of(script)
    long = "word " * 80
    title, body, _ = SPECS["thread"].render({"tweets": ["1/2 First tweet here", long]}, material)
    assert body.split("\n\n")[0] == "1/2 First tweet here"
    assert body.split("\n\n")[1].startswith("2/2 word") and len(body.split("\n\n")[1]) <= 280
    assert title == "First tweet here"


# -- prompts ---------------------------------------------------------------------------------


def test_context_stays_within_budget_for_a_long_talk(script, chapters):
    # 40 times the script: about 17k tokens, far over the budget.
    long_talk = sentences_from_text(
        [s.text for s in script] * 40, [(4.0 * i, 4.0 * i + 3.6) for i in range(32 * 40)]
    )
    long_chapters = [
        Chapter(index=i, start=long_talk[320 * i].start, end=long_talk[320 * i + 319].end,
                title=name, summary="A summary.", sentence_start=320 * i,
                sentence_end=320 * i + 319)
        for i, name in enumerate(TOPICS)
    ]  # fmt: skip
    context = prompts.build_context(long_talk, long_chapters, budget=2000)
    assert prompts.approx_tokens(context) <= 2000
    assert "Chapters:\n- [00:00] Coffee: A summary." in context
    assert context.count("[...]") == 4  # each chapter's opening, cut, and saying so
    assert "Let us switch to something completely different" in context  # chapter 2 opens
    whole = prompts.build_context(script, chapters)
    assert " ".join(s.text for s in script) in whole  # a short talk fits whole
    chat = prompts.messages("thread", whole, instruction="more casual", previous="1/3 Old")
    assert "more casual" in chat[-1]["content"] and "1/3 Old" in chat[-1]["content"]


# -- writing without a model -----------------------------------------------------------------


async def test_every_kind_has_a_grounded_fallback_without_a_model(script, chapters, highlights):
    for kind in ASSET_KINDS:
        asset = await write_asset(
            kind, None, transcript=script, chapters=chapters, highlights=highlights
        )
        assert asset.kind == kind and asset.version == 1 and asset.title and asset.body.strip()
        assert asset.data["fallback"] is True and asset.data["fallback_reason"]
        assert_grounded(asset, script)
    blog = await write_asset("blog", None, transcript=script, chapters=chapters)
    assert len(re.findall(r"^> “.+”$", blog.body, re.M)) >= 2
    assert len(re.findall(r"^> — at \d\d:\d\d$", blog.body, re.M)) >= 2 and len(blog.quotes) >= 2
    assert [h for h in re.findall(r"^## (.+)$", blog.body, re.M)] == list(TOPICS)[:3]
    notes = await write_asset("show_notes", None, transcript=script, chapters=chapters)
    assert "00:00 Coffee\n00:32 Rockets\n01:04 Gardening\n01:36 Sleep" in notes.body
    thread = await write_asset("thread", None, transcript=script, chapters=chapters)
    tweets = thread.body.strip().split("\n\n")
    assert all(len(t) <= TWEET_LIMIT for t in tweets)
    assert [t.split(" ", 1)[0] for t in tweets] == [f"{n}/{len(tweets)}" for n in range(1, 6)]


async def test_unreachable_model_falls_back_and_regenerate_bumps_the_version(
    script, chapters, data_home
):
    dead = LLMGateway(
        Settings(data_home=data_home, llm_base_url="http://127.0.0.1:9/v1", llm_max_retries=0)
    )
    first = await write_asset("newsletter", dead, transcript=script, chapters=chapters)
    assert first.data["fallback"] is True and "failed" in first.data["fallback_reason"]
    again = await regenerate("newsletter", dead, transcript=script, chapters=chapters,
                             previous=first, instruction="shorter")  # fmt: skip
    assert again.version == 2 and again.instruction == "shorter"
    await dead.aclose()


# -- with the real model ---------------------------------------------------------------------


@pytest.mark.llm
async def test_blog_and_thread_from_the_real_model(talk_sentences, data_home, llm_base_url):
    # A few tokens a second on a shared CPU: one long attempt rather than three timed-out ones.
    gateway = LLMGateway(Settings(data_home=data_home, llm_base_url=llm_base_url,
                                  llm_timeout=400, llm_max_retries=0))  # fmt: skip
    chapters = topic_chapters(talk_sentences)
    highlights = await find_highlights(talk_sentences, loudness=None, count=3, chapters=chapters)
    try:
        blog = await write_asset("blog", gateway, transcript=talk_sentences, chapters=chapters,
                                 highlights=highlights)  # fmt: skip
        thread = await write_asset("thread", gateway, transcript=talk_sentences,
                                   chapters=chapters, highlights=highlights)  # fmt: skip
    finally:
        await gateway.aclose()
    assert "fallback" not in blog.data, blog.data.get("fallback_reason")
    assert blog.body.startswith(f"# {blog.title}\n") and blog.title
    assert len(re.findall(r"^## .+$", blog.body, re.M)) >= 2
    assert len(re.findall(r"^> “.+”$", blog.body, re.M)) >= 2 and len(blog.quotes) >= 2
    assert_grounded(blog, talk_sentences)

    assert "fallback" not in thread.data, thread.data.get("fallback_reason")
    tweets = thread.data["tweets"]
    assert 3 <= len(tweets) <= 6 and thread.body.strip().split("\n\n") == tweets
    for n, tweet in enumerate(tweets, 1):
        assert len(tweet) <= TWEET_LIMIT and tweet.startswith(f"{n}/{len(tweets)} ")
    assert_grounded(thread, talk_sentences)
