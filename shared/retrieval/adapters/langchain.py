"""Our retriever as a LangChain retriever, for LCEL chains and agents.

    retriever = AscentRetriever(retriever=Retriever(store, tenant="acme"), overrides={"k": 4})
    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | ...
    await chain.ainvoke("Which tent is waterproof?")

Per-call overrides go through ``invoke``/``ainvoke`` keywords (``retriever.invoke(q, k=2)``)
and win over ``overrides``; both take :class:`RetrievalConfig` fields.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import AfterValidator, ConfigDict, Field

from shared.retrieval.adapters import hit_metadata, run_sync
from shared.retrieval.retriever import Retriever
from shared.retrieval.types import Hit


def _require_retriever(value: Any) -> Retriever:
    if not isinstance(value, Retriever):
        raise TypeError(f"needs a shared.retrieval Retriever, got {type(value).__name__}")
    return value


def hit_to_document(hit: Hit) -> Document:
    return Document(page_content=hit.text, metadata=hit_metadata(hit), id=str(hit.id))


class AscentRetriever(BaseRetriever):
    """A LangChain ``BaseRetriever`` that delegates to our :class:`Retriever`.

    The async path (``ainvoke``, async LCEL chains) awaits ``Retriever.retrieve`` directly.
    The sync path (``invoke``) runs the same coroutine through :func:`run_sync`: pass ``loop``
    (the event loop that opened the store's pool) when sync calls come from other threads
    while that loop runs, so they are handed to it; from plain sync code it runs on ``loop``
    or a fresh one. Calling ``invoke`` from inside a running loop works (a private loop in a
    worker thread) but blocks that loop: use ``ainvoke`` there.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # Checked by isinstance only: pydantic cannot build a schema for the dataclass's fields.
    retriever: Annotated[Any, AfterValidator(_require_retriever)]
    overrides: dict[str, Any] = Field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = Field(default=None, exclude=True)

    def _documents(self, hits: list[Hit]) -> list[Document]:
        return [hit_to_document(h) for h in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        hits = await self.retriever.retrieve(query, **{**self.overrides, **overrides})
        return self._documents(hits)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        coro = self.retriever.retrieve(query, **{**self.overrides, **overrides})
        return self._documents(run_sync(coro, self.loop))


__all__ = ["AscentRetriever", "hit_to_document"]
