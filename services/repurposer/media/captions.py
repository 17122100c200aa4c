"""Word-by-word animated captions as an ASS subtitle script (burned in by libass).

Words are grouped into short lines; a line is on screen while its words are spoken, and one
Dialogue event per word interval colours the word being said in the brand's highlight colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.repurposer.model import BrandStyle, Word

SENTENCE_ENDS = (".", "?", "!", "…")
CLOSING_QUOTES = "\"'”’»)"
PAUSE_STARTS_LINE = 1.0  # seconds of silence after which a new line starts anyway
LINE_LINGERS = 0.6  # seconds a finished line stays up when nothing follows at once
REFERENCE_HEIGHT = 1080  # BrandStyle.font_size is given for a 1080 p frame


def build_ass(
    words: Sequence[Word],
    *,
    clip_start: float,
    clip_end: float,
    width: int,
    height: int,
    style: BrandStyle,
) -> str:
    """An ASS script for the clip ``[clip_start, clip_end]`` of the recording, timed so that
    0 is the clip's first frame."""
    spoken = [w for w in words if w.text.strip() and w.end > clip_start and w.start < clip_end]
    lines = caption_lines(spoken, style.words_per_line)
    events = []
    for index, line in enumerate(lines):
        next_start = lines[index + 1][0].start if index + 1 < len(lines) else clip_end
        shown_until = max(line[-1].end, min(line[-1].end + LINE_LINGERS, next_start))
        for position, word in enumerate(line):
            until = line[position + 1].start if position + 1 < len(line) else shown_until
            start = _centiseconds(word.start, clip_start, clip_end)
            end = _centiseconds(until, clip_start, clip_end)
            if end > start:
                text = _line_text(line, position, style)
                events.append(f"Dialogue: 0,{_clock(start)},{_clock(end)},Caption,,0,0,0,,{text}")
    return _header(width, height, style) + "\n".join(events) + "\n"


def caption_lines(words: Sequence[Word], words_per_line: int) -> list[list[Word]]:
    """Group words into lines of at most ``words_per_line``, never carrying a line across the
    end of a sentence or a long pause."""
    lines: list[list[Word]] = []
    for word in words:
        current = lines[-1] if lines else None
        if (
            current is None
            or len(current) >= words_per_line
            or ends_sentence(current[-1].text)
            or word.start - current[-1].end > PAUSE_STARTS_LINE
        ):
            lines.append([word])
        else:
            current.append(word)
    return lines


def ends_sentence(text: str) -> bool:
    return text.strip().rstrip(CLOSING_QUOTES).endswith(SENTENCE_ENDS)


def escape(text: str) -> str:
    """Make a word literal for libass: braces would open override tags, and a backslash can
    start ``\\N``-style codes (libass has no escape for it, so a look-alike is shown)."""
    text = " ".join(text.split())
    return text.replace("\\", "\u2216").replace("{", "\\{").replace("}", "\\}")


def ass_colour(hex_rgb: str, alpha: int = 0) -> str:
    """``#RRGGBB`` as ASS's ``&HAABBGGRR`` (alpha 0 is opaque)."""
    return f"&H{alpha:02X}{_bgr(hex_rgb)}"


def override_colour(hex_rgb: str) -> str:
    """``#RRGGBB`` as an inline tag setting the text (primary) colour."""
    return f"{{\\1c&H{_bgr(hex_rgb)}&}}"


def _bgr(hex_rgb: str) -> str:
    return (hex_rgb[5:7] + hex_rgb[3:5] + hex_rgb[1:3]).upper()


def font_size(style: BrandStyle, width: int, height: int) -> int:
    # "1080 p" is the short side: vertical clips get the same size as landscape ones, so a
    # line of words still fits across a 9:16 frame.
    return max(8, round(style.font_size * min(width, height) / REFERENCE_HEIGHT))


def _line_text(line: list[Word], current: int, style: BrandStyle) -> str:
    parts = []
    for position, word in enumerate(line):
        text = escape(word.text.upper() if style.uppercase else word.text)
        if position == current:
            text = (
                f"{override_colour(style.highlight_colour)}{text}"
                f"{override_colour(style.text_colour)}"
            )
        parts.append(text)
    return " ".join(parts)


def _header(width: int, height: int, style: BrandStyle) -> str:
    size = font_size(style, width, height)
    # Vertical clips are watched in apps that cover the bottom of the frame with buttons.
    bottom_margin = round(height * (0.1 if width >= height else 0.2))
    alignment, margin_v = (2, bottom_margin) if style.position == "bottom" else (5, 0)
    margin_h = round(width * 0.06)
    outline = max(1, round(size * 0.08))
    return (
        "[Script Info]\n"
        "ScriptType: v4.00+\n"
        f"PlayResX: {width}\n"
        f"PlayResY: {height}\n"
        "WrapStyle: 0\n"
        "ScaledBorderAndShadow: yes\n"
        "YCbCr Matrix: None\n"
        "\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Caption,{style.font.replace(',', ' ')},{size},"
        f"{ass_colour(style.text_colour)},{ass_colour(style.highlight_colour)},"
        f"{ass_colour(style.outline_colour)},{ass_colour(style.outline_colour, 0x80)},"
        f"-1,0,0,0,100,100,0,0,1,{outline},0,{alignment},{margin_h},{margin_h},{margin_v},1\n"
        "\n"
        "[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )


def _centiseconds(t: float, clip_start: float, clip_end: float) -> int:
    # Each boundary is rounded once, so one word's end is exactly the next word's start.
    return round((min(max(t, clip_start), clip_end) - clip_start) * 100)


def _clock(centiseconds: int) -> str:
    seconds, cs = divmod(centiseconds, 100)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}.{cs:02d}"
