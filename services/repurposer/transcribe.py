"""Speech to a ``TranscriptDoc``: words with timings, grouped into sentences.

Two engines run the same packaged Whisper weights (``settings.asr_model``):

- ``faster-whisper`` (default): CTranslate2, ``settings.asr_compute_type`` (int8) on CPU.
- ``openai-whisper``: PyTorch fp32 on CPU, from a checkpoint converted once from the
  CTranslate2 weights (``whisper_convert.ensure_openai_checkpoint``). Slower; kept as a
  reference implementation and for its word-alignment code.

Both detect the language (name and probability), time every word (cross-attention
alignment) and, with VAD on, skip silence with Silero VAD (the ONNX model that ships inside
faster-whisper). Timestamps are always seconds in the original recording, silence or not.
Nothing is downloaded: weights come from the registry, Silero VAD and the tokenizers
(openai-whisper's ``assets/*.tiktoken``) from the installed packages.

Words are cleaned (``clean_words``) and grouped by ``sentences.to_sentences``. Loaded models
are cached per process, per (backend, model, compute type, folder).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from services.repurposer.model import TranscriptDoc, Word
from services.repurposer.sentences import to_sentences
from shared.config import Settings
from shared.models.registry import ModelRegistry, get_model

logger = logging.getLogger(__name__)

Backend = Literal["faster-whisper", "openai-whisper"]
BACKENDS: tuple[Backend, ...] = ("faster-whisper", "openai-whisper")
Progress = Callable[[float, float], None]

OPENAI_WHISPER_VERSION = "20250625"
# --no-deps keeps out triton (CUDA only, about 1 GB); its real dependencies are installed
# normally (numba brings llvmlite), and are in the repurposer extra.
OPENAI_WHISPER_INSTALL = (
    f"pip install --no-deps openai-whisper=={OPENAI_WHISPER_VERSION} && "
    "pip install numba tiktoken more-itertools (or scripts/bootstrap, which does both)"
)
FASTER_WHISPER_INSTALL = "pip install 'ascent[repurposer]' (faster-whisper)"

SAMPLE_RATE = 16_000
BEAM_SIZE = 5  # faster-whisper's default
# openai-whisper decodes greedily, falling back to sampling at rising temperatures when a
# window looks wrong (its own default). Its PyTorch beam search costs about 4x the CPU of
# greedy decoding, for the same words on our samples.
OPENAI_BEAM_SIZE: int | None = None
# Silero VAD: speech is what scores over 0.5; pauses shorter than a second stay inside a
# chunk (so sentences are not cut), and each chunk keeps 0.3 s of margin either side.
VAD_PARAMETERS: dict[str, float | int] = {
    "threshold": 0.5,
    "min_silence_duration_ms": 1000,
    "speech_pad_ms": 300,
}


class BackendNotInstalled(RuntimeError):
    """The engine's package is missing; the message says what to install."""


@dataclass(frozen=True)
class _Raw:
    """What an engine produced, before words are cleaned and grouped."""

    language: str
    language_probability: float
    duration: float
    words: list[Word]


