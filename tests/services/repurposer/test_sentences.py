from services.repurposer.model import Word
from services.repurposer.sentences import (
    build_transcript,
    join_words,
    sentences_from_text,
    to_sentences,
)


def timed(text: str, *, start: float = 0.0, step: float = 0.3, pauses: dict[int, float] = {}):  # noqa: B006
    """Whisper-style words (leading spaces) 0.3 s apart; ``pauses`` adds silence before word i."""
    words, clock = [], start
    for i, token in enumerate(text.split()):
        clock += pauses.get(i, 0.0)
        words.append(Word(start=clock, end=clock + step * 0.8, text=(" " if i else "") + token))
        clock += step
    return words


def test_sentences_end_at_terminal_punctuation_and_keep_word_timings():
    words = timed("Hello there. Why is coffee bitter? Because it burns! It does… Really.")
    sentences = to_sentences(words)
    assert [s.text for s in sentences] == [
        "Hello there.", "Why is coffee bitter?", "Because it burns!", "It does…", "Really.",
    ]  # fmt: skip
    assert [s.index for s in sentences] == [0, 1, 2, 3, 4]
    second = sentences[1]
    assert second.start == words[2].start and second.end == words[5].end
    assert [w.text.strip() for w in second.words] == ["Why", "is", "coffee", "bitter?"]
    assert sum(len(s.words) for s in sentences) == len(words)


def test_abbreviations_do_not_end_a_sentence():
    sentences = to_sentences(timed("Dr. Smith met Mr. Jones at noon. Then they left."))
    assert [s.text for s in sentences] == ["Dr. Smith met Mr. Jones at noon.", "Then they left."]


def test_text_is_joined_cleanly_whatever_the_spacing():
    assert join_words([Word(start=0, end=1, text=t) for t in [" Hello", ",", " world", "!"]]) == (
        "Hello, world!"
    )
    bare = [Word(start=0, end=1, text=t) for t in ["It", "'s", "fine", ",", "isn't", "it", "?"]]
    assert join_words(bare) == "It's fine, isn't it?"
    assert join_words([Word(start=0, end=1, text=t) for t in ["  a  ", " ", "b"]]) == "a b"


def test_run_on_is_split_at_the_long_pause():
    # 60 words without punctuation, a 1.5 s pause before word 25 and a short one before 40.
    text = " ".join(f"w{i}" for i in range(60))
    sentences = to_sentences(timed(text, pauses={25: 1.5, 40: 0.5}), max_words=40)
    assert [len(s.words) for s in sentences] == [25, 35]
    assert sentences[1].words[0].text.strip() == "w25"
    assert sentences[1].start - sentences[0].end > 1.5


def test_run_on_without_pauses_is_split_near_commas_then_evenly():
    tokens = [f"w{i}" for i in range(90)]
    tokens[29] += ","  # the comma closes word 29, so the split comes before w30
    sentences = to_sentences(timed(" ".join(tokens)), max_words=40)
    assert all(len(s.words) <= 40 for s in sentences)
    assert sentences[0].text.endswith("w29,")
    assert sum(len(s.words) for s in sentences) == 90
    # No commas at all: even halves, each within the limit.
    even = to_sentences(timed(" ".join(f"x{i}" for i in range(100))), max_words=40)
    assert [len(s.words) for s in even] == [25, 25, 25, 25]


def test_short_pauses_in_normal_sentences_are_not_split():
    sentences = to_sentences(timed("One two three four five six. Seven eight.", pauses={3: 2.0}))
    assert len(sentences) == 2


def test_transcript_doc_is_built_from_words():
    doc = build_transcript(
        timed("First one. Second one."), language="en", duration=2.0, backend="test", model="m"
    )
    assert doc.text == "First one. Second one."
    assert len(doc.words) == 4 and doc.sentences[1].index == 1


def test_sentences_from_text_spread_words_over_the_span():
    sentences = sentences_from_text(["Alpha beta gamma.", "Delta."], [(1.0, 4.0), (5.0, 6.0)])
    first = sentences[0]
    assert [(w.start, w.end) for w in first.words] == [(1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    assert join_words(first.words) == first.text and sentences[1].words[0].start == 5.0
