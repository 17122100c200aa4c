"""Written posts from a talk: blog, X thread, LinkedIn, Instagram, newsletter, show notes.

Each kind is a row of ``SPECS``: the JSON schema the LLM must fill (strings and lists bounded,
or a small model rambles to max_tokens), how the filled data renders to Markdown, and a
deterministic fallback built from the transcript for when the model fails twice. Every quote
is checked against the transcript before it is rendered (see ``quotes``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

from services.repurposer import prompts
from services.repurposer.chapters import keywords
from services.repurposer.exports import clock
from services.repurposer.model import (
    Asset,
    AssetKind,
    Chapter,
    Highlight,
    Quote,
    Sentence,
    TranscriptDoc,
)
from services.repurposer.quotes import MIN_QUOTE_WORDS, TranscriptIndex, ground_quotations, tokens
from shared.models.llm import LLMError, LLMGateway

logger = logging.getLogger(__name__)

TWEET_LIMIT = 280
_NUMBERED = re.compile(r"^\(?\d+\s*/\s*\d*\)?[.:]?\s+")
MIN_PULL_QUOTES = 2
_RECORD_KEYS = frozenset({"fallback", "fallback_reason"})  # bookkeeping, not post text

Line = Annotated[str, Field(min_length=3, max_length=160)]
QuoteText = Annotated[str, Field(min_length=10, max_length=160)]


# Sized for the embedded 0.5B model on a CPU (a few tokens a second): a blog at these bounds
# is at most about 550 tokens of JSON.
class BlogSection(BaseModel):
    heading: str = Field(min_length=3, max_length=60)
    body: str = Field(min_length=20, max_length=400)


class BlogPost(BaseModel):
    title: str = Field(min_length=3, max_length=80)
    intro: str = Field(min_length=20, max_length=300)
    sections: list[BlogSection] = Field(min_length=2, max_length=3)
    quotes: list[QuoteText] = Field(min_length=2, max_length=3)


class Thread(BaseModel):
    tweets: list[Annotated[str, Field(min_length=10, max_length=250)]] = Field(
        min_length=3, max_length=6
    )


class LinkedInPost(BaseModel):
    hook: str = Field(min_length=5, max_length=200)
    body: str = Field(min_length=20, max_length=900)
    takeaways: list[Line] = Field(min_length=2, max_length=4)
    question: str = Field(min_length=5, max_length=200)
    quote: QuoteText


class InstagramCaption(BaseModel):
    caption: str = Field(min_length=20, max_length=900)
    hashtags: list[Annotated[str, Field(min_length=2, max_length=30)]] = Field(
        min_length=3, max_length=10
    )


class Newsletter(BaseModel):
    subject: str = Field(min_length=5, max_length=80)
    blurb: str = Field(min_length=20, max_length=600)
    quote: QuoteText


class ShowNotes(BaseModel):
    summary: str = Field(min_length=20, max_length=800)
    key_points: list[Line] = Field(min_length=2, max_length=5)


@dataclass
class Material:
    """What every writer reads: the transcript, its chapters and highlights."""

    sentences: list[Sentence]
    chapters: list[Chapter]
    highlights: list[Highlight]
    index: TranscriptIndex

    @classmethod
    def of(
        cls,
        transcript: TranscriptDoc | Sequence[Sentence],
        chapters: Sequence[Chapter] = (),
        highlights: Sequence[Highlight] = (),
    ) -> Material:
        sentences = list(
            transcript.sentences if isinstance(transcript, TranscriptDoc) else transcript
        )
        return cls(sentences, list(chapters), list(highlights), TranscriptIndex(sentences))

    def chapter_sentences(self, chapter: Chapter) -> list[Sentence]:
        return [
            s for s in self.sentences if chapter.sentence_start <= s.index <= chapter.sentence_end
        ]

    def spare_quotes(self) -> list[Quote]:
        """Whole transcript sentences fit to quote: the opening of each highlight, then of each
        chapter, then the longest sentences. Verbatim by construction."""
        by_index = {s.index: s for s in self.sentences}
        picks = [by_index.get(h.sentence_start) for h in self.highlights]
        picks += [by_index.get(c.sentence_start) for c in self.chapters]
        picks += sorted(self.sentences, key=lambda s: -len(s.text))
        found: dict[str, Quote] = {}
        for s in picks:
            if s is not None and MIN_QUOTE_WORDS <= len(tokens(s.text)) <= 30:
                found.setdefault(s.text, Quote(text=s.text, start=s.start))
        return list(found.values())


Rendered = tuple[str, str, list[Quote]]  # (title, Markdown body, quotes shown as quotes)


@dataclass(frozen=True)
class Spec:
    schema: type[BaseModel]
    max_tokens: int
    quote_fields: tuple[str, ...]  # fields holding a quote each (or a list of quotes)
    render: Callable[[dict[str, Any], Material], Rendered]
    fallback: Callable[[Material], dict[str, Any]]


# -- the public API --------------------------------------------------------------------------


async def write_asset(
    kind: AssetKind,
    gateway: LLMGateway | None,
    *,
    transcript: TranscriptDoc | Sequence[Sentence],
    chapters: Sequence[Chapter] = (),
    highlights: Sequence[Highlight] = (),
    instruction: str = "",
    previous: Asset | None = None,
    timeout: float | None = None,
) -> Asset:
    """One post of ``kind``; with ``instruction`` (and the ``previous`` version) a rewrite.
    ``timeout`` (seconds per LLM request) overrides the gateway's.

    Without a gateway, or when the model fails twice, the post is a deterministic one built
    from the transcript, marked ``data["fallback"]``.
    """
    spec = SPECS[kind]
    material = Material.of(transcript, chapters, highlights)
    data: dict[str, Any] | None = None
    problem = "no LLM is configured"
    if gateway is not None:
        context = prompts.build_context(material.sentences, material.chapters,
                                        material.highlights)  # fmt: skip
        chat = prompts.messages(kind, context, instruction=instruction,
                                previous=previous.body if previous else "")  # fmt: skip
        data, problem = await _ask(gateway, chat, spec, timeout)
    if data is None:
        logger.info("%s written from the transcript alone: %s", kind, problem)
        data = {**spec.fallback(material), "fallback": True, "fallback_reason": problem}
    data, inline = _ground(data, spec, material)
    title, body, shown = spec.render(data, material)
    return Asset(
        kind=kind,
        title=title,
        body=body,
        data=data,
        quotes=_unique([q for q in [*shown, *inline] if q.text in body]),
        instruction=instruction,
        version=previous.version + 1 if previous else 1,
    )


async def regenerate(
    kind: AssetKind,
    gateway: LLMGateway | None,
    *,
    transcript: TranscriptDoc | Sequence[Sentence],
    previous: Asset | None,
    instruction: str,
    chapters: Sequence[Chapter] = (),
    highlights: Sequence[Highlight] = (),
    timeout: float | None = None,
) -> Asset:
    """A new version of ``previous`` honouring ``instruction`` (e.g. "more casual")."""
    return await write_asset(
        kind, gateway, transcript=transcript, chapters=chapters, highlights=highlights,
        instruction=instruction, previous=previous, timeout=timeout,
    )  # fmt: skip


async def _ask(
    gateway: LLMGateway, chat: list[dict[str, str]], spec: Spec, timeout: float | None
) -> tuple[dict[str, Any] | None, str]:
    """The model's data, or None and why. A small model's invalid answer gets one retry that
    says what was wrong (the answer is greedy, so the same prompt would fail the same way)."""
    problem = ""
    for attempt in range(2):
        messages = chat
        if attempt:
            messages = [*chat, {"role": "user", "content": (
                f"Your previous answer could not be used: {problem[:300]} "
                "Answer again with shorter texts that follow the schema."
            )}]  # fmt: skip
        try:
            answer = await gateway.json(
                messages, spec.schema, max_tokens=spec.max_tokens, timeout=timeout
            )
        except (LLMError, TimeoutError) as exc:
            problem = str(exc) or type(exc).__name__
            continue
        return answer.model_dump(), ""
    return None, problem


# -- grounding --------------------------------------------------------------------------------


def _ground(
    data: dict[str, Any], spec: Spec, material: Material
) -> tuple[dict[str, Any], list[Quote]]:
    """Verify the quote fields (keep the transcript's wording, drop what was never said) and
    every quotation inside the other texts."""
    found: list[Quote] = []
    grounded: dict[str, Any] = {}
    for key, value in data.items():
        if key in spec.quote_fields:
            given = [v for v in (value if isinstance(value, list) else [value]) if v]
            checked = {v: material.index.verify(v) for v in given}
            texts = list(dict.fromkeys(q.text for q in checked.values() if q is not None))
            rejected = [v for v, q in checked.items() if q is None]
            if rejected:
                grounded[f"{key}_rejected"] = rejected  # kept for the record, never shown
            grounded[key] = texts if isinstance(value, list) else (texts[0] if texts else "")
        elif key in _RECORD_KEYS:
            grounded[key] = value
        else:
            grounded[key] = _ground_value(value, material.index, found)
    return grounded, _unique(found)


def _ground_value(value: Any, index: TranscriptIndex, found: list[Quote]) -> Any:
    if isinstance(value, str):
        text, quotes = ground_quotations(value, index)
        found += quotes
        return text
    if isinstance(value, list):
        return [_ground_value(v, index, found) for v in value]
    if isinstance(value, dict):
        return {k: _ground_value(v, index, found) for k, v in value.items()}
    return value


def _unique(quotes: list[Quote]) -> list[Quote]:
    return list({q.text: q for q in quotes}.values())


def _quotes_for(data: dict[str, Any], key: str, material: Material, at_least: int) -> list[Quote]:
    """The verified quotes in ``data[key]`` topped up from the transcript to ``at_least``."""
    value = data.get(key) or []
    wanted = value if isinstance(value, list) else [value]
    quotes = [q for q in (material.index.find(t) for t in wanted if t) if q is not None]
    for spare in material.spare_quotes():
        if len(quotes) >= at_least:
            break
        if all(spare.text != q.text for q in quotes):
            quotes.append(spare)
    return quotes


# -- rendering --------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _clean_title(text: str) -> str:
    return _clean(text).strip("\"'“”#*").strip()


def _pull_quote(quote: Quote) -> str:
    return f"> “{quote.text}”\n>\n> — at {clock(quote.start)}"


def _render_blog(data: dict[str, Any], material: Material) -> Rendered:
    title = _clean_title(data["title"])
    quotes = _quotes_for(data, "quotes", material, MIN_PULL_QUOTES)
    data["quotes"] = [q.text for q in quotes]
    parts = [f"# {title}", data["intro"].strip()]
    for n, section in enumerate(data["sections"]):
        parts += [f"## {_clean_title(section['heading'])}", section["body"].strip()]
        if n < len(quotes):
            parts.append(_pull_quote(quotes[n]))
    parts += [_pull_quote(q) for q in quotes[len(data["sections"]) :]]
    return title, "\n\n".join(parts) + "\n", quotes


def fit(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to ``limit`` characters. A cut text loses its quotation
    marks: half a quote would no longer be what was said."""
    text = _clean(text)
    if len(text) <= limit:
        return text
    text = re.sub(r"[“”\"]", "", text)
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _render_thread(data: dict[str, Any], material: Material) -> Rendered:
    # The numbering is ours; a model that numbers its tweets too would double it.
    tweets = [t for t in (_NUMBERED.sub("", _clean(t)) for t in data["tweets"]) if t]
    numbered = []
    for n, tweet in enumerate(tweets, 1):
        prefix = f"{n}/{len(tweets)} "
        numbered.append(prefix + fit(tweet, TWEET_LIMIT - len(prefix)))
    data["tweets"] = numbered
    title = _clean_title(fit(tweets[0], 80)) if tweets else "Thread"
    return title, "\n\n".join(numbered) + "\n", []


def _render_linkedin(data: dict[str, Any], material: Material) -> Rendered:
    parts = [_clean(data["hook"]), data["body"].strip()]
    shown: list[Quote] = []
    takeaways = [t for t in (_clean(t) for t in data["takeaways"]) if t]
    if takeaways:
        parts.append("Key takeaways:\n" + "\n".join(f"• {t}" for t in takeaways))
    quotes = _quotes_for(data, "quote", material, 1)[:1]
    if quotes:
        data["quote"] = quotes[0].text
        parts.append(f"“{quotes[0].text}” ({clock(quotes[0].start)})")
        shown = quotes
    parts.append(_clean(data["question"]))
    return _clean_title(fit(data["hook"], 80)), "\n\n".join(p for p in parts if p) + "\n", shown


def hashtag(word: str) -> str:
    bare = re.sub(r"[^\w]", "", word.replace(" ", ""))
    return f"#{bare}" if bare else ""


def _render_instagram(data: dict[str, Any], material: Material) -> Rendered:
    tags = list(dict.fromkeys(t for t in (hashtag(w) for w in data["hashtags"]) if t))
    data["hashtags"] = tags
    caption = data["caption"].strip()
    return _clean_title(fit(caption.split("\n")[0], 80)), f"{caption}\n\n{' '.join(tags)}\n", []


def _render_newsletter(data: dict[str, Any], material: Material) -> Rendered:
    subject = _clean_title(data["subject"])
    parts = [f"**{subject}**", data["blurb"].strip()]
    quotes = _quotes_for(data, "quote", material, 1)[:1]
    if quotes:
        data["quote"] = quotes[0].text
        parts.append(_pull_quote(quotes[0]))
    return subject, "\n\n".join(parts) + "\n", quotes


def _render_show_notes(data: dict[str, Any], material: Material) -> Rendered:
    parts = [data["summary"].strip()]
    if material.chapters:
        # Times from the chapters themselves; the first at 00:00 as players expect.
        lines = [
            f"{clock(0 if n == 0 else c.start)} {c.title}" for n, c in enumerate(material.chapters)
        ]
        parts.append("## Chapters\n\n" + "\n".join(lines))
        data["chapters"] = [{"start": c.start, "title": c.title} for c in material.chapters]
    points = [p for p in (_clean(p) for p in data["key_points"]) if p]
    if points:
        parts.append("## Key points\n\n" + "\n".join(f"- {p}" for p in points))
    return "Show notes", "\n\n".join(parts) + "\n", []


# -- fallbacks: useful posts from the transcript alone ------------------------------------------


def _topic_line(material: Material) -> str:
    if material.chapters:
        names = [c.title for c in material.chapters[:4]]
    else:
        text = " ".join(s.text for s in material.sentences)
        names = [w.capitalize() for w in keywords(text, count=3)]
    if len(names) < 2:
        return names[0] if names else "Talk notes"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _opening(sentences: Sequence[Sentence], limit: int) -> str:
    text = ""
    for s in sentences:
        if text and len(text) + len(s.text) > limit:
            break
        text = f"{text} {s.text}".strip()
    return text[:limit]


def _chapter_blocks(material: Material) -> list[tuple[str, str]]:
    """(heading, paragraph) per chapter; halves of the talk when there are no chapters."""
    if material.chapters:
        return [
            (c.title, c.summary or _opening(material.chapter_sentences(c), 500))
            for c in material.chapters
        ]
    half = max(1, len(material.sentences) // 2)
    halves = [material.sentences[:half], material.sentences[half:]]
    return [(f"Part {n}", _opening(h, 500)) for n, h in enumerate(halves, 1) if h]


def _fallback_blog(material: Material) -> dict[str, Any]:
    blocks = _chapter_blocks(material)[:3]
    return {
        "title": _topic_line(material),
        "intro": f"This talk covers {_topic_line(material)}. The main points, in order:",
        "sections": [{"heading": h, "body": b} for h, b in blocks],
        "quotes": [q.text for q in material.spare_quotes()[:MIN_PULL_QUOTES]],
    }


def _fallback_thread(material: Material) -> dict[str, Any]:
    tweets = [f"{_topic_line(material)}: {_opening(material.sentences, 180)}"]
    tweets += [f"{h}: {b}" for h, b in _chapter_blocks(material)[:4]]
    return {"tweets": tweets}


def _fallback_linkedin(material: Material) -> dict[str, Any]:
    spare = material.spare_quotes()
    return {
        "hook": _opening(material.sentences, 180),
        "body": " ".join(b for _, b in _chapter_blocks(material)[:2]),
        "takeaways": [h for h, _ in _chapter_blocks(material)[:4]],
        "question": "Which of these would you try first?",
        "quote": spare[0].text if spare else "",
    }


def _fallback_instagram(material: Material) -> dict[str, Any]:
    text = " ".join(s.text for s in material.sentences)
    opening = material.highlights[0].text if material.highlights else text
    return {"caption": fit(opening, 400), "hashtags": keywords(text, count=8)}


def _fallback_newsletter(material: Material) -> dict[str, Any]:
    spare = material.spare_quotes()
    return {
        "subject": fit(_topic_line(material), 80),
        "blurb": fit(" ".join(b for _, b in _chapter_blocks(material)[:2]), 600),
        "quote": spare[0].text if spare else "",
    }


def _fallback_show_notes(material: Material) -> dict[str, Any]:
    return {
        "summary": fit(" ".join(b for _, b in _chapter_blocks(material)), 800),
        "key_points": [h for h, _ in _chapter_blocks(material)[:5]],
    }


SPECS: dict[AssetKind, Spec] = {
    "blog": Spec(BlogPost, 700, ("quotes",), _render_blog, _fallback_blog),
    "thread": Spec(Thread, 500, (), _render_thread, _fallback_thread),
    "linkedin": Spec(LinkedInPost, 600, ("quote",), _render_linkedin, _fallback_linkedin),
    "instagram": Spec(InstagramCaption, 450, (), _render_instagram, _fallback_instagram),
    "newsletter": Spec(Newsletter, 350, ("quote",), _render_newsletter, _fallback_newsletter),
    "show_notes": Spec(ShowNotes, 500, (), _render_show_notes, _fallback_show_notes),
}