def transcribe(
    audio: Path,
    settings: Settings,
    *,
    backend: Backend | None = None,
    language: str | None = None,
    vad: bool | None = None,
    progress: Progress | None = None,
) -> TranscriptDoc:
    """Transcribe a media file (anything FFmpeg reads) into sentences of timed words.

    ``backend`` defaults to ``settings.repurposer_asr_backend``, ``vad`` to
    ``settings.repurposer_vad``; ``language`` (ISO 639-1, e.g. ``"en"``) skips detection.
    ``progress(seconds_done, total_seconds)`` is called as decoding advances (per segment
    with faster-whisper, per 30 s window with openai-whisper) and once at the end.
    """
    audio = Path(audio)
    if not audio.is_file():
        raise FileNotFoundError(f"no such media file: {audio}")
    backend = backend or settings.repurposer_asr_backend
    if backend not in BACKENDS:
        raise ValueError(f"unknown ASR backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    vad = settings.repurposer_vad if vad is None else vad
    model_name = settings.asr_model
    if get_model(model_name).kind != "asr":
        raise ValueError(f"{model_name!r} is not a speech model")
    if model_name.endswith(".en"):
        language = "en"

    started = time.perf_counter()
    if backend == "faster-whisper":
        raw = _run_faster_whisper(audio, settings, language=language, vad=vad, progress=progress)
    else:
        raw = _run_openai_whisper(audio, settings, language=language, vad=vad, progress=progress)
    if progress:
        progress(raw.duration, raw.duration)
    words = clean_words(raw.words, raw.duration)
    elapsed = time.perf_counter() - started
    logger.info(
        "transcribed %s: %.1f s of audio in %.1f s (%s, %s, vad=%s, %d words, language %s)",
        audio.name, raw.duration, elapsed, backend, model_name, vad, len(words), raw.language,
    )  # fmt: skip
    return TranscriptDoc(
        language=raw.language,
        language_probability=raw.language_probability,
        duration=raw.duration,
        backend=backend,
        model=model_name,
        sentences=to_sentences(words),
    )


def clean_words(words: Iterable[Word], duration: float) -> list[Word]:
    """Drop empty words; keep times inside ``[0, duration]``, in order, never overlapping;
    rejoin hyphenated words that Whisper emits in two ("ill", "-disposed")."""
    out: list[Word] = []
    previous_end = 0.0
    for word in words:
        text = word.text.strip()
        if not text:
            continue
        start = min(max(word.start, previous_end, 0.0), duration)
        end = min(max(word.end, start), duration)
        if out and len(text) > 1 and text[0] == "-" and text[1].isalnum():
            joined = out[-1]
            out[-1] = Word(
                start=joined.start,
                end=end,
                text=joined.text + text,
                probability=min(joined.probability, word.probability),
            )
        else:
            out.append(Word(start=start, end=end, text=text, probability=word.probability))
        previous_end = end
    return out


# --- model cache -------------------------------------------------------------------------

_cache: dict[tuple[str, str, str, str], Any] = {}
_cache_locks: dict[tuple[str, str, str, str], threading.Lock] = {}
_cache_guard = threading.Lock()


def _cached(key: tuple[str, str, str, str], load: Callable[[], Any]) -> Any:
    """One instance per key per process; concurrent first calls load it once."""
    with _cache_guard:
        if key in _cache:
            return _cache[key]
        lock = _cache_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _cache:
            loaded = load()
            with _cache_guard:
                _cache[key] = loaded
        return _cache[key]


def clear_model_cache() -> None:
    with _cache_guard:
        _cache.clear()


# --- faster-whisper ----------------------------------------------------------------------


def _faster_whisper_model(settings: Settings) -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise BackendNotInstalled(
            f"the faster-whisper ASR backend needs faster-whisper: {FASTER_WHISPER_INSTALL}"
        ) from exc
    model_name, compute_type = settings.asr_model, settings.asr_compute_type
    path = ModelRegistry(settings.models_dir).path(model_name)  # raises ModelNotInstalled

    def load() -> Any:
        return WhisperModel(
            str(path), device="cpu", compute_type=compute_type, local_files_only=True
        )

    return _cached(("faster-whisper", model_name, compute_type, str(path)), load)


def _run_faster_whisper(
    audio: Path, settings: Settings, *, language: str | None, vad: bool, progress: Progress | None
) -> _Raw:
    model = _faster_whisper_model(settings)
    segments, info = model.transcribe(
        str(audio),
        language=language,
        beam_size=BEAM_SIZE,
        word_timestamps=True,
        vad_filter=vad,
        vad_parameters=dict(VAD_PARAMETERS) if vad else None,
    )
    duration = float(info.duration)
    words: list[Word] = []
    for segment in segments:  # a generator: decoding happens while iterating
        words.extend(
            Word(start=float(w.start), end=float(w.end), text=w.word, probability=w.probability)
            for w in segment.words or ()
        )
        if progress:
            progress(min(float(segment.end), duration), duration)
    return _Raw(info.language, float(info.language_probability), duration, words)


# --- openai-whisper ----------------------------------------------------------------------

# openai-whisper installs forward hooks on the model for its key/value cache and word
# alignment, and progress is read through its module's tqdm: one run at a time per process.
_openai_run_lock = threading.Lock()


def _import_whisper() -> Any:
    try:
        import whisper
    except ImportError as exc:
        raise BackendNotInstalled(
            f"the openai-whisper ASR backend needs openai-whisper: {OPENAI_WHISPER_INSTALL}"
        ) from exc
    return whisper


def _openai_whisper_model(settings: Settings) -> Any:
    whisper = _import_whisper()
    import torch

    from services.repurposer.whisper_convert import alignment_heads_dump, ensure_openai_checkpoint

    model_name = settings.asr_model
    checkpoint = ensure_openai_checkpoint(settings, model_name)

    def load() -> Any:
        model = whisper.load_model(str(checkpoint), device="cpu")  # fp32 parameters
        heads = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
        dims = {"n_text_layer": model.dims.n_text_layer, "n_text_head": model.dims.n_text_head}
        pairs = [tuple(pair) for pair in heads.get("alignment_heads") or ()]
        if pairs:
            model.set_alignment_heads(alignment_heads_dump(pairs, dims))
        importlib.import_module("whisper.timing").dtw(torch.zeros(2, 2))  # numba JIT, once
        return model.eval()

    return _cached(("openai-whisper", model_name, "float32", str(checkpoint)), load)


class _ProgressBar:
    """Stands in for ``tqdm.tqdm`` inside ``whisper.transcribe``: frames -> ``progress``."""

    def __init__(self, progress: Progress | None, duration: float) -> None:
        self.progress, self.duration, self.frames = progress, duration, 0

    def __call__(self, *args: Any, **kwargs: Any) -> _ProgressBar:
        return self

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, frames: int) -> None:
        self.frames += frames
        if self.progress:
            self.progress(min(self.frames / 100.0, self.duration), self.duration)


