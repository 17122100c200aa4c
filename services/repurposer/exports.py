"""Transcript exports: SRT and WebVTT captions, plain text, Markdown, Word, and the zip of it all.

Captions follow the usual broadcast limits: at most 2 lines of 42 characters and 7 seconds per
cue, timed from the words (a cue starts on its first word and ends on its last).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from services.repurposer.model import Chapter, Sentence, TranscriptDoc, Word
from services.repurposer.sentences import join_words

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
MIN_CUE_SECONDS = 0.2
PARAGRAPH_SENTENCES = 6
PARAGRAPH_PAUSE = 2.0  # seconds of silence that start a new paragraph
# Already compressed: deflating them again costs CPU and saves nothing.
# fmt: off
STORED_SUFFIXES = frozenset({
    ".mp4", ".m4a", ".mov", ".webm", ".mkv", ".mp3", ".aac", ".ogg", ".opus", ".jpg", ".jpeg",
    ".png", ".gif", ".webp", ".zip", ".docx",
})
# fmt: on

Transcript = TranscriptDoc | Sequence[Sentence]


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def clock(seconds: float, *, hours: bool = False) -> str:
    """``mm:ss``, or ``h:mm:ss`` past an hour (or always with ``hours``)."""
    total = max(0, int(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h or hours else f"{m:02d}:{s:02d}"


def _sentences(transcript: Transcript) -> list[Sentence]:
    return list(transcript.sentences if isinstance(transcript, TranscriptDoc) else transcript)


# -- captions ---------------------------------------------------------------------------------


def cues(
    sentences: Sequence[Sentence],
    *,
    max_chars: int = MAX_LINE_CHARS,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_CUE_SECONDS,
) -> list[Cue]:
    """Caption cues in time order; a cue never spans two sentences."""
    result: list[Cue] = []
    for sentence in sentences:
        current: list[Word] = []
        for word in timed_words(sentence):
            grown = [*current, word]
            fits = (
                wrap(join_words(grown), max_chars, max_lines) is not None
                and word.end - grown[0].start <= max_seconds
            )
            if current and not fits:
                result.append(_cue(current, max_chars, max_lines, result))
                current = [word]
            else:
                current = grown
        if current:
            result.append(_cue(current, max_chars, max_lines, result))
    return result


def _cue(words: list[Word], max_chars: int, max_lines: int, before: list[Cue]) -> Cue:
    text = join_words(words)
    # A single word longer than a line has to stand alone, over the limit.
    lines = wrap(text, max_chars, max_lines) or (text,)
    start = max(words[0].start, before[-1].end if before else 0.0)
    end = max(words[-1].end, start + MIN_CUE_SECONDS)
    return Cue(start=start, end=end, lines=tuple(lines))


def timed_words(sentence: Sentence) -> list[Word]:
    """The sentence's words, or its text spread evenly over its span when ASR gave none."""
    if sentence.words:
        return list(sentence.words)
    tokens = sentence.text.split()
    step = (sentence.end - sentence.start) / max(1, len(tokens))
    return [
        Word(start=sentence.start + i * step, end=sentence.start + (i + 1) * step, text=t)
        for i, t in enumerate(tokens)
    ]


def wrap(text: str, max_chars: int, max_lines: int) -> tuple[str, ...] | None:
    """``text`` on at most ``max_lines`` lines of ``max_chars``, lines as even as possible;
    None when it does not fit."""
    if len(text) <= max_chars:
        return (text,)
    if max_lines < 2:
        return None
    words = text.split(" ")
    best: tuple[str, ...] | None = None
    for cut in range(1, len(words)):
        head = " ".join(words[:cut])
        if len(head) > max_chars:
            break
        tail = wrap(" ".join(words[cut:]), max_chars, max_lines - 1)
        if tail is not None:
            option = (head, *tail)
            if best is None or max(map(len, option)) < max(map(len, best)):
                best = option
    return best


