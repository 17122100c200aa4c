"""Thin adapters that expose our :class:`~shared.retrieval.retriever.Retriever` to other
frameworks. The retrieval logic (hybrid search, MMR, rerank, tenant scoping) stays in ours;
an adapter only converts types.

- :mod:`shared.retrieval.adapters.langchain`: ``AscentRetriever``, a LangChain retriever.
- :mod:`shared.retrieval.adapters.llamaindex`: ``AscentLlamaRetriever``, a LlamaIndex
  retriever, and ``AscentLlamaLLM``, a LlamaIndex LLM over our ``LLMGateway``.

The framework packages are imported only by those submodules, so importing this package
costs nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

from shared.retrieval.types import Hit

T = TypeVar("T")

# Metadata keys the adapters add to every hit's own metadata (they win over chunk metadata).
HIT_KEYS = ("source", "title", "score", "start", "end", "ordinal", "chunk_id")


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """A hit's chunk metadata plus where it came from and how it scored."""
    return {
        **(hit.metadata or {}),
        "source": hit.source,
        "title": hit.title,
        "score": hit.score,
        "start": hit.start,
        "end": hit.end,
        "ordinal": hit.ordinal,
        "chunk_id": hit.id,
    }


def run_sync(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop | None = None) -> T:
    """Run ``coro`` to completion from synchronous code.

    Our store and gateway are asyncio objects (a psycopg pool, an OpenAI client) bound to the
    loop that opened them. ``loop`` is that loop, when the caller knows it:

    - ``loop`` is running in another thread (a service's loop, the sync call made from a
      worker thread): the coroutine is submitted to it and this thread waits for the result.
    - no loop runs in this thread: the coroutine runs on ``loop`` when it is given and idle
      (a script, a sync test), else on a fresh loop (``asyncio.run``).
    - a loop is running in this thread (a sync call from async code): the coroutine runs on a
      private loop in a worker thread while this thread blocks. That stalls the caller's loop
      for the duration and uses the store's pool from a foreign loop, which is safe only
      because nothing else can use it meanwhile; async callers should use the async API
      (``ainvoke``, ``aretrieve``, ``aquery``) instead.
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is not None and loop.is_running() and loop is not running:
        return asyncio.run_coroutine_threadsafe(coro, loop).result()
    if running is None:
        if loop is not None and not loop.is_closed() and not loop.is_running():
            return loop.run_until_complete(coro)
        return asyncio.run(coro)
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ascent-sync") as pool:
        return pool.submit(context.run, asyncio.run, coro).result()


__all__ = ["HIT_KEYS", "hit_metadata", "run_sync"]