def _speech_clips(samples: Any) -> list[tuple[float, float]] | None:
    """Silero VAD speech chunks in seconds, or None when faster-whisper (its home) is absent."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        logger.warning("VAD needs faster-whisper (Silero VAD ships in it); transcribing all")
        return None
    chunks = get_speech_timestamps(samples, VadOptions(**VAD_PARAMETERS))
    return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]


def _clip_timestamps(clips: list[tuple[float, float]], n_samples: int) -> list[float]:
    """VAD chunks as openai-whisper's ``clip_timestamps``, on its 10 ms frame grid.

    No clip may end past the last mel frame: openai-whisper (20250625) then decodes an empty
    window without advancing, forever.
    """
    last_frame = n_samples // 160  # HOP_LENGTH: whisper's content frames
    out: list[float] = []
    for start, end in clips:
        first, stop = round(start * 100), min(round(end * 100), last_frame)
        if first < stop:
            out += [first / 100, stop / 100]
    return out


def _run_openai_whisper(
    audio: Path, settings: Settings, *, language: str | None, vad: bool, progress: Progress | None
) -> _Raw:
    whisper = _import_whisper()
    import numpy as np
    import torch

    model = _openai_whisper_model(settings)
    samples = whisper.load_audio(str(audio))  # FFmpeg -> 16 kHz mono float32
    duration = len(samples) / SAMPLE_RATE
    clips = _speech_clips(samples) if vad else None
    if clips is not None and not clips:
        return _Raw(language or "en", 0.0 if language is None else 1.0, duration, [])

    probability = 1.0
    if language is None and model.is_multilingual:
        # Detect on the first 30 s of speech (not of silence), as faster-whisper does.
        speech = samples
        if clips:
            speech = np.concatenate(
                [samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in clips]
            )
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech), model.dims.n_mels)
        with torch.inference_mode():
            _, probs = model.detect_language(mel)
        language = max(probs, key=probs.get)
        probability = float(probs[language])
    elif language is None:
        language = "en"

    options: dict[str, Any] = {
        "language": language,
        "word_timestamps": True,
        "fp16": False,
        "verbose": False,  # False (not None) turns the progress bar on, which we intercept
    }
    if OPENAI_BEAM_SIZE:
        options.update(beam_size=OPENAI_BEAM_SIZE, best_of=OPENAI_BEAM_SIZE)
    if clips:
        options["clip_timestamps"] = _clip_timestamps(clips, len(samples))
    module = importlib.import_module("whisper.transcribe")
    with _openai_run_lock:
        original = module.tqdm
        module.tqdm = SimpleNamespace(tqdm=_ProgressBar(progress, duration))
        try:
            result = module.transcribe(model, samples, **options)
        finally:
            module.tqdm = original
    words = [
        Word(
            start=float(w["start"]),
            end=float(w["end"]),
            text=w["word"],
            probability=float(w["probability"]),
        )
        for segment in result["segments"]
        for w in segment.get("words") or ()
    ]
    return _Raw(language, probability, duration, words)
