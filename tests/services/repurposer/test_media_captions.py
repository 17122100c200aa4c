"""The ASS caption script: timing relative to the clip, one highlighted word per event, line
breaks at sentence ends, escaping, and sizes scaled to the frame."""

from __future__ import annotations

import re

from services.repurposer.media.captions import build_ass, caption_lines, escape
from services.repurposer.model import BrandStyle, Word

HIGHLIGHT = "{\\1c&H00D4FF&}"  # BrandStyle's default #FFD400 in ASS's BGR order


def words(text: str, start: float, spacing: float = 0.5, length: float = 0.4) -> list[Word]:
    return [
        Word(start=start + i * spacing, end=start + i * spacing + length, text=t)
        for i, t in enumerate(text.split())
    ]


def dialogues(script: str) -> list[tuple[str, str, str]]:
    """(start, end, text) of every Dialogue line."""
    found = re.findall(r"^Dialogue: 0,([\d:.]+),([\d:.]+),Caption,,0,0,0,,(.*)$", script, re.M)
    return [(start, end, text) for start, end, text in found]


def test_times_are_shifted_to_the_clip_start() -> None:
    script = build_ass(
        words("one two three", 100.0),
        clip_start=99.75, clip_end=110.0, width=1280, height=720, style=BrandStyle(),
    )  # fmt: skip
    events = dialogues(script)
    assert [(s, e) for s, e, _ in events] == [
        ("0:00:00.25", "0:00:00.75"),  # "one" from 100.0 until "two" begins
        ("0:00:00.75", "0:00:01.25"),
        ("0:00:01.25", "0:00:02.25"),  # the last word ends at 101.4 and lingers 0.6 s
    ]


def test_each_word_is_highlighted_in_turn() -> None:
    style = BrandStyle(words_per_line=4)
    events = dialogues(
        build_ass(words("alpha beta gamma delta", 5.0), clip_start=5.0, clip_end=9.0,
                  width=640, height=360, style=style)
    )  # fmt: skip
    assert len(events) == 4
    for position, (_, _, text) in enumerate(events):
        assert text.count(HIGHLIGHT) == 1
        highlighted = text.split(HIGHLIGHT)[1].split("{")[0]
        assert highlighted == ["alpha", "beta", "gamma", "delta"][position]
        # The rest of the line is there too, back in the text colour.
        assert re.sub(r"\{[^}]*\}", "", text) == "alpha beta gamma delta"
        assert "{\\1c&HFFFFFF&}" in text


def test_lines_break_at_sentence_ends_and_at_the_word_limit() -> None:
    spoken = words("We agreed. Did you? Yes one two three four five", 0.0)
    lines = caption_lines(spoken, words_per_line=4)
    assert [" ".join(w.text for w in line) for line in lines] == [
        "We agreed.",
        "Did you?",
        "Yes one two three",
        "four five",
    ]


def test_a_long_pause_starts_a_new_line() -> None:
    spoken = words("before", 0.0) + words("after pause", 3.0)
    lines = caption_lines(spoken, words_per_line=4)
    assert [len(line) for line in lines] == [1, 2]


def test_words_outside_the_clip_are_left_out_and_edges_clamped() -> None:
    spoken = words("early middle late", 9.6, spacing=0.5, length=0.45)  # 9.6, 10.1, 10.6
    events = dialogues(
        build_ass(spoken, clip_start=10.0, clip_end=10.8, width=640, height=360,
                  style=BrandStyle())
    )  # fmt: skip
    texts = [re.sub(r"\{[^}]*\}", "", text) for _, _, text in events]
    assert texts[0] == "early middle late"  # "early" still ends inside the clip
    assert events[0][0] == "0:00:00.00"
    assert events[-1][1] == "0:00:00.80"  # nothing runs past the clip's end
    outside = build_ass(
        words("gone", 2.0), clip_start=10.0, clip_end=11.0, width=640, height=360,
        style=BrandStyle(),
    )  # fmt: skip
    assert dialogues(outside) == []


def test_braces_and_backslashes_are_escaped() -> None:
    assert escape("{\\b1}bold\\N") == "\\{\u2216b1\\}bold\u2216N"
    events = dialogues(
        build_ass([Word(start=0.0, end=1.0, text="{\\an8}x")], clip_start=0.0, clip_end=2.0,
                  width=640, height=360, style=BrandStyle())
    )  # fmt: skip
    text = events[0][2]
    tags = re.findall(r"(?<!\\)\{[^}]*\}", text)
    assert tags == [HIGHLIGHT, "{\\1c&HFFFFFF&}"]  # only our own override blocks remain
    assert "\\{\u2216an8\\}x" in text


def test_style_is_scaled_coloured_and_placed() -> None:
    style = BrandStyle(
        font_size=64, text_colour="#112233", highlight_colour="#AABBCC",
        outline_colour="#010203", position="middle", uppercase=True,
    )  # fmt: skip
    script = build_ass(
        words("quiet words", 0.0), clip_start=0.0, clip_end=2.0, width=960, height=540,
        style=style,
    )  # fmt: skip
    fields = re.search(r"^Style: (.*)$", script, re.M).group(1).split(",")
    assert fields[1] == "DejaVu Sans"
    assert fields[2] == "32"  # 64 px at 1080 p is 32 px at 540 p
    assert fields[3] == "&H00332211"  # primary: the text colour as &HAABBGGRR
    assert fields[5] == "&H00030201"  # outline
    assert fields[18] == "5"  # middle centre
    assert "PlayResX: 960" in script and "PlayResY: 540" in script
    texts = [text for _, _, text in dialogues(script)]
    assert texts[0] == "{\\1c&HCCBBAA&}QUIET{\\1c&H332211&} WORDS"


def test_vertical_frames_use_the_short_side_for_the_font_size() -> None:
    script = build_ass(
        words("tall", 0.0), clip_start=0.0, clip_end=1.0, width=720, height=1280,
        style=BrandStyle(font_size=60),
    )  # fmt: skip
    fields = re.search(r"^Style: (.*)$", script, re.M).group(1).split(",")
    assert fields[2] == "40"  # 60 * 720 / 1080
    assert fields[18] == "2" and int(fields[21]) > 1280 * 0.1  # bottom, above app buttons