def _srt_time(seconds: float, separator: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def to_srt(
    sentences: Sequence[Sentence],
    *,
    max_chars: int = MAX_LINE_CHARS,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_CUE_SECONDS,
) -> str:
    found = cues(sentences, max_chars=max_chars, max_lines=max_lines, max_seconds=max_seconds)
    blocks = [
        f"{n}\n{_srt_time(c.start, ',')} --> {_srt_time(c.end, ',')}\n" + "\n".join(c.lines)
        for n, c in enumerate(found, 1)
    ]
    return "\n\n".join(blocks) + "\n"


def to_vtt(
    sentences: Sequence[Sentence],
    *,
    max_chars: int = MAX_LINE_CHARS,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_CUE_SECONDS,
) -> str:
    found = cues(sentences, max_chars=max_chars, max_lines=max_lines, max_seconds=max_seconds)
    blocks = [
        f"{_srt_time(c.start, '.')} --> {_srt_time(c.end, '.')}\n" + "\n".join(c.lines)
        for c in found
    ]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


# -- documents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    chapter: Chapter | None
    paragraphs: list[list[Sentence]]


def sections(sentences: Sequence[Sentence], chapters: Sequence[Chapter] = ()) -> list[Section]:
    """Sentences under their chapters (one untitled section without chapters), in paragraphs
    broken at long pauses or every few sentences."""
    if not chapters:
        return [Section(None, _paragraphs(list(sentences)))] if sentences else []
    found = []
    for chapter in chapters:
        inside = [s for s in sentences if chapter.sentence_start <= s.index <= chapter.sentence_end]
        found.append(Section(chapter, _paragraphs(inside)))
    return found


def _paragraphs(sentences: list[Sentence]) -> list[list[Sentence]]:
    paragraphs: list[list[Sentence]] = []
    for sentence in sentences:
        last = paragraphs[-1] if paragraphs else None
        if (
            last is None
            or len(last) >= PARAGRAPH_SENTENCES
            or sentence.start - last[-1].end >= PARAGRAPH_PAUSE
        ):
            paragraphs.append([sentence])
        else:
            last.append(sentence)
    return paragraphs


def _paragraph_text(paragraph: Sequence[Sentence]) -> str:
    return " ".join(s.text for s in paragraph)


def to_txt(
    transcript: Transcript, chapters: Sequence[Chapter] = (), *, timestamps: bool = True
) -> str:
    """Plain text: chapter titles on their own line, a blank line between paragraphs."""
    parts = []
    for section in sections(_sentences(transcript), chapters):
        if section.chapter is not None:
            stamp = f"[{clock(section.chapter.start)}] " if timestamps else ""
            parts.append(f"{stamp}{section.chapter.title.upper()}")
        for paragraph in section.paragraphs:
            stamp = f"[{clock(paragraph[0].start)}] " if timestamps else ""
            parts.append(stamp + _paragraph_text(paragraph))
    return "\n\n".join(parts) + "\n"


def to_markdown(
    transcript: Transcript, chapters: Sequence[Chapter] = (), *, title: str = "Transcript"
) -> str:
    lines = [f"# {title}", ""]
    for section in sections(_sentences(transcript), chapters):
        if section.chapter is not None:
            lines += [f"## {section.chapter.title} ({clock(section.chapter.start)})", ""]
            if section.chapter.summary:
                lines += [f"*{section.chapter.summary}*", ""]
        for paragraph in section.paragraphs:
            lines += [f"**[{clock(paragraph[0].start)}]** {_paragraph_text(paragraph)}", ""]
    return "\n".join(lines)


def to_docx(
    transcript: Transcript, chapters: Sequence[Chapter], out: Path, *, title: str = "Transcript"
) -> Path:
    """A Word document: the title, a heading per chapter, timestamped paragraphs."""
    from docx import Document  # imported here: only this export needs python-docx

    document = Document()
    document.add_heading(title, level=0)
    for section in sections(_sentences(transcript), chapters):
        if section.chapter is not None:
            document.add_heading(section.chapter.title, level=1)
            if section.chapter.summary:
                document.add_paragraph().add_run(section.chapter.summary).italic = True
        for paragraph in section.paragraphs:
            block = document.add_paragraph()
            block.add_run(f"[{clock(paragraph[0].start)}] ").bold = True
            block.add_run(_paragraph_text(paragraph))
    out.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(out))
    return out


# -- zip --------------------------------------------------------------------------------------


def build_zip(entries: Mapping[str, Path | str | bytes] | Path, out: Path) -> Path:
    """A zip of ``entries`` (archive name -> file, text or bytes), or of every file under a
    folder. Files are streamed from disk; media is stored, text deflated. Written to a
    temporary name first, so a half-written zip is never seen under ``out``."""
    if isinstance(entries, Path):
        folder = entries
        entries = {
            p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
        for name, content in entries.items():
            safe = _archive_name(name)
            method = (
                zipfile.ZIP_STORED
                if PurePosixPath(safe).suffix.lower() in STORED_SUFFIXES
                else zipfile.ZIP_DEFLATED
            )
            if isinstance(content, Path):
                archive.write(content, safe, compress_type=method)
            else:
                archive.writestr(safe, content, compress_type=method)
    os.replace(partial, out)
    return out


def _archive_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"unsafe name in zip: {name!r}")
    return path.as_posix()
