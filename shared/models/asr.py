"""Speech recognition with faster-whisper and the packaged Whisper weights, with word timings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import Settings
from shared.models.registry import ModelRegistry, get_model


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass(frozen=True)
class Transcript:
    language: str
    duration: float
    segments: list[Segment]

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments).strip()

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


class Transcriber:
    def __init__(self, settings: Settings, *, model: str | None = None) -> None:
        self.settings = settings
        self.model_name = model or settings.asr_model
        if get_model(self.model_name).kind != "asr":
            raise ValueError(f"{self.model_name!r} is not a speech model")
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError as exc:
                    raise RuntimeError(
                        "speech recognition needs faster-whisper: pip install 'ascent[repurposer]'"
                    ) from exc
                path = ModelRegistry(self.settings.models_dir).path(self.model_name)
                self._model = WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type=self.settings.asr_compute_type,
                    local_files_only=True,
                )
        return self._model

    def transcribe(
        self,
        audio: Path | str,
        *,
        language: str | None = None,
        progress: Callable[[float, float], None] | None = None,
    ) -> Transcript:
        """Transcribe a media file; ``progress(seconds_done, total_seconds)`` per segment."""
        model = self._load()
        if self.model_name.endswith(".en"):
            language = "en"
        segments_iter, info = model.transcribe(
            str(audio), language=language, word_timestamps=True, vad_filter=False, beam_size=5
        )
        segments = []
        for seg in segments_iter:  # a generator: decoding happens while we iterate
            words = [
                Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                for w in (seg.words or [])
            ]
            segments.append(Segment(float(seg.start), float(seg.end), seg.text.strip(), words))
            if progress:
                progress(seg.end, info.duration)
        return Transcript(language=info.language, duration=float(info.duration), segments=segments)
