"""Our retriever (and LLM gateway) for LlamaIndex query engines.

    retriever = AscentLlamaRetriever(Retriever(store, tenant="acme"), overrides={"k": 4})
    engine = RetrieverQueryEngine.from_args(retriever, llm=AscentLlamaLLM(gateway=gateway))
    response = await engine.aquery("Which tent is waterproof?")

``AscentLlamaLLM`` puts LlamaIndex's LLM interface over our ``LLMGateway`` (embedded llama.cpp
or any OpenAI-compatible endpoint, with its limits and accounting). It exists because
``llama-index-llms-openai(-like)`` caps ``openai<3`` while the platform uses openai 3.

Offline: LlamaIndex counts tokens with tiktoken unless told otherwise; the encodings it needs
ship inside llama-index-core, but setting ``TIKTOKEN_CACHE_DIR`` elsewhere makes it fetch
them from the internet. Set ``Settings.tokenizer = approx_tokenizer`` (what the tests do) to
keep tiktoken out entirely. Never leave ``Settings.llm``/``Settings.embed_model`` to their
defaults (OpenAI): always pass ``llm=``, and this retriever needs no embedding model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from pydantic import ConfigDict, Field

from shared.models.llm import LLMGateway
from shared.retrieval.adapters import hit_metadata, run_sync
from shared.retrieval.context import estimate_tokens
from shared.retrieval.retriever import Retriever
from shared.retrieval.types import Hit

# Kept on the node for callers, but not shown to the LLM nor embedded.
_HIDDEN_KEYS = ["score", "start", "end", "ordinal", "chunk_id"]


def approx_tokenizer(text: str) -> list[int]:
    """An offline stand-in for tiktoken: as many (dummy) ids as our own context budgeting
    estimates tokens, which errs on the long side. LlamaIndex only counts them."""
    return [0] * estimate_tokens(text)


def hit_to_node(hit: Hit) -> NodeWithScore:
    node = TextNode(
        id_=str(hit.id),
        text=hit.text,
        metadata=hit_metadata(hit),
        start_char_idx=hit.start,
        end_char_idx=hit.end,
        excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
        excluded_embed_metadata_keys=list(_HIDDEN_KEYS),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.source)},
    )
    return NodeWithScore(node=node, score=hit.score)


class AscentLlamaRetriever(BaseRetriever):
    """A LlamaIndex retriever that delegates to our :class:`Retriever`.

    ``aretrieve`` (and so ``aquery``) awaits ``Retriever.retrieve``; ``retrieve`` runs it
    through :func:`~shared.retrieval.adapters.run_sync` (see there for ``loop``).
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        overrides: dict[str, Any] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.retriever = retriever
        self.overrides = dict(overrides or {})
        self.loop = loop

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self.retriever.retrieve(query_bundle.query_str, **self.overrides)
        return [hit_to_node(h) for h in hits]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return run_sync(self._aretrieve(query_bundle), self.loop)


_ROLES = {MessageRole.MODEL: "assistant", MessageRole.CHATBOT: "assistant"}


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [{"role": _ROLES.get(m.role, m.role.value), "content": m.content or ""}
            for m in messages]  # fmt: skip


class AscentLlamaLLM(CustomLLM):
    """LlamaIndex's LLM interface over our :class:`LLMGateway` (a chat model).

    The async methods are native; the sync ones run them through ``run_sync`` (see there for
    ``loop``), and the sync streams yield the whole answer at once.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    gateway: LLMGateway = Field(exclude=True)
    max_tokens: int = 256
    temperature: float | None = None
    context_window: int = 4096
    loop: asyncio.AbstractEventLoop | None = Field(default=None, exclude=True)

    @classmethod
    def class_name(cls) -> str:
        return "ascent_gateway_llm"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=self.gateway.model,
        )

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, **kwargs}

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        result = await self.gateway.chat(_messages(messages), **self._options(kwargs))
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=result.text),
            raw=result,
            additional_kwargs={"prompt_tokens": result.prompt_tokens,
                               "completion_tokens": result.completion_tokens},
        )  # fmt: skip

    @staticmethod
    def _prompt(prompt: str) -> list[ChatMessage]:
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        response = await self._achat(self._prompt(prompt), **kwargs)
        return CompletionResponse(text=response.message.content or "", raw=response.raw)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        async def gen() -> ChatResponseAsyncGen:
            text = ""
            async for delta in self.gateway.stream(_messages(messages), **self._options(kwargs)):
                text += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta
                )

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        async def gen() -> CompletionResponseAsyncGen:
            text = ""
            async for delta in self.gateway.stream(
                _messages(self._prompt(prompt)), **self._options(kwargs)
            ):
                text += delta
                yield CompletionResponse(text=text, delta=delta)

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return run_sync(self._achat(messages, **kwargs), self.loop)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = run_sync(self._achat(self._prompt(prompt), **kwargs), self.loop)
        return CompletionResponse(text=response.message.content or "", raw=response.raw)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        response = self.chat(messages, **kwargs)
        response.delta = response.message.content

        def gen() -> ChatResponseGen:
            yield response

        return gen()

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt, formatted=formatted, **kwargs)
        response.delta = response.text

        def gen() -> CompletionResponseGen:
            yield response

        return gen()


__all__ = ["AscentLlamaLLM", "AscentLlamaRetriever", "approx_tokenizer", "hit_to_node"]
