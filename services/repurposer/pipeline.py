"""The repurposing pipeline: seven stages, each idempotent, each resumable.

A stage reads the outputs of earlier stages from storage, writes its own under
``jobs/<id>/``, commits them, and only then is marked done. A worker killed mid-stage leaves
that stage ``running``; the retried job skips every ``done`` stage and redoes the rest. The
same ``Pipeline`` runs inside ``ascent worker`` (procrastinate) and in ``ascent repurpose``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.repurposer import exports, writing
from services.repurposer.chapters import segment_chapters
from services.repurposer.errors import PipelineError
from services.repurposer.highlights import find_highlights
from services.repurposer.media.audio import extract_audio, loudness_profile
from services.repurposer.media.render import render_clip, thumbnail
from services.repurposer.model import (
    ASSET_KINDS,
    Asset,
    BrandStyle,
    Chapter,
    ClipFile,
    Highlight,
    LoudnessProfile,
    MediaInfo,
    TranscriptDoc,
)
from services.repurposer.storage import Storage
from services.repurposer.transcribe import transcribe
from shared.config import Settings
from shared.models.embeddings import Embedder
from shared.models.llm import LLMGateway

logger = logging.getLogger(__name__)


class JobOptions(BaseModel):
    clips: int | None = None  # None: the server's default (ASCENT_REPURPOSER_CLIPS)
    aspects: list[str] | None = None
    style: BrandStyle | None = None
    language: str | None = None


@dataclass
class Hooks:
    """How a run reports and persists: the worker writes to Postgres, the CLI to a terminal."""

    stage_started: Callable[[str], Awaitable[None]]
    stage_progress: Callable[[str, float], None]  # thread-safe, called often
    stage_done: Callable[[str], Awaitable[None]]
    finished_stages: Callable[[], Awaitable[set[str]]]
    load_assets: Callable[[], Awaitable[dict[str, Asset]]]
    save_asset: Callable[[Asset], Awaitable[Asset]]


@dataclass
class Pipeline:
    job_id: str
    source_key: str
    media: MediaInfo
    options: JobOptions
    settings: Settings
    storage: Storage
    llm: LLMGateway | None
    embedder: Embedder
    hooks: Hooks
    prefix: str | None = None  # where outputs go in storage; None: jobs/<id>
    timings: dict[str, float] = field(default_factory=dict)

    def key(self, name: str) -> str:
        prefix = f"jobs/{self.job_id}" if self.prefix is None else self.prefix
        return f"{prefix}/{name}" if prefix else name

    def _save_json(self, name: str, value: Any) -> None:
        path = self.storage.workpath(self.key(name))
        tmp = path.with_name(path.name + ".tmp")
        if isinstance(value, BaseModel):
            tmp.write_text(value.model_dump_json())
        else:
            tmp.write_text(json.dumps(value, default=_dump))
        tmp.replace(path)
        self.storage.commit(self.key(name))

    def _load_json(self, name: str) -> Any:
        return json.loads(self.storage.local(self.key(name)).read_text())

    async def run(self) -> None:
        done = await self.hooks.finished_stages()
        for name, stage in self._stages():
            if name in done:
                continue
            started = time.perf_counter()
            await self.hooks.stage_started(name)
            await stage()
            await self.hooks.stage_done(name)
            self.timings[name] = round(time.perf_counter() - started, 2)
            logger.info("job %s: %s done in %.1f s", self.job_id, name, self.timings[name])

    def _stages(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        return [
            ("audio", self.audio),
            ("transcribe", self.transcribe),
            ("chapters", self.chapters),
            ("highlights", self.highlights),
            ("clips", self.clips),
            ("writing", self.writing),
            ("exports", self.exports),
        ]

    def _progress(self, stage: str) -> Callable[[float, float], None]:
        def report(done: float, total: float) -> None:
            if total > 0:
                self.hooks.stage_progress(stage, min(1.0, max(0.0, done / total)))

        return report

    # -- stages ---------------------------------------------------------------------------
    async def audio(self) -> None:
        source = await asyncio.to_thread(self.storage.local, self.source_key)
        wav = self.storage.workpath(self.key("audio.wav"))
        await asyncio.to_thread(extract_audio, source, wav, progress=self._progress("audio"))
        self.storage.commit(self.key("audio.wav"))
        profile = await asyncio.to_thread(loudness_profile, wav)
        self._save_json("loudness.json", profile)

    async def transcribe(self) -> None:
        wav = await asyncio.to_thread(self.storage.local, self.key("audio.wav"))
        doc = await asyncio.to_thread(
            transcribe,
            wav,
            self.settings,
            language=self.options.language,
            progress=self._progress("transcribe"),
        )
        if not doc.sentences:
            raise PipelineError("no_speech", "No speech was found in the recording.")
        self._save_json("transcript.json", doc)

    def transcript(self) -> TranscriptDoc:
        return TranscriptDoc.model_validate(self._load_json("transcript.json"))

    async def chapters(self) -> None:
        doc = self.transcript()
        chapters = await segment_chapters(doc.sentences, self.embedder, gateway=self.llm)
        self._save_json("chapters.json", [c.model_dump() for c in chapters])

    def chapter_list(self) -> list[Chapter]:
        return [Chapter.model_validate(c) for c in self._load_json("chapters.json")]

    async def highlights(self) -> None:
        doc = self.transcript()
        loudness = LoudnessProfile.model_validate(self._load_json("loudness.json"))
        found = await find_highlights(
            doc.sentences,
            loudness=loudness,
            gateway=self.llm,
            chapters=self.chapter_list(),
            count=self.options.clips or self.settings.repurposer_clips,
            min_seconds=self.settings.repurposer_clip_min_seconds,
            max_seconds=self.settings.repurposer_clip_max_seconds,
        )
        self._save_json("highlights.json", [h.model_dump() for h in found])

    def highlight_list(self) -> list[Highlight]:
        return [Highlight.model_validate(h) for h in self._load_json("highlights.json")]

    def aspects(self) -> list[str]:
        configured = self.settings.repurposer_aspects.split(",")
        return [a.strip() for a in (self.options.aspects or configured) if a.strip()]

    async def clips(self) -> None:
        doc = self.transcript()
        words = doc.words
        highlights = self.highlight_list()
        style = self.options.style or BrandStyle()
        source = await asyncio.to_thread(self.storage.local, self.source_key)
        work = [(h, aspect) for h in highlights for aspect in self.aspects()]
        rendered: list[ClipFile] = []
        for n, (highlight, aspect) in enumerate(work):
            name = f"clips/{highlight.index}-{aspect.replace(':', 'x')}"
            clip_words = [w for w in words if w.end > highlight.start and w.start < highlight.end]

            def step(done: float, total: float, n: int = n) -> None:
                if total > 0:
                    self.hooks.stage_progress("clips", (n + min(1.0, done / total)) / len(work))

            clip = await asyncio.to_thread(
                render_clip,
                source,
                start=highlight.start,
                end=highlight.end,
                words=clip_words,
                out=self.storage.workpath(self.key(f"{name}.mp4")),
                aspect=aspect,
                style=style,
                info=self.media,
                height=self.settings.repurposer_clip_height,
                preset=self.settings.repurposer_x264_preset,
                progress=step,
            )
            self.storage.commit(self.key(f"{name}.mp4"))
            thumb = self.storage.workpath(self.key(f"{name}.jpg"))
            await asyncio.to_thread(thumbnail, self.storage.local(self.key(f"{name}.mp4")), thumb)
            self.storage.commit(self.key(f"{name}.jpg"))
            rendered.append(
                clip.model_copy(
                    update={
                        "highlight": highlight.index,
                        "path": f"{name}.mp4",
                        "thumbnail": f"{name}.jpg",
                    }
                )
            )
            self.hooks.stage_progress("clips", (n + 1) / len(work))
        self._save_json("clips.json", [c.model_dump() for c in rendered])

    async def writing(self) -> None:
        doc = self.transcript()
        chapters, highlights = self.chapter_list(), self.highlight_list()
        existing = await self.hooks.load_assets()
        kinds = [k for k in ASSET_KINDS if k not in existing]  # resumed: keep what was written
        # As many at once as the server has slots: the prompts share their long prefix (the
        # transcript context), which llama.cpp keeps cached per slot.
        slots = asyncio.Semaphore(max(1, self.settings.llm_parallel))
        written = 0

        async def write(kind: str) -> None:
            nonlocal written
            async with slots:
                asset = await writing.write_asset(
                    kind, self.llm, transcript=doc, chapters=chapters, highlights=highlights
                )
            await self.hooks.save_asset(asset)
            written += 1
            self.hooks.stage_progress("writing", written / len(kinds))

        await asyncio.gather(*(write(kind) for kind in kinds))

    async def exports(self) -> None:
        doc = self.transcript()
        chapters = self.chapter_list()
        assets = await self.hooks.load_assets()
        await asyncio.to_thread(self._write_exports, doc, chapters, assets)

    def _write_exports(
        self, doc: TranscriptDoc, chapters: list[Chapter], assets: dict[str, Asset]
    ) -> None:
        texts = {
            "transcript.srt": exports.to_srt(doc.sentences),
            "transcript.vtt": exports.to_vtt(doc.sentences),
            "transcript.txt": exports.to_txt(doc, chapters),
            "transcript.md": exports.to_markdown(doc, chapters),
        }
        for kind, asset in assets.items():
            texts[f"posts/{kind}.md"] = asset.body
        for name, text in texts.items():
            path = self.storage.workpath(self.key(f"exports/{name}"))
            path.write_text(text, encoding="utf-8")
            self.storage.commit(self.key(f"exports/{name}"))
        docx = self.storage.workpath(self.key("exports/transcript.docx"))
        exports.to_docx(doc, chapters, docx)
        self.storage.commit(self.key("exports/transcript.docx"))
        entries = {f"{name}": self.storage.local(self.key(f"exports/{name}")) for name in texts}
        entries["transcript.docx"] = docx
        for clip in json.loads(self.storage.local(self.key("clips.json")).read_text()):
            entries[clip["path"]] = self.storage.local(self.key(clip["path"]))
            entries[clip["thumbnail"]] = self.storage.local(self.key(clip["thumbnail"]))
        zip_path = self.storage.workpath(self.key("exports/repurposed.zip"))
        exports.build_zip(entries, zip_path)
        self.storage.commit(self.key("exports/repurposed.zip"))


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")
