"""Highlights: the stretches of a talk most worth cutting into short clips.

Every run of whole sentences lasting ``min_seconds``..``max_seconds`` is a candidate. Each gets
features normalised to 0..1 (energy, its variation, pace, an opening question, intense words,
whether it stands alone, length) and a weighted heuristic score. The best non-overlapping
candidates are then rated by the LLM (hook, self-containedness, a title) when a gateway is
given, and the final 0-100 score blends both. Every score comes with reasons a person can read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from pydantic import BaseModel, Field

from services.repurposer.model import Chapter, Highlight, LoudnessProfile, Sentence
from shared.models.llm import LLMError, LLMGateway

logger = logging.getLogger(__name__)

# Words that carry emotion or intensity in spoken English (and their common forms).
# fmt: off
INTENSITY_WORDS = frozenset({
    "amazing", "amazed", "astonishing", "awesome", "awful", "beautiful", "best", "biggest",
    "brilliant", "changed", "crazy", "dangerous", "dead", "disaster", "dream", "eureka",
    "exciting", "extraordinary", "fail", "failed", "failure", "fear", "fantastic", "furious",
    "genius", "hate", "horrible", "huge", "impossible", "incredible", "insane", "joy", "killed",
    "love", "loved", "mind-blowing", "mistake", "never", "nightmare", "obsessed", "outrageous",
    "panic", "perfect", "powerful", "ridiculous", "scared", "scream", "screamed", "secret",
    "shocked", "shocking", "stunning", "surprise", "surprised", "terrible", "terrified",
    "unbelievable", "wild", "worst", "wow",
})
# fmt: on
# An opening word that points back at something said before the clip.
# fmt: off
DANGLING_OPENERS = frozenset({
    "and", "but", "so", "that", "it", "this", "these", "those", "they", "he", "she", "also",
    "because", "which", "then", "or", "plus", "anyway", "there",
})
# fmt: on
_TOKEN = re.compile(r"[a-z][a-z'\-]*")

WEIGHTS = {
    "energy": 0.15,
    "energy_variation": 0.05,
    "pace": 0.10,
    "question": 0.20,
    "intensity": 0.20,
    "self_contained": 0.20,
    "length": 0.10,
}
LLM_SHARE = 0.4  # of the final score, when the LLM rated the candidate
SILENCE_LUFS = -70.0  # short-term loudness below this is silence, left out of the averages
IDEAL_PACE = 1.15  # times the talk's median words/s: lively but not rushed


class _ClipRating(BaseModel):
    # Reason first: the model commits to an explanation before it picks the numbers.
    reason: str = Field(max_length=200)
    hook: int = Field(ge=0, le=10)
    self_contained: int = Field(ge=0, le=10)
    title: str = Field(min_length=3, max_length=60)


_PROMPT = (
    "Rate this excerpt of a talk as a stand-alone short video clip for social media.\n\n"
    "<excerpt>\n{text}\n</excerpt>\n\n"
    "reason: one sentence on why it would or would not work as a clip.\n"
    "hook: 0-10, how strongly the first seconds grab a viewer's attention.\n"
    "self_contained: 0-10, how well it makes sense without the rest of the talk.\n"
    "title: a catchy title of at most 8 words, using only what the excerpt says."
)


@dataclass
class Candidate:
    first: int  # positions in the sentence list (inclusive)
    last: int
    start: float
    end: float
    text: str
    features: dict[str, float] = field(default_factory=dict)  # raw measurements
    scores: dict[str, float] = field(default_factory=dict)  # each 0..1
    reasons: list[str] = field(default_factory=list)
    heuristic: float = 0.0
    final: float = 0.0
    title: str = ""

    def overlaps(self, other: Candidate) -> bool:
        return self.first <= other.last and other.first <= self.last


async def find_highlights(
    sentences: Sequence[Sentence],
    *,
    loudness: LoudnessProfile | None,
    gateway: LLMGateway | None = None,
    count: int = 5,
    min_seconds: float = 15.0,
    max_seconds: float = 60.0,
    chapters: Sequence[Chapter] = (),
    concurrency: int = 4,
) -> list[Highlight]:
    """The ``count`` best non-overlapping highlights, best first. With ``chapters``, a clip
    that runs from one chapter into the next counts as less self-contained."""
    candidates = score_candidates(
        sentences,
        loudness=loudness,
        min_seconds=min_seconds,
        max_seconds=max_seconds,
        chapters=chapters,
    )
    shortlist = pick_non_overlapping(candidates, count * 2 if gateway else count, "heuristic")
    if gateway is not None:
        limit = asyncio.Semaphore(concurrency)

        async def rate(candidate: Candidate) -> None:
            async with limit:
                await _rate_with_llm(gateway, candidate)

        await asyncio.gather(*(rate(c) for c in shortlist))
    chosen = sorted(shortlist, key=lambda c: -c.final)[:count]
    return [
        Highlight(
            index=rank,
            start=c.start,
            end=c.end,
            sentence_start=sentences[c.first].index,
            sentence_end=sentences[c.last].index,
            text=c.text,
            title=c.title or fallback_title(sentences[c.first : c.last + 1]),
            score=round(100 * c.final),
            reasons=c.reasons,
            features=c.features,
        )
        for rank, c in enumerate(chosen)
    ]


def score_candidates(
    sentences: Sequence[Sentence],
    *,
    loudness: LoudnessProfile | None,
    min_seconds: float = 15.0,
    max_seconds: float = 60.0,
    chapters: Sequence[Chapter] = (),
) -> list[Candidate]:
    """Every window of whole sentences within the length bounds, scored by heuristics."""
    chapter_starts = {c.sentence_start for c in chapters[1:]}
    typical_pace = _median_pace(sentences)
    reference = _reference_loudness(loudness) if loudness else None
    candidates = []
    for first in range(len(sentences)):
        for last in range(first, len(sentences)):
            span = sentences[last].end - sentences[first].start
            if span > max_seconds:
                break
            if span >= min_seconds:
                window = sentences[first : last + 1]
                candidate = Candidate(
                    first=first, last=last, start=window[0].start, end=window[-1].end,
                    text=" ".join(s.text for s in window),
                )  # fmt: skip
                crosses = any(s.index in chapter_starts for s in window[1:])
                _measure(candidate, window, typical_pace, loudness, reference, crosses)
                candidates.append(candidate)
    return candidates


def pick_non_overlapping(candidates: Sequence[Candidate], count: int, key: str) -> list[Candidate]:
    """Greedy: the best candidate, then the best that overlaps none chosen, and so on."""
    chosen: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (-getattr(c, key), c.start)):
        if len(chosen) == count:
            break
        if not any(candidate.overlaps(c) for c in chosen):
            chosen.append(candidate)
    return chosen


def _measure(
    candidate: Candidate,
    window: Sequence[Sentence],
    typical_pace: float,
    loudness: LoudnessProfile | None,
    reference: float | None,
    crosses_chapters: bool,
) -> None:
    raw, scores, reasons = candidate.features, candidate.scores, candidate.reasons
    tokens = [t for s in window for t in _TOKEN.findall(s.text.lower())]
    words = max(1, len(tokens))
    duration = candidate.end - candidate.start
    raw["duration"] = round(duration, 2)
    raw["words"] = float(len(tokens))

    if loudness is not None and reference is not None:
        heard = [v for v in loudness.window(candidate.start, candidate.end) if _audible(v)]
        if heard:
            delta = statistics.fmean(heard) - reference
            # Variation as the mean change between readings: a plain std would reward a
            # window that straddles a quiet and a loud section rather than lively delivery.
            change = (
                statistics.fmean(abs(b - a) for a, b in pairwise(heard)) if len(heard) > 1 else 0.0
            )
            raw["energy_lu"] = round(delta, 2)
            raw["energy_std_lu"] = round(statistics.pstdev(heard), 2)
            raw["energy_change_lu"] = round(change, 2)
            scores["energy"] = _clamp((delta + 3) / 9)  # -3 LU -> 0, +6 LU -> 1
            scores["energy_variation"] = _clamp(change / 1.5)
            if delta >= 1:
                reasons.append(f"Energy {delta:.1f} LU above the talk's average")
            elif delta <= -2:
                reasons.append(f"Quieter than the talk's average ({delta:.1f} LU)")

    speaking = sum(max(0.0, s.end - s.start) for s in window) or duration
    pace = len(tokens) / speaking if speaking > 0 else 0.0
    ratio = pace / typical_pace if typical_pace else 1.0
    raw["words_per_second"] = round(pace, 2)
    raw["pace_ratio"] = round(ratio, 2)
    scores["pace"] = _clamp(1 - abs(ratio - IDEAL_PACE) / 0.5)
    if ratio >= 1.1 and ratio <= 1.5:
        reasons.append(f"Lively pace: {pace:.1f} words/s against the talk's {typical_pace:.1f}")
    elif ratio > 1.5:
        reasons.append(f"Rushed: {pace:.1f} words/s against the talk's {typical_pace:.1f}")

    question_at = next((i for i, s in enumerate(window[:2]) if "?" in s.text), None)
    scores["question"] = {0: 1.0, 1: 0.6}.get(question_at, 0.0)
    raw["opening_question"] = float(question_at is not None)
    if question_at is not None:
        reasons.append("Opens with a question" if question_at == 0 else "Asks a question early")

    intense = [t for t in tokens if t in INTENSITY_WORDS]
    exclamations = sum(s.text.count("!") for s in window)
    hits = len(intense) + exclamations
    raw["intensity_hits"] = float(hits)
    scores["intensity"] = _clamp(hits / max(1.0, words / 25) / 1.5)  # density, not count
    if intense:
        shown = ", ".join(dict.fromkeys(intense))
        reasons.append(f"Emotional words: {shown}")
    if exclamations:
        reasons.append("Exclamation" + ("s" if exclamations > 1 else ""))

    opener = tokens[0] if tokens else ""
    dangling = opener in DANGLING_OPENERS
    open_question_end = window[-1].text.rstrip().endswith("?")
    raw["dangling_start"] = float(dangling)
    raw["crosses_chapters"] = float(crosses_chapters)
    scores["self_contained"] = (
        0.7 * (not dangling) + 0.3 * (0.5 if open_question_end else 1.0)
    ) * (0.5 if crosses_chapters else 1.0)
    if crosses_chapters:
        reasons.append("Runs from one chapter into the next")
    if dangling:
        reasons.append(f"Starts with “{opener}”, which may need earlier context")
    if open_question_end:
        reasons.append("Ends on an unanswered question")

    scores["length"] = _length_fit(duration)

    weights = {k: w for k, w in WEIGHTS.items() if k in scores}
    candidate.heuristic = sum(scores[k] * w for k, w in weights.items()) / sum(weights.values())
    candidate.final = candidate.heuristic
    raw["heuristic"] = round(candidate.heuristic, 3)
    raw.update({f"{k}_score": round(v, 3) for k, v in scores.items()})  # the 0..1 parts


async def _rate_with_llm(gateway: LLMGateway, candidate: Candidate) -> None:
    prompt = _PROMPT.format(text=candidate.text[:3000])
    try:
        rating = await gateway.json(
            [{"role": "user", "content": prompt}], _ClipRating, max_tokens=160
        )
    except (LLMError, TimeoutError) as exc:
        logger.info("highlight kept its heuristic score, the LLM failed: %s", exc)
        candidate.reasons.append("LLM rating unavailable; heuristics only")
        return
    llm = (0.6 * rating.hook + 0.4 * rating.self_contained) / 10
    candidate.features.update(
        llm_hook=float(rating.hook), llm_self_contained=float(rating.self_contained)
    )
    candidate.final = (1 - LLM_SHARE) * candidate.heuristic + LLM_SHARE * llm
    strength = "strong" if rating.hook >= 7 else "moderate" if rating.hook >= 4 else "weak"
    reason = rating.reason.strip()
    candidate.reasons.append(
        f"LLM: {strength} hook ({rating.hook}/10)" + (f" — {reason}" if reason else "")
    )
    candidate.title = " ".join(rating.title.strip().strip("\"'“”").split()[:8])


def _length_fit(duration: float) -> float:
    """1 in the short-form sweet spot of 20-45 s, falling to 0.3 at 10 s and at 75 s: long
    windows would otherwise crowd the timeline and leave room for fewer clips."""
    if duration < 20:
        return _clamp(0.3 + 0.7 * (duration - 10) / 10)
    if duration > 45:
        return _clamp(1 - 0.7 * (duration - 45) / 30)
    return 1.0


def fallback_title(window: Sequence[Sentence], max_words: int = 8) -> str:
    """The opening question if there is one (it is the hook), else the first sentence."""
    sentence = next((s for s in window[:2] if "?" in s.text), window[0])
    words = sentence.text.split()
    return " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")


def _median_pace(sentences: Sequence[Sentence]) -> float:
    paces = [
        len(_TOKEN.findall(s.text.lower())) / (s.end - s.start)
        for s in sentences
        if s.end - s.start >= 0.5
    ]
    return statistics.median(paces) if paces else 0.0


def _reference_loudness(loudness: LoudnessProfile) -> float | None:
    if loudness.integrated is not None and _audible(loudness.integrated):
        return loudness.integrated
    heard = [v for v in loudness.values if _audible(v)]
    return statistics.median(heard) if heard else None


def _audible(value: float) -> bool:
    return math.isfinite(value) and value > SILENCE_LUFS


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))
