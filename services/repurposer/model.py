"""The repurposer's data: what each pipeline stage reads and writes (stored as JSON).

Times are seconds from the start of the source recording.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class MediaInfo(BaseModel):
    """What ffprobe found in an upload (the container is judged by probing, never the name)."""

    format_name: str
    duration: float
    size: int
    has_video: bool
    has_audio: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


class Word(BaseModel):
    start: float
    end: float
    text: str
    probability: float = 1.0


class Sentence(BaseModel):
    index: int
    start: float
    end: float
    text: str
    words: list[Word] = Field(default_factory=list)


class TranscriptDoc(BaseModel):
    language: str
    language_probability: float = 1.0
    duration: float
    backend: str
    model: str
    sentences: list[Sentence]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences).strip()

    @property
    def words(self) -> list[Word]:
        return [w for s in self.sentences for w in s.words]


class LoudnessProfile(BaseModel):
    """Short-term loudness (LUFS) every ``step`` seconds, from FFmpeg's ebur128 filter."""

    step: float
    values: list[float]
    integrated: float | None = None

    def window(self, start: float, end: float) -> list[float]:
        first, last = int(start / self.step), max(int(start / self.step) + 1, int(end / self.step))
        return self.values[first:last]


class Chapter(BaseModel):
    index: int
    start: float
    end: float
    title: str
    summary: str = ""
    sentence_start: int  # first sentence index (inclusive)
    sentence_end: int  # last sentence index (inclusive)


class Highlight(BaseModel):
    """A candidate clip: whole sentences, 15-60 s, scored 0-100 with the reasons."""

    index: int
    start: float
    end: float
    sentence_start: int
    sentence_end: int
    text: str
    title: str = ""
    score: int = Field(ge=0, le=100)
    reasons: list[str] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)


Aspect = Literal["16:9", "9:16"]


class BrandStyle(BaseModel):
    """Caption and audiogram styling, per workspace (colours are #RRGGBB)."""

    font: str = "DejaVu Sans"
    font_size: int = Field(64, ge=12, le=200, description="At 1080 px frame height.")
    text_colour: str = Field("#FFFFFF", pattern=r"^#[0-9A-Fa-f]{6}$")
    highlight_colour: str = Field("#FFD400", pattern=r"^#[0-9A-Fa-f]{6}$")
    outline_colour: str = Field("#000000", pattern=r"^#[0-9A-Fa-f]{6}$")
    background_colour: str = Field("#111827", pattern=r"^#[0-9A-Fa-f]{6}$")
    position: Literal["bottom", "middle"] = "bottom"
    uppercase: bool = False
    words_per_line: int = Field(4, ge=1, le=12)


class ClipFile(BaseModel):
    highlight: int
    aspect: Aspect
    path: str  # relative to the job's output folder
    thumbnail: str
    width: int
    height: int
    duration: float
    audiogram: bool = False


AssetKind = Literal["blog", "thread", "linkedin", "instagram", "newsletter", "show_notes"]
ASSET_KINDS: tuple[AssetKind, ...] = (
    "blog",
    "thread",
    "linkedin",
    "instagram",
    "newsletter",
    "show_notes",
)


class Quote(BaseModel):
    text: str
    start: float  # where the verbatim match begins in the recording


class Asset(BaseModel):
    """One written piece: ``body`` is the text shown, copied and edited (Markdown)."""

    kind: AssetKind
    title: str = ""
    body: str
    data: dict = Field(default_factory=dict)  # the structured (JSON-schema) output
    quotes: list[Quote] = Field(default_factory=list)
    instruction: str = ""  # the regenerate request that produced it, if any
    edited: bool = False
    version: int = 1
